"""The three maps in a real headless Chromium, served by the real service on loopback.

For each map: no JavaScript error in the console, no failed request, no request that
leaves the machine and no Content-Security-Policy violation (the page is served with
one), Leaflet drew the polygons and markers, and a screenshot has the map's colours.
The whole-city density map travels compressed, under a third of its size.  The service
runs with uvicorn in a thread on a free loopback port, over a new SQLite database (no
reports: the maps show the demo data); see :mod:`tests.browser`.  With
``SIJI_SAVE_SCREENSHOTS=1`` the screenshots are written to ``docs/screenshots/``.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from maps.render import (
    BACKGROUND,
    CHOSEN_COLOUR,
    HOTSPOT_COLOURS,
    PARK_COLOUR,
    SEQUENTIAL,
    ZERO_COLOUR,
)
from tests.browser import LiveService, assert_clean, load

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def database(live_service: LiveService) -> Path:
    """The service's SQLite file (no reports: the maps show demo data)."""
    return live_service.database


@pytest.fixture(scope="module")
def service(live_service: LiveService) -> str:
    return live_service.url


@pytest.fixture(scope="module")
def driver(browser: Any) -> Any:
    return browser


# --- checks --------------------------------------------------------------------------------


def _count(driver: Any, selector: str) -> int:
    return int(driver.execute_script(f"return document.querySelectorAll({json.dumps(selector)}).length"))


def _fills(driver: Any) -> dict[str, int]:
    """How many drawn paths have each fill colour (what Leaflet set from the styles)."""
    script = """
        const counts = {};
        document.querySelectorAll("path").forEach(p => {
            const fill = (p.getAttribute("fill") || "none").toLowerCase();
            counts[fill] = (counts[fill] || 0) + 1;
        });
        return counts;
    """
    return {k: int(v) for k, v in driver.execute_script(script).items()}


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def _blend(colour: str, opacity: float, under: str = BACKGROUND) -> np.ndarray:
    """The colour a fill of ``opacity`` shows over ``under``."""
    return opacity * _rgb(colour) + (1 - opacity) * _rgb(under)


def _pixels_near(image: np.ndarray, colour: np.ndarray, tolerance: float = 10) -> int:
    return int((np.abs(image[..., :3].astype(float) - colour).max(axis=-1) <= tolerance).sum())


