"""Planner maps as Leaflet pages: report density, Getis-Ord Gi* hot spots, pocket parks.

The analysis (:mod:`maps.analysis`) makes GeoDataFrames in EPSG:4326; this package draws
them with folium and writes pages that work offline, one module per concern:

* :mod:`~maps.render.density` — :func:`density_map`: a choropleth of reports per unit
  (count, per km² or per 1,000 residents), a heat map of the reports and an H3 hexagon
  layer;
* :mod:`~maps.render.hotspots` — :func:`hotspot_map`: Gi* hot and cold spots in a
  diverging palette (and the local Moran clusters when they were computed);
* :mod:`~maps.render.parks` — :func:`pocket_park_map`: existing parks, candidate sites,
  the chosen sites ranked with numbered markers, their service areas and the demand
  left uncovered;
* :mod:`~maps.render.page` — :func:`to_html`, the page with every script and
  stylesheet loaded from the vendored assets (``maps/assets``), never from a CDN;
  :func:`save` writes a page and its assets for use without a server;
* :mod:`~maps.render.layers` and :mod:`~maps.render.legend` — the pieces every map
  shares (GeoJSON written once, layers styled in the browser, legends bound to their
  layer, class breaks); :mod:`~maps.render.style` — palettes, colours, the stylesheet;
* :mod:`~maps.render.tables` — the analyses as GeoJSON and CSV answers.

Every map has a layer control, a legend per thematic layer (shown while its layer is),
tooltips that name the unit and its code, Chinese labels in a CJK font stack, and no
basemap unless ``tiles`` gives one (nothing loads from the internet by default).
Unit polygons are simplified as a coverage (:func:`simplify_coverage`), so shared
edges stay shared and the whole city's 3,782 communities fit in a few MB.

:mod:`maps.build` runs each analysis for the service and the command line and returns
its table with a function that draws its map.
"""

from maps.render.density import density_map, heat_data
from maps.render.hotspots import hotspot_map
from maps.render.layers import FeatureLayer, GeoJsonData, simplify_coverage
from maps.render.legend import Classes, Legend
from maps.render.page import Tiles, TilesLike, as_tiles, save, to_html
from maps.render.parks import coverage_html, pocket_park_map
from maps.render.style import (
    BACKGROUND,
    CANDIDATE_COLOUR,
    CHOSEN_COLOUR,
    DEMAND_COLOUR,
    HEX_PALETTE,
    HOTSPOT_CLASSES,
    HOTSPOT_COLOURS,
    MORAN_CLASSES,
    NODATA_COLOUR,
    PARK_COLOUR,
    SEQUENTIAL,
    SERVICE_COLOUR,
    UNCOVERED_COLOUR,
    ZERO_COLOUR,
)
from maps.render.tables import result_csv, result_geojson

__all__ = [
    "BACKGROUND",
    "CANDIDATE_COLOUR",
    "CHOSEN_COLOUR",
    "DEMAND_COLOUR",
    "HEX_PALETTE",
    "HOTSPOT_CLASSES",
    "HOTSPOT_COLOURS",
    "MORAN_CLASSES",
    "NODATA_COLOUR",
    "PARK_COLOUR",
    "SEQUENTIAL",
    "SERVICE_COLOUR",
    "UNCOVERED_COLOUR",
    "ZERO_COLOUR",
    "Classes",
    "FeatureLayer",
    "GeoJsonData",
    "Legend",
    "Tiles",
    "TilesLike",
    "as_tiles",
    "coverage_html",
    "density_map",
    "heat_data",
    "hotspot_map",
    "pocket_park_map",
    "result_csv",
    "result_geojson",
    "save",
    "simplify_coverage",
    "to_html",
]
