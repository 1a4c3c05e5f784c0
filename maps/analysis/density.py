"""Where reports are: filters, counts and densities per unit, and H3 hexagon bins.

Every function takes GeoDataFrames and returns a GeoDataFrame in EPSG:4326, ready for a
notebook, a map or an export.  Reports are the frame of
:func:`routing.service.reports_geoframe` (or :func:`maps.demo.demo_reports`).

Distances and areas are computed in :data:`METRIC_CRS`, EPSG:4548 (CGCS2000 /
3-degree Gauss-Kruger CM 117E): China's national datum (within a metre of WGS84) and the
3-degree zone whose central meridian runs through Tai'an, so the whole city (116.0-118.0 E)
lies within 1 degree of it and the scale error is below 0.01 % (areas below 0.02 %) —
finer than UTM 50N (EPSG:32650, whose 0.9996 scale factor alone is 0.04 %).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import CRSMismatchError, InvalidInputError
from geo.levels import get_level

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["CHINA_TZ", "METRIC_CRS", "density_by_unit", "filter_reports", "hex_bins"]

METRIC_CRS = "EPSG:4548"
"""The projected CRS of all distances and areas (metres): CGCS2000 / 3-degree GK CM 117E."""
CHINA_TZ = ZoneInfo("Asia/Shanghai")
"""China Standard Time (UTC+8): a plain date in a filter means midnight here."""
H3_RESOLUTIONS = range(16)


# --------------------------------------------------------------------------- filters
def filter_reports(
    reports: gpd.GeoDataFrame,
    *,
    categories: Iterable[str] | None = None,
    start: dt.date | dt.datetime | None = None,
    end: dt.date | dt.datetime | None = None,
    channels: Iterable[str] | None = None,
    states: Iterable[str] | None = None,
) -> gpd.GeoDataFrame:
    """The reports matching every given filter (None = no filter on that field).

    Parameters
    ----------
    reports : GeoDataFrame
        Reports as :func:`routing.service.reports_geoframe` returns them.
    categories : iterable of str, optional
        Category codes (``S-01-01``; loosely typed codes such as ``s0101`` are accepted).
    start, end : datetime or date, optional
        The half-open interval ``[start, end)`` of ``created_at``.  Datetimes must be
        timezone-aware; a plain date means midnight China Standard Time of that day.
    channels : iterable of str, optional
        Intake channels: ``app``, ``hotline``, ``station``, ``patrol``.
    states : iterable of str, optional
        Case states of :data:`routing.workflow.STATES` (``reported`` ... ``closed``).

    A single string is taken as one code; an empty iterable matches nothing.

    Returns
    -------
    GeoDataFrame
        The matching rows, with their index and all columns.

    Raises
    ------
    InvalidInputError
        An unknown channel or state (naming the allowed ones), a malformed category
        code, a naive datetime, ``start >= end`` or a missing column.

    Examples
    --------
    >>> import datetime as dt
    >>> from maps.demo import demo_reports
    >>> from boundaries.bundled import load_taian
    >>> reports = demo_reports(load_taian(), n=200)
    >>> hotline = filter_reports(reports, channels=["hotline"], start=dt.date(2020, 1, 1))
    >>> set(hotline["channel"])
    {'hotline'}
    """
    return reports.loc[_filter_mask(reports, categories, start, end, channels, states)]


def _filter_mask(
    reports: Any,
    categories: Iterable[str] | None,
    start: dt.date | dt.datetime | None,
    end: dt.date | dt.datetime | None,
    channels: Iterable[str] | None,
    states: Iterable[str] | None,
) -> NDArray[np.bool_]:
    from routing.catalog import normalize_code
    from routing.intake import CHANNELS
    from routing.workflow import STATES

    _require_geoframe(reports, "reports")
    mask = np.ones(len(reports), dtype=bool)
    if categories is not None:
        wanted = _strings(categories, "categories")
        codes = [normalize_code(code) for code in wanted]
        bad = [code for code, norm in zip(wanted, codes, strict=True) if norm is None]
        if bad:
            raise InvalidInputError(
                f"category {bad[0]!r} is not a category code; allowed: codes K-MM-NN such as S-01-01",
                field="categories",
                value=bad[0],
            )
        _require_columns(reports, "reports", ["category_code"])
        mask &= reports["category_code"].isin(codes).to_numpy(dtype=bool)
    for field, values, allowed in (("channel", channels, CHANNELS), ("state", states, STATES)):
        if values is None:
            continue
        wanted = _strings(values, f"{field}s")
        unknown = [value for value in wanted if value not in allowed]
        if unknown:
            raise InvalidInputError(
                f"unknown {field} {unknown[0]!r}; allowed: {', '.join(allowed)}",
                field=f"{field}s",
                value=unknown[0],
                allowed=list(allowed),
            )
        _require_columns(reports, "reports", [field])
        mask &= reports[field].isin(wanted).to_numpy(dtype=bool)
    if start is not None or end is not None:
        _require_columns(reports, "reports", ["created_at"])
        created = reports["created_at"]
        if not isinstance(created.dtype, pd.DatetimeTZDtype):
            raise InvalidInputError(
                f"column 'created_at' has dtype {created.dtype}; allowed: timezone-aware datetimes",
                field="created_at",
                value=str(created.dtype),
            )
        lower, upper = _instant(start, "start"), _instant(end, "end")
        if lower is not None and upper is not None and lower >= upper:
            raise InvalidInputError(
                f"start {lower.isoformat()} is not before end {upper.isoformat()}; "
                "allowed: start < end (the interval is [start, end))",
                field="start",
                value=lower.isoformat(),
            )
        if lower is not None:
            mask &= (created >= lower).to_numpy(dtype=bool)
        if upper is not None:
            mask &= (created < upper).to_numpy(dtype=bool)
    return mask


def _strings(values: Iterable[str], field: str) -> list[str]:
    items = [values] if isinstance(values, str) else list(values)
    bad = [item for item in items if not isinstance(item, str)]
    if bad:
        raise InvalidInputError(
            f"{field}: {bad[0]!r} is not a string; allowed: an iterable of codes",
            field=field,
            value=repr(bad[0]),
        )
    return items


def _instant(value: dt.date | dt.datetime | None, field: str) -> pd.Timestamp | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInputError(
                f"{field} {value.isoformat()} has no timezone; allowed: timezone-aware datetimes "
                "(e.g. tzinfo=ZoneInfo('Asia/Shanghai')) or dates (midnight China Standard Time)",
                field=field,
                value=value.isoformat(),
            )
        return pd.Timestamp(value).tz_convert("UTC")
    if isinstance(value, dt.date):
        return pd.Timestamp(dt.datetime.combine(value, dt.time(), tzinfo=CHINA_TZ)).tz_convert("UTC")
    raise InvalidInputError(
        f"{field} {value!r} is not a date or datetime; allowed: timezone-aware datetimes or dates",
        field=field,
        value=repr(value),
    )


# --------------------------------------------------------------------------- density
def density_by_unit(
    reports: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    level: str = "community",
    population: str | None = None,
) -> gpd.GeoDataFrame:
    """Reports per unit of one level, per square kilometre and (optionally) per 1,000 people.

    A report is counted in the unit stored in its ``{level}_code`` column — the unit it
    was routed to when it came in.  Points are *not* tested against the polygons again,
    so a report keeps its unit when boundaries change.  Reports whose code is missing or
    not among ``units`` are not counted; their number is in ``attrs["unmatched_reports"]``.

    Parameters
    ----------
    reports : GeoDataFrame
        Reports with a ``{level}_code`` column.
    units : GeoDataFrame
        A boundary frame (``code, name, level, parent_code, geometry``), e.g.
        :func:`boundaries.bundled.load_taian`.
    level : str
        ``city``, ``district``, ``subdistrict`` or ``community`` (aliases such as
        ``township`` are accepted).
    population : str, optional
        A numeric column of ``units`` with the resident population.

    Returns
    -------
    GeoDataFrame
        One row per unit of the level, zero counts included, in the order of ``units``:
        ``code, name, parent_code, count, area_km2, per_km2`` (and ``population,
        per_1000`` when asked; NaN where the population is missing or zero), the unit
        polygon as geometry, EPSG:4326.  Areas are computed in :data:`METRIC_CRS`.

    Raises
    ------
    InvalidInputError
        Unknown level, missing column, duplicate unit codes, no unit of the level.
    CRSMismatchError
        ``reports`` and ``units`` in different CRSs (both are named).

    Examples
    --------
    >>> from boundaries.bundled import load_taian
    >>> from maps.demo import demo_reports
    >>> units = load_taian()
    >>> reports = demo_reports(units, n=200)
    >>> districts = density_by_unit(reports, units, level="district")
    >>> len(districts), int(districts["count"].sum())
    (6, 200)
    """
    key, chosen = _unit_inputs(reports, units, level, population)
    counts = reports[f"{key}_code"].value_counts()
    count = chosen["code"].map(counts).fillna(0).to_numpy(dtype=np.int64)
    area_km2 = chosen.geometry.to_crs(METRIC_CRS).area.to_numpy() / 1e6
    columns: dict[str, Any] = {
        "code": chosen["code"].to_numpy(),
        "name": chosen["name"].to_numpy(),
        "parent_code": chosen["parent_code"].to_numpy(),
        "count": count,
        "area_km2": area_km2,
        "per_km2": _ratio(count, area_km2),
    }
    if population is not None:
        people = pd.to_numeric(chosen[population], errors="coerce").to_numpy(dtype=float)
        columns["population"] = people
        columns["per_1000"] = _ratio(count * 1000.0, people)
    out = gpd.GeoDataFrame(columns, geometry=chosen.geometry.to_crs(4326).to_numpy(), crs=4326)
    out.attrs["unmatched_reports"] = int(len(reports) - count.sum())
    return out


def _unit_inputs(
    reports: Any, units: Any, level: str, population: str | None
) -> tuple[str, gpd.GeoDataFrame]:
    key = get_level(level).key
    _require_geoframe(reports, "reports")
    _require_geoframe(units, "units")
    _require_same_crs(reports, "reports", units, "units")
    _require_columns(reports, "reports", [f"{key}_code"])
    _require_columns(units, "units", ["code", "name", "level", "parent_code"])
    chosen = units.loc[units["level"].to_numpy() == key]
    if chosen.empty:
        raise InvalidInputError(
            f"units has no {key} units; allowed levels there: {', '.join(map(str, units['level'].unique()))}",
            field="level",
            value=level,
        )
    duplicated = chosen["code"].duplicated()
    if duplicated.any():
        raise InvalidInputError(
            f"units has {key} code {chosen['code'][duplicated].iloc[0]!r} more than once; "
            "allowed: one row per unit",
            field="units",
            value=str(chosen["code"][duplicated].iloc[0]),
        )
    if population is not None:
        numeric = [
            c for c in units.columns if c != units.geometry.name and pd.api.types.is_numeric_dtype(units[c])
        ]
        if population not in units.columns or not pd.api.types.is_numeric_dtype(units[population]):
            raise InvalidInputError(
                f"population column {population!r} is not a numeric column of units; "
                f"allowed: {', '.join(map(str, numeric)) or 'none (add one)'}",
                field="population",
                value=population,
                allowed=numeric,
            )
    return key, chosen


def _ratio(numerator: NDArray[Any], denominator: NDArray[Any]) -> NDArray[np.float64]:
    """numerator / denominator, NaN where the denominator is zero or missing."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    valid = np.isfinite(denominator) & (denominator > 0)
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=valid)
    return out