def _png_pixels(png: bytes) -> np.ndarray:
    """RGB(A) pixels of a screenshot: Pillow when installed, else a small PNG decoder."""
    try:
        from PIL import Image
    except ImportError:
        return _decode_png(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _decode_png(png: bytes) -> np.ndarray:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, header = 8, [], b""
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        body = png[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8, depth
    assert colour_type in (2, 6), colour_type
    assert interlace == 0
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(b"".join(chunks))
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.int32)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = (
            raw[start],
            np.frombuffer(raw[start + 1 : start + 1 + stride], dtype=np.uint8).astype(np.int32),
        )
        current = np.zeros(stride, dtype=np.int32)
        if kind in (0, 2):
            current = (line + (previous if kind == 2 else 0)) % 256
        else:
            for i in range(stride):
                left = current[i - channels] if i >= channels else 0
                up = previous[i]
                corner = previous[i - channels] if i >= channels else 0
                if kind == 1:
                    predictor = left
                elif kind == 3:
                    predictor = (left + up) // 2
                else:
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                current[i] = (line[i] + predictor) % 256
        out[row] = current
        previous = current
    return out.reshape(height, width, channels)


def _screenshot(driver: Any, name: str) -> np.ndarray:
    png = driver.get_screenshot_as_png()
    if os.environ.get("SIJI_SAVE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    return _png_pixels(png)


# --- the maps --------------------------------------------------------------------------------

DRAWN = "return document.querySelectorAll('path.leaflet-interactive').length >= {n}"


def test_density_map_in_a_browser(service: str, driver: Any) -> None:
    report = load(driver, f"{service}/maps/density", DRAWN.format(n=3782))
    assert_clean(report, service)
    # sent compressed (Chromium asks for zstd, br or gzip): under a third of the page
    size = len(httpx.get(f"{service}/maps/density", headers={"Accept-Encoding": "identity"}).content)
    assert size > 1_000_000, size
    assert report["headers"].get("content-encoding") in ("zstd", "br", "gzip"), report["headers"]
    assert 0 < report["transferred"] < size / 3, (report["transferred"], size)
    assert _count(driver, "path.leaflet-interactive") >= 3782  # every community
    fills = _fills(driver)
    assert fills.get(SEQUENTIAL[-1], 0) > 10, fills
    assert fills.get(ZERO_COLOUR, 0) > 1000, fills
    assert _count(driver, ".siji-legend") == 1
    assert _count(driver, ".leaflet-control-layers-overlays label") == 4
    title = driver.execute_script("return document.querySelector('.siji-title').innerText")
    assert "报告密度" in title
    assert "演示数据 demo data" in title
    image = _screenshot(driver, "density")
    assert _pixels_near(image, _blend(SEQUENTIAL[-1], 0.78)) > 50
    assert _pixels_near(image, _blend(ZERO_COLOUR, 0.78)) > 50_000


def test_hotspot_map_in_a_browser(service: str, driver: Any) -> None:
    report = load(driver, f"{service}/maps/hotspots", DRAWN.format(n=3782))
    assert_clean(report, service)
    fills = _fills(driver)
    # the demo's urban clusters survive the correction for testing 3,782 communities at once
    assert fills.get(HOTSPOT_COLOURS["hot 95%"], 0) > 0, fills
    # Quiet countryside around quiet villages is "not significant", not a cold spot.
    assert fills.get(HOTSPOT_COLOURS["not significant"], 0) > 1000, fills
    legend = driver.execute_script("return document.querySelector('.siji-legend').innerText")
    assert "已校正多重检验 (FDR)" in legend
    assert "at most 5 % are expected to be false alarms" in legend
    image = _screenshot(driver, "hotspots")
    assert _pixels_near(image, _blend(HOTSPOT_COLOURS["hot 95%"], 0.85)) > 20


def test_the_uncorrected_hotspot_map_is_one_option_away(service: str, driver: Any) -> None:
    report = load(driver, f"{service}/maps/hotspots?correction=none", DRAWN.format(n=3782))
    assert_clean(report, service)
    fills = _fills(driver)
    assert fills.get(HOTSPOT_COLOURS["hot 99%"], 0) > 0, fills
    legend = driver.execute_script("return document.querySelector('.siji-legend').innerText")
    assert "未校正多重检验 not corrected for multiple testing" in legend


def test_pocket_park_map_in_a_browser(service: str, driver: Any) -> None:
    ready = "return document.querySelectorAll('.leaflet-marker-icon').length >= 5"
    report = load(driver, f"{service}/maps/pocket-parks?p=5", ready)
    assert_clean(report, service)
    ranks = driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-marker-icon .siji-rank'))"
        ".map(e => e.innerText)"
    )
    assert sorted(int(rank) for rank in ranks) == [1, 2, 3, 4, 5]
    fills = _fills(driver)
    assert fills.get(PARK_COLOUR, 0) >= 40, fills  # 40 demo parks as circle markers (and their areas)
    assert "demand covered" in driver.execute_script("return document.querySelector('.siji-panel').innerText")
    image = _screenshot(driver, "pocket-parks")
    assert _pixels_near(image, _rgb(CHOSEN_COLOUR), tolerance=6) > 100  # the numbered markers


def test_registered_parks_are_drawn_as_they_are(service: str, driver: Any, database: Path) -> None:
    """After 'siji parks import': the register's polygons and points, and the 300/500 m panel."""
    from greenspace.read import read_green_spaces
    from store.engine import make_engine
    from store.greenspace import import_green_spaces
    from tests.common import green_spaces

    park_file = database.with_name("parks.gpkg")
    green_spaces().to_file(park_file)
    engine = make_engine(f"sqlite:///{database}")
    import_green_spaces(engine, read_green_spaces(park_file), source="parks.gpkg")
    engine.dispose()
    ready = "return document.querySelectorAll('.leaflet-marker-icon').length >= 5"
    report = load(driver, f"{service}/maps/pocket-parks?p=5", ready)
    assert_clean(report, service)
    fills = _fills(driver)
    assert fills.get(PARK_COLOUR, 0) >= 4, fills  # 2 polygons, 1 open pocket park, the served area
    note = driver.execute_script("return document.querySelector('.siji-title').innerText")
    assert "existing parks: 3 from the park register" in note
    panels = driver.execute_script(
        "return Array.from(document.querySelectorAll('.siji-panel')).map(e => e.innerText).join(' ')"
    )
    assert "300米见绿" in panels
    assert "500米见园" in panels


def test_a_saved_map_works_from_files(tmp_path: Path, driver: Any) -> None:
    import geopandas as gpd
    import shapely

    from maps.render import density_map, save

    cells = [shapely.box(117 + i * 0.01, 36.1, 117.01 + i * 0.01, 36.11) for i in range(5)]
    units = gpd.GeoDataFrame(
        {
            "code": list("abcde"),
            "name": [f"社区{i}" for i in range(5)],
            "count": range(5),
            "per_km2": range(5),
        },
        geometry=cells,
        crs=4326,
    )
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy([117.005, 117.015], [36.105, 36.105]), crs=4326)
    target = tmp_path / "offline map.html"
    save(density_map(units, heat_points=points), target)
    url = target.as_uri()
    report = load(driver, url, DRAWN.format(n=5))
    assert_clean(report, tmp_path.as_uri(), policy=False)  # a file has no headers
    assert _count(driver, "path.leaflet-interactive") == 5
    # the stylesheets really applied: Leaflet's and the page's own
    assert (
        driver.execute_script("return getComputedStyle(document.querySelector('.leaflet-pane')).position")
        == "absolute"
    )
