"""Hostile files and bodies: each function writes one into a folder and returns its path.

Used by ``tests/boundaries/test_hostile_imports.py``, ``tests/batch/test_hostile_files.py``
and ``tests/api/test_hostile_uploads.py``.  Everything is made cheaply and
deterministically: the "2 GB" files are sparse (no disk blocks), the zip bomb is
deflated zeros written in 1 MiB pieces, the million-column CSV is streamed (about
7 MB), so the whole set takes a few seconds and little disk.

Boundary files carry a small valid set (one city, two districts, near Tai'an) with
the default field names ``code``, ``name``, ``level``, ``parent_code`` and exactly one
thing wrong.  Point files carry ``id, name, lon, lat`` rows.
"""

from __future__ import annotations

import copy
import json
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from shapely import box

GIB = 1 << 30
CITY = box(117.0, 36.0, 117.2, 36.1)
WEST = box(117.0, 36.0, 117.1, 36.1)
EAST = box(117.1, 36.0, 117.2, 36.1)
# A bowtie: its two triangles cross at (117.15, 36.05).
BOWTIE = shapely.Polygon([(117.1, 36.0), (117.2, 36.1), (117.2, 36.0), (117.1, 36.1), (117.1, 36.0)])


# --- boundary files --------------------------------------------------------------------------


def boundary_features() -> list[dict[str, Any]]:
    """A valid three-unit set as GeoJSON features (deep copies may be edited freely)."""
    units = [
        ("370900", "泰安市", "city", None, CITY),
        ("370902", "泰山区", "district", "370900", WEST),
        ("370911", "岱岳区", "district", "370900", EAST),
    ]
    features = [
        {
            "type": "Feature",
            "properties": {"code": code, "name": name, "level": level, "parent_code": parent},
            "geometry": shapely.geometry.mapping(geometry),
        }
        for code, name, level, parent, geometry in units
    ]
    result: list[dict[str, Any]] = json.loads(json.dumps(features))  # tuples -> lists, editable
    return result


def boundary_frame(crs: int | None = 4326) -> gpd.GeoDataFrame:
    """The same valid set as a GeoDataFrame."""
    return gpd.GeoDataFrame.from_features(boundary_features(), crs=crs)


def write_geojson(path: Path, features: list[dict[str, Any]], **members: Any) -> Path:
    """Write a FeatureCollection as given (no validation, extra top-level ``members``)."""
    collection = {"type": "FeatureCollection", **members, "features": features}
    path.write_text(json.dumps(collection, ensure_ascii=False, allow_nan=True), encoding="utf-8")
    return path


def _with_geometry(index: int, geometry: dict[str, Any] | None) -> list[dict[str, Any]]:
    features = copy.deepcopy(boundary_features())
    features[index]["geometry"] = geometry
    return features


def bowtie_polygon(folder: Path) -> Path:
    """District 370911 is a self-intersecting bowtie."""
    return write_geojson(folder / "bowtie.geojson", _with_geometry(2, shapely.geometry.mapping(BOWTIE)))


def empty_polygon(folder: Path) -> Path:
    """District 370911 is ``POLYGON EMPTY`` (GeoJSON ``"coordinates": []``)."""
    return write_geojson(
        folder / "empty_polygon.geojson", _with_geometry(2, {"type": "Polygon", "coordinates": []})
    )


def mixed_geometry_types(folder: Path) -> Path:
    """Points, lines and polygons in one layer."""
    features = copy.deepcopy(boundary_features())
    features[1]["geometry"] = {"type": "Point", "coordinates": [117.05, 36.05]}
    features[2]["geometry"] = {"type": "LineString", "coordinates": [[117.1, 36.0], [117.2, 36.1]]}
    return write_geojson(folder / "mixed_types.geojson", features)


