"""Batch point lookup over files: CSV, GeoJSON, GeoPackage and GeoParquet, streamed in chunks.

:func:`lookup_file` is the driver behind ``siji lookup-batch``; the HTTP bulk
endpoint reuses its building blocks on spooled uploads: :class:`PointReader` /
:func:`iter_chunks` (read), :func:`lookup_chunk` (look up one chunk),
:func:`output_geometry` and :class:`ResultWriter` (write).
"""

from batch.io import (
    DEFAULT_CHUNK_ROWS,
    EXTENSIONS,
    FORMATS,
    PointChunk,
    PointReader,
    ResultWriter,
    SourceInfo,
    detect_format,
    iter_chunks,
)
from batch.points import Coordinates
from batch.run import (
    ADDED_COLUMNS,
    BatchSummary,
    default_crs,
    lookup_chunk,
    lookup_file,
    output_crs,
    output_geometry,
    replaced_columns,
)

__all__ = [
    "ADDED_COLUMNS",
    "DEFAULT_CHUNK_ROWS",
    "EXTENSIONS",
    "FORMATS",
    "BatchSummary",
    "Coordinates",
    "PointChunk",
    "PointReader",
    "ResultWriter",
    "SourceInfo",
    "default_crs",
    "detect_format",
    "iter_chunks",
    "lookup_chunk",
    "lookup_file",
    "output_crs",
    "output_geometry",
    "replaced_columns",
]