# --------------------------------------------------------------------------- hexagons
def hex_bins(reports: gpd.GeoDataFrame, *, resolution: int = 8, area: Any = None) -> gpd.GeoDataFrame:
    """Reports binned into H3 hexagons: the cells with reports, or every cell of an area.

    Parameters
    ----------
    reports : GeoDataFrame
        Point reports in any CRS (they are binned in WGS84 longitude/latitude).
    resolution : int
        H3 resolution 0..15; 8 (0.74 km² cells, 460 m edges) suits a city, 9 (0.1 km²)
        a district.
    area : shapely geometry, GeoSeries or GeoDataFrame, optional
        With an area, every hexagon of it is returned, zero counts included
        (:func:`~maps.analysis.hexagons.hexagons_of`), and so is any hexagon holding a
        report beyond its edge: what a hot-spot analysis needs, so that every hexagon
        has its neighbours.  Without one, only the cells that hold reports.

    Returns
    -------
    GeoDataFrame
        ``h3`` (cell id, str), ``count`` (int), geometry (the hexagon, EPSG:4326), sorted by
        count (descending) then cell id.

    Raises
    ------
    InvalidInputError
        Resolution outside 0..15, a geometry that is not a non-empty point, no CRS, an
        area with more than :data:`~maps.analysis.hexagons.MAX_HEXAGONS` cells.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> xy = gpd.points_from_xy([117.1, 117.1001, 117.3], [36.2, 36.2, 36.1])
    >>> points = gpd.GeoDataFrame(geometry=xy, crs=4326)
    >>> hex_bins(points, resolution=8)["count"].tolist()
    [2, 1]
    >>> everywhere = hex_bins(points, resolution=8, area=shapely.box(117.05, 36.15, 117.15, 36.25))
    >>> int(everywhere["count"].sum()), bool((everywhere["count"] == 0).sum() > 50)
    (3, True)
    """
    import h3

    from maps.analysis.hexagons import hexagons_of

    lon, lat = _hex_inputs(reports, resolution)
    # h3-py has no vectorized form: one call per report
    cells = [h3.latlng_to_cell(y, x, resolution) for x, y in zip(lon.tolist(), lat.tolist(), strict=True)]
    counts = pd.Series(cells, dtype=object).value_counts()
    if area is not None:
        every = pd.Index(hexagons_of(area, resolution), dtype=object).union(counts.index)
        counts = counts.reindex(every, fill_value=0)
    table = pd.DataFrame({"h3": counts.index.astype(str), "count": counts.to_numpy(dtype=np.int64)})
    table = table.sort_values(["count", "h3"], ascending=[False, True], ignore_index=True)
    return gpd.GeoDataFrame(table, geometry=_hexagons(table["h3"].tolist()), crs=4326)