def xyz_coordinates(folder: Path) -> Path:
    """Every vertex has a height (Z = 150 m)."""
    frame = boundary_frame()
    frame = frame.set_geometry(shapely.force_3d(frame.geometry.values, 150.0))
    path = folder / "xyz.gpkg"
    frame.to_file(path, driver="GPKG")
    return path


def unknown_epsg_geojson(folder: Path) -> Path:
    """A GeoJSON whose (old-style) ``crs`` member names EPSG:99999, which does not exist."""
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::99999"}}
    return write_geojson(folder / "epsg99999.geojson", boundary_features(), crs=crs)


def _shapefile(folder: Path, stem: str, encoding: str | None = None) -> Path:
    import pyogrio

    path = folder / f"{stem}.shp"
    frame = boundary_frame().rename(columns={"parent_code": "parent"})  # DBF names stop at 10 characters
    pyogrio.write_dataframe(frame, path, encoding=encoding)
    return path


def nonsense_prj_shapefile(folder: Path) -> Path:
    """A shapefile whose ``.prj`` is not a CRS at all."""
    path = _shapefile(folder, "nonsense_prj")
    path.with_suffix(".prj").write_text("this is not a coordinate reference system")
    return path


def missing_crs_shapefile(folder: Path) -> Path:
    """A shapefile without a ``.prj``."""
    path = _shapefile(folder, "no_prj")
    path.with_suffix(".prj").unlink()
    return path


