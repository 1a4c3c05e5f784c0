"""Batch point lookup over files: CSV, GeoJSON, GeoPackage and GeoParquet, streamed in chunks.

:func:`lookup_file` is the driver behind ``siji lookup-batch``; the HTTP bulk
endpoint reuses it on spooled uploads.  The modules, as geopandas splits ``io/``:

* ``formats``: which format a file is, and whether its bytes can be that format;
* ``readers``: :class:`PointReader` / :func:`iter_chunks`, chunks of points;
* ``points``: coordinates from columns or geometries, with each row's problem;
* ``run``: :func:`lookup_chunk` (look up one chunk) and :func:`lookup_file`;
* ``writers``: :class:`ResultWriter` and a sink per format; ``sink``: the threaded
  sink they write through; ``json_records``: rows as JSON for the HTTP answer;
* ``errors``: library errors about a file, said in words a user can act on;
* ``distributed``: the same run on a Dask cluster.
"""

from batch.formats import DEFAULT_CHUNK_ROWS, EXTENSIONS, FORMATS, detect_format
from batch.points import Coordinates
from batch.readers import PointChunk, PointReader, SourceInfo, iter_chunks
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
from batch.writers import ResultWriter

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