def _hex_inputs(reports: Any, resolution: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, int | np.integer)
        or (resolution not in H3_RESOLUTIONS)
    ):
        raise InvalidInputError(
            f"H3 resolution {resolution!r} is not allowed; allowed: integers 0..15",
            field="resolution",
            value=repr(resolution),
        )
    _require_geoframe(reports, "reports")
    points = _require_points(reports, "reports").to_crs(4326)
    return shapely.get_x(points.to_numpy()), shapely.get_y(points.to_numpy())


def _hexagons(cells: list[str]) -> NDArray[np.object_]:
    """Hexagon (or pentagon) polygons of H3 cells, WGS84 x/y."""
    import h3

    if not cells:
        return np.empty(0, dtype=object)
    rings = [h3.cell_to_boundary(cell) for cell in cells]  # per distinct cell; no vectorized form
    sizes = np.fromiter(map(len, rings), dtype=np.int64, count=len(rings))  # 6, or 5 for a pentagon
    latlng = np.asarray(list(itertools.chain.from_iterable(rings)), dtype=float)
    owner = np.repeat(np.arange(len(cells)), sizes)
    linear = shapely.linearrings(latlng[:, 1], latlng[:, 0], indices=owner)
    return np.asarray(shapely.polygons(linear), dtype=object)


