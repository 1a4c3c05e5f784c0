"""The analysis half of the planner maps: GeoDataFrames in, GeoDataFrames out.

:mod:`~maps.analysis.density`
    :func:`filter_reports`, :func:`density_by_unit` (reports per unit, per km², per
    1,000 people) and :func:`hex_bins` (H3 hexagons).
:mod:`~maps.analysis.hotspots`
    :func:`getis_ord`: Gi* hot and cold spots, optionally local Moran's I.
:mod:`~maps.analysis.parks`
    :func:`generate_candidates` and :class:`PocketParkPlan` (MCLP) for 300米见绿、500米见园.

Distances and areas are in metres in :data:`METRIC_CRS` (EPSG:4548, CGCS2000 /
3-degree Gauss-Kruger CM 117E).  esda, libpysal, spopt, PuLP and h3 are imported when a
function needs them, so importing this package stays cheap.
"""

from maps.analysis.density import METRIC_CRS, density_by_unit, filter_reports, hex_bins
from maps.analysis.hotspots import HOTSPOT_CLASSES, HOTSPOT_ZH, getis_ord
from maps.analysis.parks import SERVICE_RADII_M, PlanNotReadyError, PocketParkPlan, generate_candidates

__all__ = [
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
