"""Bulk lookup bodies: spool an upload to a temporary file, pick the output format.

Uploads are never held in memory whole: the body streams to a file next to the
output (the size cap is enforced while it streams, see :mod:`api.limits`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile

from api.errors import NotAcceptableError, UnsupportedMediaError

OUTPUT_FORMATS = ("json", "csv", "geojson", "parquet")
MEDIA_OF_FORMAT = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
    "parquet": "application/vnd.apache.parquet",
}
FORMAT_OF_MEDIA = {
    "application/json": "json",
    "text/csv": "csv",
    "application/csv": "csv",
    "application/geo+json": "geojson",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/geopackage+sqlite3": "gpkg",
}
UPLOAD_FORMATS = ("csv", "geojson", "gpkg", "parquet")
_SUFFIX = {"csv": ".csv", "geojson": ".geojson", "gpkg": ".gpkg", "parquet": ".parquet", "json": ".json"}


def output_format(requested: str | None, accept: str | None) -> str:
    """``format=`` wins; else the first known type in ``Accept``; else JSON."""
    if requested is not None:
        name = requested.lower()
        if name not in OUTPUT_FORMATS:
            raise NotAcceptableError(
                f"format={requested!r} is not available; allowed: {', '.join(OUTPUT_FORMATS)}",
                field="format",
                value=requested,
                allowed=list(OUTPUT_FORMATS),
            )
        return name
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("", "*/*", "application/*"):
            return "json"
        fmt = FORMAT_OF_MEDIA.get(media)
        if fmt in OUTPUT_FORMATS:
            return fmt
    if accept:
        raise NotAcceptableError(
            f"cannot answer in any of Accept: {accept!r}; allowed: "
            + ", ".join(MEDIA_OF_FORMAT[f].split(";")[0] for f in OUTPUT_FORMATS),
            field="accept",
            value=accept,
        )
    return "json"


def media_type(request: Request) -> str:
    """The body's media type, lower case, without parameters."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def charset(content_type: str | None) -> str:
    """The ``charset`` parameter of a Content-Type header, or ``utf-8``.

    Examples
    --------
    >>> charset("text/csv; charset=GBK"), charset("text/csv"), charset(None)
    ('gbk', 'utf-8', 'utf-8')
    """
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"'):
            return value.strip().strip('"').lower()
    return "utf-8"


def upload_format(media: str, filename: str | None, declared: str | None) -> str:
    """Format of an uploaded file: ``input_format=``, else its file name, else its media type."""
    candidates = [declared.lower().lstrip(".")] if declared else []
    if filename and "." in filename:
        candidates.append(filename.rsplit(".", 1)[1].lower())
    candidates.append(FORMAT_OF_MEDIA.get(media, ""))
    for name in candidates:
        name = {"json": "geojson", "geoparquet": "parquet"}.get(name, name)
        if name in UPLOAD_FORMATS:
            return name
    raise UnsupportedMediaError(
        f"cannot tell the format of the upload (media type {media!r}, file name {filename!r}); "
        f"send CSV, GeoJSON, GeoPackage or GeoParquet, or name it with input_format=",
        media_type=media,
        allowed=list(UPLOAD_FORMATS),
    )


def spool_path(directory: str, fmt: str, stem: str = "input") -> Path:
    """A path in ``directory`` with the right suffix for ``fmt``."""
    return Path(directory) / f"{stem}{_SUFFIX[fmt]}"


async def save_stream(chunks: AsyncIterator[bytes], path: Path) -> int:
    """Write a byte stream to ``path``; return its size."""
    size = 0
    with path.open("wb") as handle:
        async for chunk in chunks:
            handle.write(chunk)
            size += len(chunk)
    return size


async def save_upload(upload: UploadFile, path: Path) -> int:
    """Copy a multipart file part to ``path`` in 1 MiB pieces."""
    size = 0
    with path.open("wb") as handle:
        while piece := await upload.read(1 << 20):
            handle.write(piece)
            size += len(piece)
    return size


class ResultFileResponse(FileResponse):
    """A bulk lookup's output file, sent in 1 MiB pieces.

    Every piece is read in a worker thread; Starlette's 64 KiB default made a
    million-row GeoParquet answer (27 MiB) 430 thread hops, a tenth of the request.
    """

    chunk_size = 1 << 20


def temp_dir() -> str:
    """A private temporary directory for one request."""
    return tempfile.mkdtemp(prefix="siji-upload-", dir=os.environ.get("SIJI_TMPDIR"))
