"""Library errors about a file turned into :class:`~geo.errors.InvalidInputError`
naming the file, and what went wrong said in words a user can act on.

Errors are recognised by type where the library gives one (``UnicodeDecodeError``,
``OSError``, pyarrow's ``ArrowException``, pyogrio's error classes); pyarrow reports
decoding errors, rows longer than a block, bad Parquet magic bytes and deep JSON
nesting all as ``ArrowInvalid``, so those few are told apart by its message.
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from batch import formats
from geo.errors import InvalidInputError


def io_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean "this file cannot be read/written as asked", never a bug of ours.

    A function: pyogrio (GDAL) is imported only where a GDAL format is read or written,
    or an error is being sorted (importing it costs a CSV or Parquet run 0.4 s: it
    imports geopandas and pandas).
    """
    import pyogrio.errors

    return (
        OSError,
        UnicodeDecodeError,
        pa.ArrowException,
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
        pyogrio.errors.CRSError,
        pyogrio.errors.FeatureError,
    )


@contextlib.contextmanager
def errors_as_invalid_input(path: Path, doing: str, encoding: str | None = None) -> Iterator[None]:
    """Re-raise library errors about a file as InvalidInputError naming the file.

    With ``encoding`` (text formats), a decoding error names the first bad byte, its
    offset and line, found by decoding the file again.
    """
    try:
        yield
    except InvalidInputError:
        raise
    except io_errors() as exc:
        where = _undecodable(path, encoding) if encoding is not None and _is_decoding_error(exc) else None
        if where is not None:
            raise InvalidInputError(f"{path.name}: cannot {doing}: {where}", path=str(path)) from exc
        raise InvalidInputError(f"{path.name}: cannot {doing}: {explain(exc)}", path=str(path)) from exc


def _is_decoding_error(exc: BaseException) -> bool:
    if isinstance(exc, UnicodeDecodeError):
        return True
    # pyarrow and GDAL report text that does not decode as their generic errors.
    text = str(exc)
    return _is_library_error(exc) and ("UTF8" in text or "UTF-8" in text or "decode" in text)


def _is_library_error(exc: BaseException) -> bool:
    """pyarrow's or GDAL's own error (whose kinds only their messages tell apart)."""
    return isinstance(exc, pa.ArrowException) or type(exc).__module__.startswith("pyogrio")


def _undecodable(path: Path, encoding: str, piece_bytes: int = 1 << 20) -> str | None:
    """Where ``path`` stops being ``encoding`` text: byte, offset, line, and a likely fix.

    Decodes in pieces (memory stays at one piece); None when the whole file decodes.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = lines = 0
    with path.open("rb") as handle:
        while piece := handle.read(piece_bytes):
            try:
                decoder.decode(piece)
            except UnicodeDecodeError as exc:
                # exc.start counts from the start of this piece plus what the decoder held back.
                held = len(decoder.getstate()[0]) if hasattr(decoder, "getstate") else 0
                start = max(exc.start - held, 0)
                bad_at = offset + start
                line = lines + piece[:start].count(b"\n") + 1
                bad = piece[start : start + 4]
                return (
                    f"byte 0x{bad[:1].hex()} at offset {bad_at:,} (line {line:,}) is not valid "
                    f"{_codec_label(encoding)} text{_guess_encoding(piece, start)}; re-save the file "
                    "as UTF-8 or give its encoding (encoding=/--encoding: gb18030 for GBK, latin1, ...)"
                )
            offset += len(piece)
            lines += piece.count(b"\n")
    return None


def _codec_label(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return "UTF-8" if name == "utf-8" else name


def _guess_encoding(piece: bytes, start: int) -> str:
    """A hint like ``" (the line reads as GBK/GB18030: ...)"`` when the bad line is Chinese in GBK."""
    line_start = piece.rfind(b"\n", 0, start) + 1
    line_end = piece.find(b"\n", start)
    line = piece[line_start : line_end if line_end >= 0 else start + 200]
    try:
        text = line.decode("gb18030")
    except UnicodeDecodeError:
        return ""
    if any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return f" (the line reads as GBK/GB18030: {text[:60]!r})"
    return ""


def explain(exc: BaseException) -> str:
    """What went wrong with a file, in words a user can act on (one line)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, UnicodeDecodeError) or (
        _is_library_error(exc) and ("UTF8" in text or "UTF-8" in text)
    ):
        return (
            f"the text is not valid UTF-8 ({text}); re-save the file as UTF-8 "
            "(spreadsheets in China often save GBK; read those with encoding='gb18030')"
        )
    if not _is_library_error(exc):
        return text
    # pyarrow's ArrowInvalid and GDAL's errors: the kind is in the message.
    if "straddling object" in text:
        return f"a row is longer than {formats.CSV_BLOCK_BYTES >> 20} MB, or a quote is never closed ({text})"
    if "magic bytes" in text:
        return f"not a Parquet file ({text})"
    if "nested" in text.lower():
        return f"the JSON nesting is too deep ({text})"
    # GDAL appends advice about driver prefixes that means nothing to our users.
    return text.split("; It might help", 1)[0]
