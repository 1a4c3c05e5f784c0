"""Cases as data frames: for the metrics (one row per case) and for the maps (points).

Both read through :meth:`routing.service.ReportService.read_rows`, which scopes the
rows to the caller's cases (the ones their unit's chain owns now: a case transferred
away no longer counts for the earlier owner) and audits the read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from routing.access import Principal
from store.models import Report

if TYPE_CHECKING:
    from routing.service import ReportService

CASE_COLUMNS: tuple[str, ...] = (
    "report_id", "unit_key", "unit_name", "created_at", "dispatched_at", "due_at", "handled_at",
    "closed_at", "paused_at", "state", "rework_count", "reopen_count", "urge_count", "satisfaction",
)  # fmt: skip
"""Columns of :func:`cases_frame` (see :mod:`routing.metrics` for what each means there)."""


def cases_frame(service: ReportService, principal: Principal | None = None) -> Any:
    """Cases as a DataFrame for :func:`routing.metrics.unit_metrics`, one row per report.

    ``closed_at`` is the case's first closure (a reopened case stays closed in the
    period it closed), ``paused_at`` when a deferred case was deferred, ``satisfaction``
    the reporter's latest verdict (``None``: none).
    """
    import pandas as pd

    query = select(
        Report.id, Report.owner_key, Report.owner_name, Report.created_at, Report.dispatched_at,
        Report.due_at, Report.handled_at, Report.first_closed_at, Report.paused_at, Report.state,
        Report.rework_count, Report.reopen_count, Report.urge_count, Report.satisfaction,
    )  # fmt: skip
    rows = service.read_rows(query, principal, "metrics.read", "cases")
    frame = pd.DataFrame(rows, columns=list(CASE_COLUMNS))
    for column in ("created_at", "dispatched_at", "due_at", "handled_at", "closed_at", "paused_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    # An empty result has object columns; the metrics check dtypes.
    frame["satisfaction"] = frame["satisfaction"].astype(object)
    return frame.astype(
        {"report_id": "int64", "rework_count": "int64", "reopen_count": "int64", "urge_count": "int64"}
    )


def reports_geoframe(service: ReportService, principal: Principal | None = None) -> Any:
    """Reports as a GeoDataFrame of WGS84 points for maps (scoped to the principal when given).

    Columns: ``id, category_code, category_name, channel, state, created_at, city_code,
    district_code, subdistrict_code, community_code, owner_key, demand`` (a
    green-space/fitness demand category), geometry.
    """
    import geopandas as gpd
    import pandas as pd

    query = select(
        Report.id, Report.category_code, Report.channel, Report.state, Report.created_at, Report.city_code,
        Report.district_code, Report.subdistrict_code, Report.community_code, Report.owner_key,
        Report.lon, Report.lat,
    )  # fmt: skip
    rows = service.read_rows(query.order_by(Report.id), principal, "maps.read", "reports")
    frame = pd.DataFrame(
        rows,
        columns=[
            "id", "category_code", "channel", "state", "created_at", "city_code", "district_code",
            "subdistrict_code", "community_code", "owner_key", "lon", "lat",
        ],
    )  # fmt: skip
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    names = {c.code: c.name_zh for c in service.catalog}
    demand = {c.code for c in service.catalog.demand_categories()}
    frame["category_name"] = frame["category_code"].map(names)
    frame["demand"] = frame["category_code"].isin(demand)
    geometry = gpd.points_from_xy(frame.pop("lon"), frame.pop("lat"))
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=4326)
