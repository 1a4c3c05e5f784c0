"""Map pages: layers, legends, tooltips, Chinese text, no CDN, sizes, offline files, the CLI."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path
from urllib.parse import unquote

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from maps.offline import (
    ASSETS_DIR,
    CDN_ASSETS,
    UnvendoredAssetError,
    asset_file,
    external_asset_urls,
    localize,
)
from maps.render import (
    HOTSPOT_COLOURS,
    SEQUENTIAL,
    Classes,
    Tiles,
    as_tiles,
    density_map,
    hotspot_map,
    pocket_park_map,
    result_csv,
    result_geojson,
    save,
    simplify_coverage,
    to_html,
)

CDN_HOSTS = (
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "code.jquery.com",
    "netdna.bootstrapcdn.com",
    "unpkg.com",
)


def _grid(n: int = 4) -> gpd.GeoDataFrame:
    """n×n square units near 泰安 with Chinese names and increasing counts."""
    cells = [shapely.box(117.0 + i * 0.01, 36.1 + j * 0.01, 117.01 + i * 0.01, 36.11 + j * 0.01)
             for i in range(n) for j in range(n)]  # fmt: skip
    count = np.arange(n * n)
    return gpd.GeoDataFrame(
        {
            "code": [f"3709020010{k:02d}" for k in range(n * n)],
            "name": [f"测试{k}社区" for k in range(n * n)],
            "parent_code": "370902001000",
            "count": count,
            "area_km2": 1.0,
            "per_km2": count / 1.0,
        },
        geometry=cells,
        crs=4326,
    )


def _points(n: int = 30, seed: int = 1) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    return gpd.GeoDataFrame(
        {"id": np.arange(n)},
        geometry=gpd.points_from_xy(rng.uniform(117.0, 117.04, n), rng.uniform(36.1, 36.14, n)),
        crs=4326,
    )


def _data_of(page: str) -> list[dict]:
    """The GeoJSON collections written into a page."""
    found = re.findall(r"var geo_json_data_\w+ = (\{.*?\});\n", page)
    return [json.loads(text) for text in found]


def _no_cdn(page: str) -> None:
    assert external_asset_urls(page) == []
    for host in CDN_HOSTS:
        assert host not in page, host


# --- density ------------------------------------------------------------------------------


def test_density_map_has_layers_legend_tooltips_and_chinese() -> None:
    units = _grid()
    hexes = gpd.GeoDataFrame(
        {"h3": ["8830e1d8a1fffff", "8830e1d8a3fffff"], "count": [5, 1]},
        geometry=[shapely.box(117.0, 36.1, 117.005, 36.105), shapely.box(117.005, 36.1, 117.01, 36.105)],
        crs=4326,
    )
    page = to_html(density_map(units, heat_points=_points(), hexes=hexes, note="演示数据 demo data"), "/a")
    _no_cdn(page)
    assert '<meta charset="utf-8" />' in page
    assert '<html lang="zh-CN">' in page
    assert "Noto Sans CJK SC" in page
    assert "WenQuanYi Micro Hei" in page
    assert "Microsoft YaHei" in page
    for layer in ("报告数 reports", "六边形网格 H3 hexagons", "热力图 heat map"):
        assert json.dumps(layer) in page, layer  # in the layer control
    assert "L.control.layers(" in page
    assert "L.heatLayer(" in page
    assert '<script src="/a/leaflet.heat/leaflet_heat.min.js"></script>' in page
    assert "siji-legend" in page
    assert "报告数 reports" in page
    assert "每个六边形的报告数" in page
    assert "bindTooltip" in page
    assert '"name"' in page
    assert '"code"' in page
    assert '"count"' in page
    assert "测试15社区" in page  # Chinese names as UTF-8 text, not \\u escapes
    assert "演示数据 demo data" in page
    collections = _data_of(page)
    choropleth = next(c for c in collections if len(c["features"]) == 16)
    colours = {f["properties"]["_c"] for f in choropleth["features"]}
    assert -1 in colours
    assert max(colours) >= 3
    assert choropleth["features"][5]["properties"]["name"] == "测试5社区"


def test_density_metrics_and_their_errors() -> None:
    page = to_html(density_map(_grid(), metric="per_km2"), "/a")
    assert "每平方公里报告数 reports per km²" in page
    with pytest.raises(ValueError, match="per_1000"):
        density_map(_grid(), metric="per_1000")
    with pytest.raises(ValueError, match="unknown metric"):
        density_map(_grid(), metric="per_person")
    with_people = _grid().assign(population=1000.0, per_1000=lambda f: f["count"] * 1.0)
    assert "每千名居民报告数" in to_html(density_map(with_people, metric="per_1000"), "/a")


def test_class_breaks() -> None:
    classes = Classes.quantiles([0, 1, 1, 2, 5, 9, 30], k=3)
    assert classes.breaks == (2.0, 9.0, 30.0)
    assert classes.labels() == ["1–2", "3–9", "10–30"]
    assert classes.classify([0, 1, 7, 30, float("nan")]).tolist() == [-1, 0, 1, 2, -2]
    assert Classes.quantiles([0, 0]).labels() == []
    floats = Classes.quantiles([0.1, 0.25, 0.5, 1.5], k=2)
    assert floats.labels() == ["≤ 0.5", "0.5–1.5"]
    assert classes.colours(SEQUENTIAL) == [SEQUENTIAL[0], SEQUENTIAL[2], SEQUENTIAL[5]]


# --- hot spots ----------------------------------------------------------------------------


def test_hotspot_map_uses_a_diverging_palette_and_a_moran_layer() -> None:
    units = _grid()
    classes = list(HOTSPOT_COLOURS) * 3
    hot = units.assign(
        gi_z=np.linspace(3, -3, 16),
        gi_p=0.01,
        hotspot=classes[:16],
        hotspot_zh="x",
        neighbours=3,
        moran_i=0.5,
        moran_p=[0.01] * 8 + [0.5] * 8,
        moran_quadrant=["HH", "LL", "HL", "LH"] * 4,
    )
    page = to_html(hotspot_map(hot), "/a")
    _no_cdn(page)
    for colour in HOTSPOT_COLOURS.values():
        assert colour in page
    assert "热点 (99% 置信) hot 99%" in page
    assert "冷点 (99% 置信) cold 99%" in page
    assert "局部莫兰 local Moran" in page
    data = _data_of(page)
    assert len(data) == 1  # both layers draw the same collection
    quadrants = [f["properties"]["_m"] for f in data[0]["features"]]
    assert quadrants[:4] == ["HH", "LL", "HL", "LH"]
    assert set(quadrants[8:]) == {"not significant"}
    assert data[0]["features"][0]["properties"]["gi_class"] == "热点 (99% 置信) (hot 99%)"


def test_hotspots_on_hexagons_name_the_cell() -> None:
    hexes = _grid().drop(columns=["code", "name", "parent_code"]).assign(
        h3=[f"88{k:013x}" for k in range(16)], gi_z=0.0, gi_p=1.0, hotspot="not significant",
        hotspot_zh="不显著",
        neighbours=2,
    )  # fmt: skip
    page = to_html(hotspot_map(hexes), "/a")
    assert '"h3"' in page
    assert "个六边形" in page


# --- pocket parks ---------------------------------------------------------------------------


def _plan() -> types.SimpleNamespace:
    chosen = gpd.GeoDataFrame(
        {"candidate_id": [17, 4, 9], "rank": [1, 2, 3], "new_demand_covered": [12, 7, 1],
         "subdistrict_code": ["370902001000"] * 3},
        geometry=gpd.points_from_xy([117.01, 117.02, 117.03], [36.11, 36.12, 36.13]),
        crs=4326,
    )  # fmt: skip
    return types.SimpleNamespace(
        chosen=chosen,
        uncovered=_points(5),
        service_areas=chosen.set_geometry(chosen.to_crs(4548).buffer(300).to_crs(4326)).assign(radius_m=300.0),
        coverage={"total_demand": 30, "covered_before": 4, "covered_after": 24, "share_before": 4 / 30,
                  "share_after": 0.8, "radius_m": 300.0, "p": 3},
    )  # fmt: skip


def test_pocket_park_map_ranks_sites_and_shows_coverage() -> None:
    parks = gpd.GeoDataFrame(
        {"park_id": [1, 2], "name": ["岱庙1号口袋公园", "岱庙2号口袋公园"]},
        geometry=gpd.points_from_xy([117.0, 117.035], [36.1, 36.135]),
        crs=4326,
    )
    candidates = _points(40).rename(columns={"id": "candidate_id"})
    page = to_html(pocket_park_map(_plan(), parks=parks, candidates=candidates), "/a")
    _no_cdn(page)
    for layer in ("现有绿地（点） green space (points)", "候选地块 candidate sites",
                  "新选址（按顺序） chosen sites, ranked", "服务范围 service areas (300 m)",
                  "未覆盖需求 uncovered demand"):  # fmt: skip
        assert json.dumps(layer) in page, layer
    ranks = re.findall(r"siji-rank\\\"\\u003e(\d+)", page)
    assert ranks == ["1", "2", "3"]
    assert "13.3% → 80.0%" in page  # the coverage panel
    assert "岱庙1号口袋公园" in page
    assert "<b>第 1 处 rank 1</b>" in page  # the tooltip of the first site


# --- pages, tiles, assets ---------------------------------------------------------------------


def test_tiles_are_off_by_default_and_configurable() -> None:
    plain = to_html(density_map(_grid()), "/a")
    assert "L.tileLayer" not in plain
    assert "openstreetmap" not in plain
    tiles = Tiles("http://127.0.0.1:9000/tiles/{z}/{x}/{y}.png", "© 泰安市自然资源和规划局")
    page = to_html(density_map(_grid(), tiles=tiles), "/a")
    assert "L.tileLayer" in page
    assert "http://127.0.0.1:9000/tiles/{z}/{x}/{y}.png" in page
    _no_cdn(page)  # the tile server is no script or stylesheet
    assert as_tiles(("http://t/{z}/{x}/{y}.png", "© t")) == Tiles("http://t/{z}/{x}/{y}.png", "© t")
    with pytest.raises(ValueError, match="placeholders"):
        as_tiles(("http://t/tiles.png", "© t"))
    with pytest.raises(ValueError, match="attribution"):
        as_tiles(("http://t/{z}/{x}/{y}.png", " "))
    with pytest.raises(ValueError, match="attribution"):
        as_tiles("http://t/{z}/{x}/{y}.png")  # type: ignore[arg-type]


def test_every_folium_asset_url_is_vendored() -> None:
    urls = [url for _, url in folium.Map.default_js + folium.Map.default_css]
    urls += [url for _, url in folium.plugins.HeatMap.default_js]
    for url in urls:
        assert url in CDN_ASSETS, f"{url} is not vendored in maps/assets"
    for local in CDN_ASSETS.values():
        assert (ASSETS_DIR / local).is_file(), local
    with pytest.raises(UnvendoredAssetError, match="no vendored copy"):
        localize('<script src="https://unpkg.com/leaflet.markercluster.js"></script>', "/a")


def test_css_urls_resolve_inside_the_assets_folder() -> None:
    for css in ASSETS_DIR.rglob("*.css"):
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css.read_text(encoding="utf-8")):
            if url.startswith(("data:", "#")):
                continue
            assert not url.startswith(("http:", "https:", "//")), (css, url)
            target = (css.parent / unquote(url.split("?")[0].split("#")[0])).resolve()
            assert target.is_file(), (css.relative_to(ASSETS_DIR), url)
            assert target.is_relative_to(ASSETS_DIR)


def test_the_assets_readme_lists_every_package() -> None:
    readme = (ASSETS_DIR / "README.md").read_text(encoding="utf-8")
    for folder in {path.split("/")[0] for path in CDN_ASSETS.values()}:
        assert f"`{folder}/`" in readme, folder
    for name in ("1.9.3", "3.7.1", "5.2.2", "6.2.0", "BSD-2-Clause", "MIT", "SIL OFL 1.1"):
        assert name in readme


def test_asset_paths_are_checked() -> None:
    assert asset_file("leaflet/images/layers.png") == ASSETS_DIR / "leaflet" / "images" / "layers.png"
    for bad in ("", "../render.py", "leaflet/../../render.py", "/etc/passwd", "leaflet\\leaflet.js",
                "leaflet",
                ".gitignore", "leaflet/.hidden.js", "x" * 300):  # fmt: skip
        assert asset_file(bad) is None, bad


def test_save_writes_a_page_that_loads_its_assets_relatively(tmp_path: Path) -> None:
    target = tmp_path / "地图 out" / "density.html"
    files = save(density_map(_grid(), heat_points=_points()), target)
    page = target.read_text(encoding="utf-8")
    assert files == tmp_path / "地图 out" / "density_files"
    _no_cdn(page)
    local = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page)
    local = [url for url in local if not url.startswith("data:")]
    assert len(local) >= 10
    for url in local:
        assert url.startswith("density_files/")
        assert (target.parent / unquote(url)).is_file(), url


# --- geometry and sizes -----------------------------------------------------------------------


def test_simplify_coverage_keeps_neighbours_together() -> None:
    from boundaries.bundled import load_taian

    units = load_taian()
    communities = units[units["parent_code"] == "370902002000"]
    simplified = simplify_coverage(communities.geometry.values, 0.0005)
    assert (
        shapely.get_num_coordinates(simplified).sum()
        < shapely.get_num_coordinates(communities.geometry.values).sum()
    )
    assert shapely.coverage_is_valid(simplified)
    assert shapely.is_valid(simplified).all()
    # shared edges stay shared: the union has no slivers between neighbours
    assert (
        abs(shapely.union_all(simplified).area - shapely.union_all(communities.geometry.values).area) < 1e-6
    )


@pytest.fixture(scope="module")
def city() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    from boundaries.bundled import load_taian
    from maps.demo import demo_reports

    units = load_taian()
    return units, demo_reports(units)


def test_whole_city_maps_stay_a_few_megabytes(city: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    from maps.build import density_analysis, hotspot_analysis

    units, reports = city
    density = density_analysis(reports, units)
    page = to_html(density.draw(None), "/maps/assets")
    size = len(page.encode("utf-8"))
    assert len(density.table) == 3782
    assert 1_000_000 < size < 5_000_000, f"whole-city density map is {size:,} bytes"
    polygons = max(len(c["features"]) for c in _data_of(page))
    assert polygons == 3782
    hot = to_html(hotspot_analysis(reports, units, permutations=99, local_moran=True).draw(None), "/a")
    assert len(hot.encode("utf-8")) < 5_000_000  # Gi* and local Moran share one copy of the polygons
    _no_cdn(page)
    _no_cdn(hot)


def test_result_tables() -> None:
    units = _grid(2)
    document = result_geojson(units, analysis="density", summary={"n": np.int64(3)})
    assert document["summary"] == {"n": 3}
    assert document["features"][1]["properties"]["name"] == "测试1社区"
    assert document["features"][0]["geometry"]["type"] == "Polygon"
    json.dumps(document, allow_nan=False)
    csv = result_csv(units).decode("utf-8-sig").splitlines()
    assert csv[0] == "code,name,parent_code,count,area_km2,per_km2"
    assert csv[1].startswith("370902001000,测试0社区,")
    points = result_csv(_points(2)).decode("utf-8-sig").splitlines()
    assert points[0] == "id,lon,lat"


# --- the command line -------------------------------------------------------------------------


def test_cli_writes_offline_maps_and_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from siji.cli import app

    monkeypatch.setenv("SIJI_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["maps", "pocket-parks", "parks.html", "-p", "3"])
    assert result.exit_code == 0, result.output
    assert "3,000 generated reports (the database has no reports yet)" in result.stdout
    assert "40 demo parks (the park register is empty)" in result.stdout
    assert re.search(
        r"300米见绿 \(green space within 300 m\): demand covered [\d,]+/[\d,]+ \([\d.]+%\) before → "
        r"[\d,]+/[\d,]+ \([\d.]+%\) after 3 new sites",
        result.stdout,
    )
    assert "500米见园 (a park within 500 m): demand covered" in result.stdout
    page = (tmp_path / "parks.html").read_text(encoding="utf-8")
    _no_cdn(page)
    for url in re.findall(r'(?:src|href)="(parks_files/[^"]+)"', page):
        assert (tmp_path / url).is_file(), url
    assert (tmp_path / "parks_files" / "README.md").is_file()

    table = runner.invoke(app, ["maps", "density", "density.csv", "--level", "district", "--channel", "app"])
    assert table.exit_code == 0, table.output
    lines = (tmp_path / "density.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("code,name,parent_code,count")
    assert len(lines) == 7
    hot = runner.invoke(app, ["maps", "hotspots", "hot.geojson", "--on", "hex", "--permutations", "99"])
    assert hot.exit_code == 0, hot.output
    assert json.loads((tmp_path / "hot.geojson").read_text(encoding="utf-8"))["analysis"] == "hotspots"
    assert runner.invoke(app, ["maps", "density", "map.pdf"]).exit_code == 2
    bad_tiles = runner.invoke(app, ["maps", "density", "map.html", "--tiles", "http://t/{z}/{x}/{y}.png"])
    assert bad_tiles.exit_code == 2
    assert "--attribution" in bad_tiles.stderr
