"""Synthetic but plausible reports and pocket parks for Tai'an, to try the maps without a database.

:func:`demo_reports` returns the frame of :func:`routing.service.reports_geoframe`
(same columns, same dtypes), :func:`demo_parks` existing pocket parks.  Both are
deterministic for a seed (reports: for a seed and a day — their 180 days end at today's
midnight, China Standard Time).  What they show:

* reports cluster in urban communities (社区居委会), most of all in a few hot spots; an
  eighth of the non-demand reports are spread over the whole city, villages included;
* three categories dominate — S-01-01 暴露垃圾, S-04-01 占道经营, S-04-05 乱停放非机动车;
* about 8 % are demand reports (B-04-04 缺少健身设施, B-04-05 绿地缺失), most of them in a
  few small (dense) urban communities — what the pocket-park plan should find;
* channels app > hotline > patrol > station; older reports are mostly closed.

The jurisdiction codes are those of the lookup index (``index_from_frame(units)``), so
they agree with what the routing service would have stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from boundaries.bundled import index_from_frame
from geo.errors import InvalidInputError
from geo.levels import LEVEL_KEYS
from maps.analysis.density import CHINA_TZ, _require_columns, _require_geoframe

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from routing.catalog import Catalog

__all__ = ["demo_parks", "demo_reports"]

DAYS = 180
DOMINANT: dict[str, float] = {"S-01-01": 0.20, "S-04-01": 0.15, "S-04-05": 0.13}
"""Shares of the dominant categories (暴露垃圾, 占道经营, 乱停放非机动车)."""
DEMAND_SHARE = 0.08
CHANNEL_MIX: dict[str, float] = {"app": 0.45, "hotline": 0.30, "patrol": 0.17, "station": 0.08}
URBAN_SUFFIX = "社区居委会"
HOTSPOTS = 6
"""Urban communities drawing fifteen times the reports of the others."""
DEMAND_COMMUNITIES = 4
"""Small urban communities where most demand reports are."""
_RECENT_STATES = {
    "reported": 0.16,
    "verified": 0.08,
    "filed": 0.08,
    "dispatched": 0.12,
    "in_progress": 0.14,
    "handled": 0.10,
    "checked": 0.06,
    "closed": 0.20,
    "returned": 0.03,
    "rework": 0.03,
}
_OLD_STATES = {
    "closed": 0.84,
    "invalid": 0.05,
    "checked": 0.03,
    "handled": 0.02,
    "deferred": 0.04,
    "rework": 0.02,
}
_HOURS = np.array([1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 9, 8, 7, 8, 9, 9, 9, 8, 7, 6, 5, 4, 2, 1], dtype=float)
"""Relative reports per hour of the day (China Standard Time)."""
COLUMNS = (
    "id", "category_code", "channel", "state", "created_at", "city_code", "district_code",
    "subdistrict_code", "community_code", "owner_key", "category_name", "demand",
)  # fmt: skip
"""The columns of :func:`routing.service.reports_geoframe`, in its order (then geometry)."""


def demo_reports(
    units: gpd.GeoDataFrame, *, n: int = 3000, seed: int = 2023, catalog: Catalog | None = None
) -> gpd.GeoDataFrame:
    """Synthetic reports over ``units``, shaped like :func:`routing.service.reports_geoframe`.

    Parameters
    ----------
    units : GeoDataFrame
        A boundary frame in EPSG:4326 with community rows (e.g.
        :func:`boundaries.bundled.load_taian`); urban communities are those whose names end
        in 社区居委会 (all communities when none does).
    n : int
        Number of reports (1..1,000,000); ids are 1..n in order of ``created_at``.
    seed : int
        Seed of the random generator.
    catalog : routing.catalog.Catalog, optional
        Categories to draw from (default: the packaged catalog).

    Returns
    -------
    GeoDataFrame
        ``id, category_code, channel, state, created_at, city_code, district_code,
        subdistrict_code, community_code, owner_key, category_name, demand``, point
        geometry, EPSG:4326.

    Examples
    --------
    >>> from boundaries.bundled import load_taian
    >>> reports = demo_reports(load_taian(), n=500)
    >>> reports["id"].tolist()[:3], reports["category_code"].value_counts().index[0]
    ([1, 2, 3], 'S-01-01')
    """
    from routing.catalog import default_catalog

    communities, urban = _demo_inputs(units, n, seed)
    catalog = catalog if catalog is not None else default_catalog()
    rng = np.random.default_rng(seed)
    categories = list(catalog)
    codes = np.array([c.code for c in categories], dtype=object)
    is_demand = np.array([c.demand for c in categories], dtype=bool)
    category = rng.choice(len(codes), size=n, p=_category_mix(codes, is_demand))
    demand = is_demand[category]

    # where: urban hot spots, the rest of the city, and a few demand communities
    areas = communities.geometry.to_crs("EPSG:4548").area.to_numpy()
    urban_rows = np.flatnonzero(urban)
    hot = rng.choice(urban_rows, size=min(HOTSPOTS, len(urban_rows)), replace=False)
    smallest = urban_rows[np.argsort(areas[urban_rows], kind="stable")[:20]]
    dense = rng.choice(smallest, size=min(DEMAND_COMMUNITIES, len(smallest)), replace=False)
    urban_weight = urban.astype(float)
    urban_weight[hot] = 15.0
    home = np.where(
        rng.random(n) < 0.88,
        rng.choice(len(communities), size=n, p=urban_weight / urban_weight.sum()),
        rng.integers(0, len(communities), size=n),
    )
    demand_home = np.where(rng.random(n) < 0.85, rng.choice(dense, size=n), rng.choice(urban_rows, size=n))
    home = np.where(demand, demand_home, home)
    lon, lat = _points_in(communities.geometry.to_numpy(), home, rng)

    # when and how
    end = _demo_end()
    day = rng.integers(0, DAYS, size=n)
    hour = rng.choice(24, size=n, p=_HOURS / _HOURS.sum())
    second = rng.integers(0, 3600, size=n)
    offset = pd.to_timedelta((day + 1) * 86400 - hour * 3600 - second, unit="s")
    created = (end - offset).tz_convert("UTC").as_unit("us")
    channel = rng.choice(np.array(list(CHANNEL_MIX), dtype=object), size=n, p=list(CHANNEL_MIX.values()))
    recent = (end - created) < pd.Timedelta(days=14)
    state = np.where(
        recent,
        rng.choice(np.array(list(_RECENT_STATES), dtype=object), size=n, p=_shares(_RECENT_STATES)),
        rng.choice(np.array(list(_OLD_STATES), dtype=object), size=n, p=_shares(_OLD_STATES)),
    )

    # the jurisdiction the routing service would have stored, and the owning desk
    found = index_from_frame(units).lookup(lon, lat).columns()
    chain = np.column_stack([found[f"{level}_code"] for level in LEVEL_KEYS]).astype(object)
    owner_key = _owner_keys(categories, category, chain)

    frame = pd.DataFrame(
        {
            "category_code": codes[category],
            "channel": channel,
            "state": state,
            "created_at": created,
            **{f"{level}_code": chain[:, rank] for rank, level in enumerate(LEVEL_KEYS)},
            "owner_key": owner_key,
            "category_name": np.array([c.name_zh for c in categories], dtype=object)[category],
            "demand": demand,
            "lon": lon,
            "lat": lat,
        }
    )
    frame = frame.sort_values("created_at", kind="stable", ignore_index=True)
    frame.insert(0, "id", np.arange(1, n + 1, dtype=np.int64))
    geometry = gpd.points_from_xy(frame.pop("lon"), frame.pop("lat"))
    return gpd.GeoDataFrame(frame[list(COLUMNS)], geometry=geometry, crs=4326)


def demo_parks(units: gpd.GeoDataFrame, *, n: int = 40, seed: int = 2023) -> gpd.GeoDataFrame:
    """Synthetic existing pocket parks in the urban subdistricts (街道) of ``units``.

    Each park is a point in a random community of a 街道 (urban 社区居委会 ones when the
    街道 has them), named after its subdistrict: ``岱庙3号口袋公园``.

    Parameters
    ----------
    units : GeoDataFrame
        A boundary frame with subdistrict and community rows, EPSG:4326.
    n : int
        Number of parks (1..100,000).
    seed : int
        Seed of the random generator.

    Returns
    -------
    GeoDataFrame
        ``park_id`` (1..n), ``name``, point geometry, EPSG:4326.

    Examples
    --------
    >>> from boundaries.bundled import load_taian
    >>> parks = demo_parks(load_taian(), n=3)
    >>> parks.columns.tolist(), parks["park_id"].tolist()
    (['park_id', 'name', 'geometry'], [1, 2, 3])
    """
    communities, urban = _demo_inputs(units, n, seed, limit=100_000)
    subdistricts = units.loc[units["level"].to_numpy() == "subdistrict"]
    streets = subdistricts.loc[subdistricts["name"].str.endswith("街道").to_numpy(dtype=bool)]
    if streets.empty:
        raise InvalidInputError(
            "units has no urban subdistrict (a name ending in 街道); allowed: a boundary frame with one",
            field="units",
        )
    in_streets = communities["parent_code"].isin(streets["code"]).to_numpy(dtype=bool)
    pool = np.flatnonzero(in_streets & urban)
    if not len(pool):
        pool = np.flatnonzero(in_streets)
    rng = np.random.default_rng(seed)
    home = rng.choice(pool, size=n)
    lon, lat = _points_in(communities.geometry.to_numpy(), home, rng)
    street_name = (
        communities["parent_code"].map(streets.set_index("code")["name"]).to_numpy(dtype=object)[home]
    )
    short = pd.Series(street_name, dtype=object).str.removesuffix("街道")
    number = short.groupby(short).cumcount() + 1
    return gpd.GeoDataFrame(
        {
            "park_id": np.arange(1, n + 1, dtype=np.int64),
            "name": (short + number.astype(str) + "号口袋公园").astype("str"),
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=4326,
    )


# --------------------------------------------------------------------------- helpers
def _demo_inputs(
    units: Any, n: int, seed: int, *, limit: int = 1_000_000
) -> tuple[gpd.GeoDataFrame, NDArray[np.bool_]]:
    """Check the arguments; return the communities and which of them are urban."""
    _require_geoframe(units, "units")
    _require_columns(units, "units", ["code", "name", "level", "parent_code"])
    for name, value, low, high in (("n", n, 1, limit), ("seed", seed, 0, 2**63 - 1)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or not low <= value <= high:
            raise InvalidInputError(
                f"{name} {value!r} is not allowed; allowed: integers {low}..{high:,}",
                field=name,
                value=repr(value),
            )
    communities = units.loc[units["level"].to_numpy() == "community"].reset_index(drop=True)
    if communities.empty:
        raise InvalidInputError(
            "units has no community rows; allowed: a boundary frame down to communities",
            field="units",
        )
    urban = communities["name"].str.endswith(URBAN_SUFFIX).to_numpy(dtype=bool)
    if not urban.any():
        urban = np.ones(len(communities), dtype=bool)
    return communities, urban


def _demo_end() -> pd.Timestamp:
    """The end of the demo period: today's midnight, China Standard Time."""
    return pd.Timestamp.now(tz=CHINA_TZ).normalize()


