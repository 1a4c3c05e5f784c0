"""The front page at ``/``: what the service is and where to go, in Chinese and English.

One static page (the version is the only thing that changes): no report, no person and
no token is ever on it, and it needs no script, so its policy is the strict default
(:mod:`api.security_headers`).  Links are relative to the root path a proxy mounts
the service under.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import root_path

router = APIRouter(tags=["health"])

LINKS: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "接口文档 API documentation",
        (
            ("/docs", "Swagger UI", "逐个试用接口 try every operation"),
            ("/redoc", "ReDoc", "通读接口说明 read the reference"),
            ("/openapi.json", "OpenAPI 3.1", "机器可读的接口描述 the machine-readable schema"),
        ),
    ),
    (
        "规划地图 Planner maps",
        (
            ("/maps/density", "报告密度 Report density", "每个社区的报告数、热力图、H3 六边形"),
            ("/maps/hotspots", "热点分析 Hot spots", "Getis-Ord Gi* 冷热点, 已校正多重检验"),
            ("/maps/pocket-parks", "口袋公园选址 Pocket-park sites", "300米见绿、500米见园"),
        ),
    ),
    (
        "数据与运行 Data and operations",
        (
            ("/v1/generations", "边界版本 Boundary generations", "每一版行政区划边界及其有效期"),
            ("/v1/lookup?lon=117.13&lat=36.19", "辖区查询 Point lookup", "一个点属于哪个区县、街道、社区"),
            ("/readyz", "就绪检查 Readiness", "数据库与现行边界是否可用"),
            ("/open311/v2/discovery.json", "Open311 服务发现 Open311 discovery", "GeoReport v2 接口与格式"),
        ),
    ),
)
"""The page's sections: (heading, ((path, name, what it is), ...))."""

_STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;color:#1f2933;
background:#f5f7fa;line-height:1.5}
main{max-width:60rem;margin:0 auto;padding:2rem 1.25rem}
h1{margin:0 0 .25rem;font-size:1.8rem}h2{font-size:1.15rem;margin:1.75rem 0 .5rem}
p.lead{margin:.25rem 0 1rem;color:#3e4c59}
ul{list-style:none;padding:0;margin:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));
gap:.6rem}
li a{display:block;padding:.7rem .9rem;background:#fff;border:1px solid #cbd2d9;border-radius:6px;
text-decoration:none;color:inherit}
li a:hover{border-color:#2f6fb0}
li strong{display:block;color:#1f5f99}li span{font-size:.9rem;color:#52606d}
footer{margin-top:2rem;font-size:.85rem;color:#616e7c}code{font-size:.9em}
"""


def front_page(root: str, version: str) -> str:
    """The front page's HTML, with links under ``root`` (the app's root path).

    Examples
    --------
    >>> page = front_page("/siji", "1.0")
    >>> 'href="/siji/docs"' in page, "四级" in page, "<script" in page
    (True, True, False)
    """
    sections = "".join(
        f"<section><h2>{escape(heading)}</h2><ul>"
        + "".join(
            f'<li><a href="{escape(root + path)}"><strong>{escape(name)}</strong>'
            f"<span>{escape(what)}</span></a></li>"
            for path, name, what in links
        )
        + "</ul></section>"
        for heading, links in LINKS
    )
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>四级 siji · 泰安市城市管理辖区路由服务 jurisdiction routing for Tai'an</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<h1>四级 siji</h1>
<p class="lead">泰安市城市管理辖区路由服务：市、区县、街道乡镇、社区村四级，一个点归谁管，一查即知；
群众上报的问题自动派到属地单位，限时办结、逾期上报，按单位评出骏马、黄牛、蜗牛。</p>
<p class="lead">Jurisdiction routing for city management in Tai'an: for any point, which city,
district or county, subdistrict or township and community or village own it (a point on a
shared edge included).  Reports from the app, the 12345 hotline, service stations and patrols
go to the unit that owns the place, are handled in a closed loop with deadlines and escalate up
the chain when they stall; planners see where problems cluster and where pocket parks would serve
most residents.</p>
{sections}
<footer>siji {escape(version)} · 坐标 WGS84, 也接受 GCJ-02 与 BD-09 (crs=gcj02|bd09) ·
staff views need a token (Authorization: Bearer …)</footer>
</main>
</body>
</html>
"""


@router.get(
    "/",
    response_class=HTMLResponse,
    summary="The front page: what siji is and where to go",
    operation_id="home",
)
async def home(request: Request) -> HTMLResponse:
    """Links to the API docs, the maps, the generations, readiness and Open311 discovery."""
    return HTMLResponse(front_page(root_path(request), request.app.version))
