"""Which format a point file is, and whether its first and last bytes can be that format.

:func:`detect_format` names the format from the extension (or an override); the
``check_*`` functions refuse, before any parser runs, a file that is missing, empty,
of another kind (by its signature: a zip, an image, a PDF ...), or whose header or
footer no point file has.  The parsers' own messages for such files ("cannot infer
number of columns", "not recognized as being in a supported file format") do not say
what is wrong.
"""

from __future__ import annotations

import codecs
import csv
import os
from pathlib import Path

from geo.errors import InvalidInputError
from geo.signatures import FORMAT_STARTS, PARQUET, SIGNATURES, SQLITE, ZIP, signature_of

DEFAULT_CHUNK_ROWS = 200_000


#: File extension -> format name.
EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".parquet": "parquet",
    ".geoparquet": "parquet",
}


FORMATS: tuple[str, ...] = ("csv", "geojson", "gpkg", "parquet")


#: An output format for the HTTP API only (not a file format users name): the rows as
#: comma-separated JSON records, no geometry (see :mod:`batch.json_records`).
RECORDS = "json-records"


# pyarrow's CSV reader reads ~32 blocks ahead whatever use_threads says (measured:
# 8 MB blocks buffered a whole 150 MB file), so the block size bounds memory. 1 MB keeps
# read-ahead near 35 MB at full speed; a row must fit in a block, and 1 MB is far above
# a spreadsheet's 32,767-character cell limit.
CSV_BLOCK_BYTES = 1 << 20


#: Most columns a point file may have.  Readers allocate per column (pyarrow's CSV
#: reader builds a builder and a type per column, so a 1,000,000-column header took
#: gigabytes); the limit is checked on the header or schema before any row is parsed.
#: Spreadsheet exports stay far below it.
MAX_COLUMNS = 1_000


# A Parquet footer (schema and row-group index) over this size means a schema or a
# row-group count no point file has; it is refused before pyarrow parses it.
_MAX_PARQUET_FOOTER_BYTES = 64 << 20


# GDAL streams a GeoJSON FeatureCollection feature by feature only when it finds the
# "features" member near the start; any other layout it reads whole into memory
# (measured: 2.2 GB for a 2 GB file).  A GeoJSON larger than this must therefore show
# "features" in its first MB.
_GEOJSON_WHOLE_READ_BYTES = 64 << 20


# What to do with a mislabelled file, by its signature (geo.signatures).
_ADVICE = {
    ZIP: "unzip it first",
    b"\x1f\x8b": "decompress it first",
    b"BZh": "decompress it first",
    b"\xfd7zXZ": "decompress it first",
    SQLITE: "a GeoPackage?",
}


def _binary(head: bytes) -> str | None:
    """What binary file ``head`` starts, with advice: "a zip archive (unzip it first)"."""
    magic = signature_of(head)
    if magic is None:
        return None
    advice = _ADVICE.get(magic)
    return SIGNATURES[magic] + (f" ({advice})" if advice else "")


def detect_format(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """Return the format name of a file from its extension (or check ``fmt``).

    Parameters
    ----------
    path : path-like
    fmt : str, optional
        A format name (``csv``, ``geojson``, ``gpkg``, ``parquet``) or extension that
        overrides the file's extension, e.g. for uploads spooled to nameless files.

    Raises
    ------
    InvalidInputError
        Unknown extension or format, naming it and listing the allowed ones.

    Examples
    --------
    >>> detect_format("points.GeoJSON")
    'geojson'
    >>> detect_format("upload.tmp", "parquet")
    'parquet'
    """
    if fmt == RECORDS:
        return RECORDS
    if fmt is not None:
        name = fmt.lower().lstrip(".")
        if name in FORMATS:
            return name
        if f".{name}" in EXTENSIONS:
            return EXTENSIONS[f".{name}"]
        raise InvalidInputError(
            f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}", value=fmt, allowed=list(FORMATS)
        )
    suffix = Path(path).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    allowed = ", ".join(EXTENSIONS)
    raise InvalidInputError(
        f"{Path(path).name}: unknown file extension {suffix or '(none)'!r}; allowed: {allowed}",
        value=suffix,
        allowed=list(EXTENSIONS),
    )