def gbk_shapefile(folder: Path) -> Path:
    """A shapefile whose ``.dbf`` holds GBK names and no ``.cpg`` says so (common in China)."""
    path = _shapefile(folder, "gbk_names", encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def nan_vertex_parquet(folder: Path, value: float = float("nan")) -> Path:
    """A GeoParquet whose district 370911 has one NaN (or infinite) vertex."""
    frame = boundary_frame()
    bad = shapely.Polygon([(117.1, 36.0), (117.2, 36.0), (value, 36.1), (117.1, 36.1)])
    geoms = frame.geometry.values.copy()
    geoms[2] = bad
    frame = frame.set_geometry(geoms)
    suffix = "nan" if value != value else "inf"
    path = folder / f"{suffix}_vertex.parquet"
    frame.to_parquet(path)
    return path


def nan_vertex_geojson(folder: Path) -> Path:
    """A GeoJSON with a bare ``NaN`` token as a coordinate (not JSON, but Python writes it)."""
    features = copy.deepcopy(boundary_features())
    features[2]["geometry"]["coordinates"][0][1] = [float("nan"), 36.0]
    return write_geojson(folder / "nan_vertex.geojson", features)


def swapped_axes(folder: Path) -> Path:
    """Latitude first: every vertex is (36.x, 117.x)."""
    frame = boundary_frame()
    frame = frame.set_geometry(shapely.transform(frame.geometry.values, lambda xy: xy[:, ::-1]))
    path = folder / "swapped.parquet"
    frame.to_parquet(path)
    return path


def duplicated_codes(folder: Path) -> Path:
    """Both districts carry code 370902."""
    features = copy.deepcopy(boundary_features())
    features[2]["properties"]["code"] = "370902"
    return write_geojson(folder / "duplicated_codes.geojson", features)


def missing_code(folder: Path) -> Path:
    """District 2 has a null code."""
    features = copy.deepcopy(boundary_features())
    features[2]["properties"]["code"] = None
    return write_geojson(folder / "missing_code.geojson", features)


def overlong_code(folder: Path) -> Path:
    """District 2's code has 64 characters (the store keeps at most 32)."""
    features = copy.deepcopy(boundary_features())
    features[2]["properties"]["code"] = "3709" * 16
    return write_geojson(folder / "overlong_code.geojson", features)


def overlong_name(folder: Path) -> Path:
    """District 2's name has 1,000 characters (the store keeps at most 200)."""
    features = copy.deepcopy(boundary_features())
    features[2]["properties"]["name"] = "岱" * 1000
    return write_geojson(folder / "overlong_name.geojson", features)


def non_utf8_geojson(folder: Path) -> Path:
    """A GeoJSON whose names are GBK bytes (invalid UTF-8; RFC 8259 requires UTF-8)."""
    text = json.dumps({"type": "FeatureCollection", "features": boundary_features()}, ensure_ascii=False)
    path = folder / "gbk.geojson"
    path.write_bytes(text.encode("gbk"))
    return path


def deep_geojson(folder: Path, depth: int = 10_000, name: str = "deep.geojson") -> Path:
    """A feature whose ``coordinates`` are ``depth`` nested arrays."""
    feature = '{"type": "Feature", "properties": {"code": "1", "name": "x", "level": "city"}, '
    nested = "[" * depth + "117.0, 36.0" + "]" * depth
    text = (
        '{"type": "FeatureCollection", "features": ['
        + feature
        + '"geometry": {"type": "Polygon", "coordinates": '
        + nested
        + "}}]}"
    )
    path = folder / name
    path.write_text(text)
    return path


def deep_properties_geojson(folder: Path, depth: int = 10_000, name: str = "deep_props.geojson") -> Path:
    """A valid feature whose properties hold an object nested ``depth`` deep."""
    features = copy.deepcopy(boundary_features())
    text = json.dumps({"type": "FeatureCollection", "features": features})
    nested = '{"a": ' * depth + "1" + "}" * depth
    text = text.replace('"parent_code": null', f'"parent_code": null, "deep": {nested}', 1)
    path = folder / name
    path.write_text(text)
    return path


def zip_bomb(
    folder: Path, inflated_bytes: int, name: str = "bomb.zip", member: str = "units.geojson"
) -> Path:
    """A zip whose one member inflates to ``inflated_bytes`` (a multiple of 1 MiB) of zeros.

    Written without compressing gigabytes: deflating 1 MiB of zeros after a full flush
    gives the same ~1 KB every time, so the member is that block repeated (about 1/1000
    of the inflated size on disk) and only the CRC is computed over the zeros.
    """
    piece = bytes(1 << 20)
    pieces = inflated_bytes >> 20
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate, as zip stores it
    block = compressor.compress(piece) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(pieces):
        crc = zlib.crc32(piece, crc)
    size, packed = pieces << 20, len(block) * pieces + len(tail)
    if size >= 1 << 32:
        raise ValueError("zip_bomb makes plain (not zip64) archives: keep it under 4 GiB")
    encoded = member.encode()
    # version 2.0, no flags, deflate, 1980-01-01 00:00, crc, sizes, name length, no extra field
    fields = struct.pack("<HHHHHIIIHH", 20, 0, 8, 0, 0x21, crc, packed, size, len(encoded), 0)
    path = folder / name
    with path.open("wb") as handle:
        handle.write(b"PK\x03\x04" + fields + encoded)
        for _ in range(pieces):
            handle.write(block)
        handle.write(tail)
        directory_at = handle.tell()
        central = (
            b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack("<HHHII", 0, 0, 0, 0, 0) + encoded
        )
        handle.write(central)
        handle.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), directory_at, 0))
    return path


def sparse_file(folder: Path, name: str, size: int = 2 * GIB, head: bytes = b"") -> Path:
    """A file of ``size`` bytes that uses no disk blocks beyond ``head`` (zeros after it)."""
    path = folder / name
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