def _shares(mix: dict[str, float]) -> NDArray[np.float64]:
    values = np.fromiter(mix.values(), dtype=float)
    return values / values.sum()


def _category_mix(codes: NDArray[np.object_], is_demand: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Draw probabilities: the dominant categories, 8 % demand, the rest shared evenly."""
    share = np.zeros(len(codes))
    dominant = np.isin(codes, list(DOMINANT))
    share[dominant] = [DOMINANT[code] for code in codes[dominant]]
    if is_demand.any():
        share[is_demand] = DEMAND_SHARE / is_demand.sum()
    others = ~dominant & ~is_demand
    if others.any():
        share[others] = max(1.0 - share.sum(), 0.0) / others.sum()
    if share.sum() <= 0:
        share[:] = 1.0
    return share / share.sum()


def _points_in(
    polygons: NDArray[np.object_], owner: NDArray[np.int64], rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A uniform random point inside ``polygons[owner[i]]`` for every i (rejection sampling)."""
    bounds = shapely.bounds(polygons)[owner]
    x = np.empty(len(owner))
    y = np.empty(len(owner))
    pending = np.ones(len(owner), dtype=bool)
    for _ in range(1000):  # rounds, not rows: each round redraws every point still outside
        rows = np.flatnonzero(pending)
        if not len(rows):
            break
        x[rows] = rng.uniform(bounds[rows, 0], bounds[rows, 2])
        y[rows] = rng.uniform(bounds[rows, 1], bounds[rows, 3])
        pending[rows] = ~shapely.contains_xy(polygons[owner[rows]], x[rows], y[rows])
    else:
        point = shapely.point_on_surface(polygons[owner[pending]])
        x[pending], y[pending] = shapely.get_x(point), shapely.get_y(point)
    return x, y


def _owner_keys(
    categories: list[Any], category: NDArray[np.int64], chain: NDArray[np.object_]
) -> NDArray[np.object_]:
    """The routing service's owner key: ``city:<department>``, ``<code>:<department>``, or the code of
    the unit at the category's level — the finest one above it when that level is missing (as
    routing.intake.route)."""
    level_rank = np.array([LEVEL_KEYS.index(c.owner.level) for c in categories])[category]
    city_key = np.array([f"city:{c.owner.department}" for c in categories], dtype=object)[category]
    department = np.array([c.owner.department or "" for c in categories], dtype=object)[category]
    present = pd.notna(chain) & (np.arange(len(LEVEL_KEYS))[None, :] <= level_rank[:, None])
    finest = len(LEVEL_KEYS) - 1 - np.argmax(present[:, ::-1], axis=1)
    key = chain[np.arange(len(chain)), finest]
    # a department of the unit at the category's level is a desk of its own: <code>:<department>
    key = np.where((finest == level_rank) & (department != ""), key + ":" + department, key)
    return np.where(level_rank == 0, city_key, key)