def check_readable(path: Path) -> None:
    if not path.exists():
        raise InvalidInputError(f"input file {str(path)!r} does not exist", path=str(path))
    if not path.is_file():
        raise InvalidInputError(f"input {str(path)!r} is not a file", path=str(path))
    if path.stat().st_size == 0:
        raise InvalidInputError(f"input file {path.name!r} is empty (0 bytes)", path=str(path))


def check_content(path: Path, fmt: str, encoding: str) -> None:
    """Refuse a file whose first or last bytes show it cannot be ``fmt``, before a parser runs.

    The parsers' own messages for such files ("cannot infer number of columns", "not
    recognized as being in a supported file format") do not say what is wrong.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(CSV_BLOCK_BYTES if fmt in ("csv", "geojson") else 64)
        handle.seek(max(size - 8, 0))
        tail = handle.read(8)
    binary = _binary(head)
    starts = f"it starts with {binary or _shown(head)}"
    problem = None
    if fmt == "csv":
        problem = f"this is {binary}, not CSV text" if binary else _csv_header_problem(head, encoding)
    elif fmt == "parquet":
        problem = _parquet_problem(head, tail, size, starts)
    elif fmt == "gpkg" and not head.startswith(FORMAT_STARTS["GeoPackage"]):
        problem = f"not a GeoPackage: {starts}, not the SQLite header a GeoPackage has"
    elif fmt == "geojson" and head.lstrip(b"\xef\xbb\xbf \t\r\n\x1e")[:1] not in (b"{", b""):
        problem = f"not GeoJSON: {starts}, not '{{'"
    elif fmt == "geojson" and size > _GEOJSON_WHOLE_READ_BYTES and b'"features"' not in head:
        problem = (
            f"a GeoJSON file of {size:,} bytes must be a FeatureCollection with its 'features' in the "
            f"first MB (other layouts are read whole into memory); use CSV or GeoParquet for big files"
        )
    if problem is not None:
        raise InvalidInputError(f"{path.name}: cannot read it as {fmt}: {problem}", path=str(path))


def _shown(head: bytes) -> str:
    return f"the bytes {head[:8].hex(' ')}"


def _csv_header_problem(head: bytes, encoding: str) -> str | None:
    end = head.find(b"\n")
    line = head if end < 0 else head[:end]
    nul = line.find(b"\x00")
    if codecs.lookup(encoding).name == "utf-8" and nul >= 0:
        return (
            f"not UTF-8 CSV text: NUL byte at offset {nul:,} of the header "
            "(UTF-16 text? then give encoding='utf-16', --encoding utf-16)"
        )
    columns = len(next(csv.reader([line.decode(encoding, errors="replace")]), []))
    if columns > MAX_COLUMNS:
        counted = f"{columns:,} columns" if end >= 0 else f"more than {columns:,} columns (in its first MB)"
        return f"the header has {counted}; at most {MAX_COLUMNS:,} are allowed"
    if end < 0 and len(head) == CSV_BLOCK_BYTES:
        return (
            f"the header line is longer than {CSV_BLOCK_BYTES >> 20} MB "
            f"(no line break in the first {CSV_BLOCK_BYTES:,} bytes)"
        )
    return None


def _parquet_problem(head: bytes, tail: bytes, size: int, starts: str) -> str | None:
    if not head.startswith(FORMAT_STARTS["GeoParquet"]):
        return f"not a Parquet file: {starts}, not 'PAR1'"
    if len(tail) < 8 or tail[4:] != PARQUET:
        return "the file is cut short: it does not end with its footer and 'PAR1' (interrupted download?)"
    footer = int.from_bytes(tail[:4], "little")
    if footer > size - 12:
        return f"the footer claims {footer:,} bytes in a {size:,}-byte file; the file is corrupt"
    if footer > _MAX_PARQUET_FOOTER_BYTES:
        return (
            f"the metadata is {footer:,} bytes (over {_MAX_PARQUET_FOOTER_BYTES:,}): far more columns or "
            f"row groups than a point file has (at most {MAX_COLUMNS:,} columns)"
        )
    return None


def check_column_count(path: Path, count: int) -> None:
    if count > MAX_COLUMNS:
        raise InvalidInputError(
            f"{path.name}: {count:,} columns; at most {MAX_COLUMNS:,} are allowed",
            path=str(path),
            columns=count,
            limit=MAX_COLUMNS,
        )