def truncated_parquet(
    folder: Path, name: str = "truncated.parquet", frame: gpd.GeoDataFrame | None = None
) -> Path:
    """A GeoParquet cut in half (footer and end magic lost)."""
    path = folder / name
    (boundary_frame() if frame is None else frame).to_parquet(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def wrong_magic(folder: Path, name: str) -> Path:
    """A file whose bytes are a PNG header, whatever its extension says."""
    path = folder / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    return path


def empty_file(folder: Path, name: str) -> Path:
    """Zero bytes."""
    path = folder / name
    path.write_bytes(b"")
    return path


# --- point files ---------------------------------------------------------------------------


# Inside the canonical toy set of tests/common.py (communities 370902001001 and 370911001001).
POINT_ROWS = [("1", "泰山", "117.08", "36.17"), ("2", "岱岳", "117.15", "36.17")]


def points_csv(folder: Path, name: str = "points.csv", rows: list[tuple[str, ...]] | None = None) -> Path:
    """A small valid UTF-8 CSV of points."""
    path = folder / name
    lines = ["id,name,lon,lat", *(",".join(row) for row in rows or POINT_ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def million_columns_csv(folder: Path, columns: int = 1_000_000) -> Path:
    """A CSV whose header has ``columns`` names (``lon``, ``lat``, then ``c2`` ...), one data row.

    Streamed out in pieces, so making it never holds the whole line (about 7 MB).
    """
    path = folder / "wide.csv"

    def names() -> Iterator[str]:
        yield "lon,lat"
        for start in range(2, columns, 100_000):
            yield "," + ",".join(f"c{i}" for i in range(start, min(start + 100_000, columns)))

    with path.open("w", encoding="ascii") as handle:
        for piece in names():
            handle.write(piece)
        handle.write("\n117.08,36.17" + "," * (columns - 2) + "\n")
    return path


def gbk_csv(folder: Path) -> Path:
    """A CSV saved as GBK (what Excel in China writes): names are invalid UTF-8."""
    path = folder / "gbk.csv"
    path.write_bytes("id,name,lon,lat\n1,泰山区,117.08,36.17\n2,岱岳区,117.15,36.17\n".encode("gbk"))
    return path


def latin1_csv(folder: Path) -> Path:
    """A CSV saved as Latin-1 whose coordinates use a Latin-1 minus-like byte (0xAD)."""
    path = folder / "latin1.csv"
    path.write_bytes(b"id,name,lon,lat\n1,caf\xe9,117.08,36.17\n2,na\xefve,\xad117.15,36.17\n")
    return path


def nan_coordinates_csv(folder: Path) -> Path:
    """Good rows mixed with NaN, inf and overflowing coordinates."""
    rows = [
        ("1", "good", "117.08", "36.17"),
        ("2", "nan", "nan", "36.17"),
        ("3", "inf", "117.08", "inf"),
        ("4", "minus inf", "-inf", "36.17"),
        ("5", "overflow", "1e400", "36.17"),
        ("6", "good", "117.15", "36.17"),
    ]
    return points_csv(folder, "nan.csv", rows)


def swapped_csv(folder: Path) -> Path:
    """Every row gives latitude first."""
    return points_csv(folder, "swapped.csv", [(i, n, lat, lon) for i, n, lon, lat in POINT_ROWS])


def header_only_csv(folder: Path) -> Path:
    """Column names and no rows."""
    path = folder / "header_only.csv"
    path.write_text("id,name,lon,lat\n")
    return path


def deep_points_geojson(folder: Path, depth: int = 10_000) -> Path:
    """A point layer whose one feature's coordinates are nested ``depth`` deep."""
    nested = "[" * depth + "117.08, 36.17" + "]" * depth
    text = (
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": 1}, '
        '"geometry": {"type": "Point", "coordinates": ' + nested + "}}]}"
    )
    path = folder / "deep_points.geojson"
    path.write_text(text)
    return path


def point_layer(folder: Path, name: str, points: list[shapely.Geometry]) -> Path:
    """A point layer (GeoJSON, GeoPackage or GeoParquet by extension), ids 1..n, EPSG:4326."""
    frame = gpd.GeoDataFrame({"id": list(range(1, len(points) + 1))}, geometry=points, crs=4326)
    path = folder / name
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_file(path)
    return path


def xyz_points(folder: Path) -> Path:
    """Points with a height: usable, Z ignored."""
    return point_layer(
        folder, "xyz.gpkg", [shapely.Point(117.08, 36.17, 150.0), shapely.Point(117.15, 36.17, 90.0)]
    )


def nan_points_parquet(folder: Path) -> Path:
    """A GeoParquet of points, one good, one NaN, one infinite, one empty."""
    points = [
        shapely.Point(117.08, 36.17),
        shapely.Point(float("nan"), 36.17),
        shapely.Point(117.08, float("inf")),
        shapely.Point(),
    ]
    return point_layer(folder, "nan_points.parquet", points)


def deep_json_body(depth: int = 10_000) -> bytes:
    """A JSON bulk-lookup body whose first point is nested ``depth`` arrays deep."""
    return b'{"points": ' + b"[" * depth + b"]" * depth + b"}"


def zip_body(inflated_bytes: int = 16 << 20) -> bytes:
    """A zip (of a CSV of zeros) as request body bytes."""
    import io

    buffer = io.BytesIO()
    piece = bytes(1 << 20)
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("points.csv", "w") as handle,
    ):
        for _ in range(inflated_bytes >> 20):
            handle.write(piece)
    return buffer.getvalue()


def gzip_csv_body(inflated_bytes: int = 16 << 20) -> bytes:
    """A gzip bomb: ``lon,lat`` and then zeros, gzip-compressed (sent with Content-Encoding: gzip)."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: gzip container
    parts = [compressor.compress(b"lon,lat\n")]
    piece = bytes(1 << 20)
    parts.extend(compressor.compress(piece) for _ in range(inflated_bytes >> 20))
    parts.append(compressor.flush())
    return b"".join(parts)


def endless_body(total: int = 2 * GIB, piece: int = 1 << 20) -> Iterator[bytes]:
    """A ``total``-byte CSV body made on the fly, never held in memory (a header, then digits)."""
    yield b"lon,lat\n"
    sent = 8
    block = (b"117.13,36.19\n" * (piece // 13 + 1))[:piece]
    while sent < total:
        yield block
        sent += len(block)


def no_features(folder: Path) -> Path:
    """A FeatureCollection without features (a boundary 'header only')."""
    return write_geojson(folder / "no_features.geojson", [])


# --- measuring -----------------------------------------------------------------------------

_MEASURED_CHILD = r"""
import json, re, resource, sys
from typer.testing import CliRunner
from siji.cli import app

def peak_mb():
    try:
        with open("/proc/self/status") as status:
            return int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1)) / 1024
    except (OSError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # resets VmHWM (Linux >= 4.0)
    except OSError:
        pass  # then each figure is the peak so far: an upper bound

runner = CliRunner()
results = {}
for name, args in json.loads(sys.argv[1]).items():
    reset_peak()
    result = runner.invoke(app, args)
    crash = result.exception if not isinstance(result.exception, SystemExit) else None
    results[name] = {
        "exit_code": result.exit_code,
        "output": result.output,
        "crash": None if crash is None else repr(crash),
        "peak_mb": round(peak_mb(), 1),
    }
sys.stdout.write(json.dumps(results))
"""


def run_cli_measured(
    cases: dict[str, list[str]], env: dict[str, str], cwd: Path, timeout: float = 300
) -> dict[str, dict[str, Any]]:
    """Run ``siji`` commands one after another in a fresh Python process.

    Returns, per case, ``exit_code``, ``output``, ``crash`` (an exception that is not a
    clean exit) and ``peak_mb``: the process's peak resident memory during that case
    (the peak is reset between cases through ``/proc/self/clear_refs``; where that is
    not allowed, the figure is the peak so far, an upper bound).
    """
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    completed = subprocess.run(
        [sys.executable, "-c", _MEASURED_CHILD, json.dumps(cases)],
        env={**os.environ, "PYTHONPATH": str(root), "COLUMNS": "200", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise AssertionError(f"measuring process failed:\n{completed.stderr[-3000:]}")
    results: dict[str, dict[str, Any]] = json.loads(completed.stdout)
    return results
