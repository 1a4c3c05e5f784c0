"""What data a map is built from, and the line that says so on the map and in the command line.

A map built from 3,000 generated demo reports must never read like one of the
city's real reports, and a pocket-park plan measured against 40 made-up parks must
say so.  :class:`ReportSource` and :class:`ParkSource` record what was used and
:func:`data_note` writes the line under the map's title; the command line prints the
same line.  :func:`existing_parks` picks the parks a plan is measured against: the
green-space register, or demo parks only while the register is empty.

Examples
--------
>>> reports = ReportSource(used=3000, in_database=444, demo=True, asked=True)
>>> print(reports.note)  # doctest: +NORMALIZE_WHITESPACE
演示数据 demo data：3,000 条生成的演示报告（按 --demo 要求；数据库中的 444 条报告未使用）
3,000 generated reports (asked for with --demo; the database's 444 reports were not used)
>>> print(ReportSource(used=444, in_database=444).note)
444 条真实报告 444 real reports
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["PARK_MARGIN_M", "ParkSource", "ReportSource", "data_note", "existing_parks"]

PARK_MARGIN_M = 500.0
"""Parks this far outside the units in view still count: they serve the residents across the line."""
PARK_COLUMNS = ("park_id", "name", "kind", "area_m2", "opened_on")
"""The columns of :func:`existing_parks`' frame, before the geometry."""


@dataclass(frozen=True, slots=True)
class ReportSource:
    """The reports a map was built from.

    Attributes
    ----------
    used : int
        Reports the analysis got (before its own filters).
    in_database : int
        Reports in the database that the caller may see.
    demo : bool
        The reports are generated demo reports (:func:`maps.demo.demo_reports`).
    asked : bool
        Demo reports were asked for (``--demo``) although the database has reports.
    scope : str, optional
        The unit whose reports these are (a staff token's unit), None for the city.
    """

    used: int
    in_database: int
    demo: bool = False
    asked: bool = False
    scope: str | None = None

    @property
    def note(self) -> str:
        """One line, Chinese then English."""
        if self.demo:
            if self.asked and self.in_database:
                why_zh = f"按 --demo 要求；数据库中的 {self.in_database:,} 条报告未使用"
                why_en = f"asked for with --demo; the database's {self.in_database:,} reports were not used"
            elif self.asked:
                why_zh = "按 --demo 要求；数据库中还没有报告"
                why_en = "asked for with --demo; the database has none"
            else:
                why_zh, why_en = "数据库中还没有报告", "the database has no reports yet"
            return (
                f"演示数据 demo data：{self.used:,} 条生成的演示报告（{why_zh}） "
                f"{self.used:,} generated reports ({why_en})"
            )
        where_zh = f"（{self.scope}及其下级单位）" if self.scope else ""
        where_en = f" (in {self.scope} and the units below it)" if self.scope else ""
        return f"{self.used:,} 条真实报告{where_zh} {self.used:,} real reports{where_en}"


@dataclass(frozen=True, slots=True)
class ParkSource:
    """The existing parks a pocket-park plan was measured against.

    Attributes
    ----------
    used : int
        Parks the analysis got.
    demo : bool
        Generated demo parks (the register is empty).
    by_kind : mapping of str to int
        Registered parks per kind name (``公园``: 20 ...), for the note.
    """

    used: int
    demo: bool = False
    by_kind: Mapping[str, int] = field(default_factory=dict)

    @property
    def note(self) -> str:
        """One line, Chinese then English.

        Examples
        --------
        >>> print(ParkSource(used=40, demo=True).note)  # doctest: +NORMALIZE_WHITESPACE
        现有公园：40 处演示公园（公园登记册为空）
        existing parks: 40 demo parks (the park register is empty)
        >>> print(ParkSource(used=3, by_kind={"公园": 2, "广场": 1}).note)
        现有公园：登记册中的 3 处（公园 2、广场 1） existing parks: 3 from the park register
        """
        if self.demo:
            return (
                f"现有公园：{self.used:,} 处演示公园（公园登记册为空） "
                f"existing parks: {self.used:,} demo parks (the park register is empty)"
            )
        kinds = "、".join(f"{name} {n:,}" for name, n in self.by_kind.items() if n)
        return (
            f"现有公园：登记册中的 {self.used:,} 处{f'（{kinds}）' if kinds else ''} "
            f"existing parks: {self.used:,} from the park register"
        )


def data_note(reports: ReportSource, parks: ParkSource | None = None) -> str:
    """The line under a map's title: the reports, and the parks when the map uses them.

    Examples
    --------
    >>> data_note(ReportSource(used=444, in_database=444), ParkSource(used=40, demo=True)).count(" · ")
    1
    """
    return reports.note if parks is None else f"{reports.note} · {parks.note}"


def existing_parks(
    registered: gpd.GeoDataFrame | None,
    make_demo: Callable[[], gpd.GeoDataFrame],
    *,
    area: Any = None,
    margin_m: float = PARK_MARGIN_M,
) -> tuple[gpd.GeoDataFrame, ParkSource]:
    """The existing parks a pocket-park plan is measured against, and what they are.

    Parameters
    ----------
    registered : GeoDataFrame or None
        The green-space register (:func:`store.greenspace.load_green_spaces`), open
        parks only; empty or None when nothing is registered.
    make_demo : callable
        Makes demo parks (:func:`maps.demo.demo_parks`); called only when the register
        is empty.
    area : shapely geometry, optional
        The units in view (WGS84): parks farther than ``margin_m`` from it are left out.
    margin_m : float
        See :data:`PARK_MARGIN_M`.

    Returns
    -------
    (GeoDataFrame, ParkSource)
        ``park_id, name, kind, area_m2, opened_on``, points or polygons (EPSG:4326); demo
        parks are pocket parks without an area or date.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> demo = lambda: gpd.GeoDataFrame({"park_id": [1], "name": ["岱庙1号口袋公园"]},
    ...     geometry=[shapely.Point(117.1, 36.2)], crs=4326)
    >>> parks, source = existing_parks(None, demo)
    >>> parks["kind"].tolist(), source.demo
    (['pocket_park'], True)
    """
    import geopandas as gpd
    import numpy as np

    from greenspace.kinds import KINDS

    if registered is None or registered.empty:
        demo = make_demo()
        parks = gpd.GeoDataFrame(
            {
                "park_id": demo["park_id"].to_numpy(),
                "name": demo["name"].to_numpy(dtype=object),
                "kind": "pocket_park",
                "area_m2": np.nan,
                "opened_on": None,
            },
            geometry=demo.geometry.to_numpy(),
            crs=demo.crs,
        )
    else:
        parks = registered.rename(columns={"id": "park_id"})[[*PARK_COLUMNS, registered.geometry.name]]
    if area is not None and len(parks):
        from maps.analysis.density import METRIC_CRS

        reach = gpd.GeoSeries([area], crs=4326).to_crs(METRIC_CRS).buffer(margin_m).iloc[0]
        parks = parks[parks.geometry.to_crs(METRIC_CRS).intersects(reach).to_numpy()]
    if registered is None or registered.empty:
        return parks, ParkSource(used=len(parks), demo=True)
    counts = parks["kind"].value_counts()
    return parks, ParkSource(used=len(parks), by_kind={k.name_zh: int(counts.get(k.key, 0)) for k in KINDS})
