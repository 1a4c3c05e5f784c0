"""The analysis half of the planner maps: GeoDataFrames in, GeoDataFrames out.

:mod:`~maps.analysis.density`
    :func:`filter_reports`, :func:`density_by_unit` (reports per unit, per km², per
    1,000 people) and :func:`hex_bins` (H3 hexagons: those with reports, or every
    hexagon of an area).
:mod:`~maps.analysis.hexagons`
    The hexagons of an area and their contiguity on H3's grid.
:mod:`~maps.analysis.hotspots`
    :func:`getis_ord`: Gi* hot and cold spots, optionally local Moran's I, two-sided and
    corrected for testing every area at once.
:mod:`~maps.analysis.permutation`
    The conditional randomization behind their pseudo p-values.
:mod:`~maps.analysis.significance`
    The correction (Benjamini–Hochberg false discovery rate, or none) and what the
    confidence levels mean, in words.
:mod:`~maps.analysis.parks`
    :func:`generate_candidates` and :class:`PocketParkPlan` (MCLP) for 300米见绿、500米见园.
:mod:`~maps.analysis.coverage`
    The two standards as data, and demand covered per subdistrict before and after a plan.
:mod:`~maps.analysis.inputs`
    Checks of what the analyses are given (a numeric column of values >= 0).

Distances and areas are in metres in :data:`METRIC_CRS` (EPSG:4548, CGCS2000 /
3-degree Gauss-Kruger CM 117E).  esda, libpysal, spopt, PuLP and h3 are imported when a
function needs them, so importing this package stays cheap.
"""

from maps.analysis.density import METRIC_CRS, density_by_unit, filter_reports, hex_bins
from maps.analysis.hotspots import DEFAULT_PERMUTATIONS, HOTSPOT_CLASSES, HOTSPOT_ZH, getis_ord
from maps.analysis.parks import SERVICE_RADII_M, PlanNotReadyError, PocketParkPlan, generate_candidates

__all__ = [
    "DEFAULT_PERMUTATIONS",
    "HOTSPOT_CLASSES",
    "HOTSPOT_ZH",
    "METRIC_CRS",
    "SERVICE_RADII_M",
    "PlanNotReadyError",
    "PocketParkPlan",
    "density_by_unit",
    "filter_reports",
    "generate_candidates",
    "getis_ord",
    "hex_bins",
]