# --------------------------------------------------------------------------- shared checks
def _require_geoframe(frame: Any, what: str) -> None:
    """``frame`` is a GeoDataFrame with a CRS."""
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InvalidInputError(
            f"{what} is a {type(frame).__name__}; allowed: a GeoDataFrame",
            field=what,
            value=type(frame).__name__,
        )
    if frame.crs is None:
        raise InvalidInputError(
            f"{what} has no CRS; allowed: a GeoDataFrame with a CRS (e.g. {what}.set_crs(4326))",
            field=what,
            value=None,
        )


def _crs_name(frame: Any) -> str:
    crs = frame.crs
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg is not None else str(crs.to_string())


def _require_same_crs(first: Any, first_name: str, second: Any, second_name: str) -> None:
    """Both frames share a CRS; otherwise a CRSMismatchError naming both."""
    if first.crs != second.crs:
        a, b = _crs_name(first), _crs_name(second)
        raise CRSMismatchError(
            f"{first_name} is in {a} but {second_name} is in {b}; allowed: the same CRS "
            f"(reproject one, e.g. {second_name}.to_crs({first_name}.crs))",
            **{f"{first_name}_crs": a, f"{second_name}_crs": b},
        )


def _require_columns(frame: Any, what: str, columns: list[str]) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"{what} has no column {missing[0]!r}; allowed: a frame with columns {', '.join(columns)} "
            f"(it has {', '.join(map(str, frame.columns))})",
            field=what,
            value=missing[0],
        )


def _require_points(frame: Any, what: str) -> gpd.GeoSeries:
    """The geometry column, checked to hold non-empty points only."""
    geometry = frame.geometry
    values = geometry.to_numpy()
    bad = ~((shapely.get_type_id(values) == 0) & ~shapely.is_empty(values))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(
            f"{what} row {frame.index[first]!r} has geometry {_geom_label(values[first])}; "
            "allowed: non-empty points",
            field=what,
            value=str(frame.index[first]),
        )
    return geometry


def _geom_label(geometry: Any) -> str:
    if geometry is None:
        return "None"
    return "an empty geometry" if shapely.is_empty(geometry) else str(geometry.geom_type)
