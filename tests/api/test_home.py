"""The front page: what siji is, where to go, in Chinese and English; no personal data."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.routes.home import LINKS
from tests.browser import LiveService, assert_clean, load

PATHS = [path for _, links in LINKS for path, _, _ in links]


def _links(page: str) -> list[str]:
    return [unescape(href) for href in re.findall(r'<a href="([^"]+)"', page)]


def test_the_front_page_says_what_the_service_is(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<title>四级 siji" in page
    for words in ("辖区", "jurisdiction", "泰安", "Tai'an", "Swagger UI", "ReDoc", "骏马"):
        assert words in page, words
    assert _links(page) == PATHS


def test_it_links_the_docs_the_maps_readiness_generations_and_open311_discovery() -> None:
    wanted = {"/docs", "/redoc", "/maps/density", "/maps/hotspots", "/maps/pocket-parks", "/readyz",
              "/v1/generations", "/open311/v2/discovery.json"}  # fmt: skip
    assert wanted <= {path.partition("?")[0] for path in PATHS}


@pytest.mark.parametrize("path", PATHS)
def test_every_link_answers_a_new_user(live_service: LiveService, path: str) -> None:
    """On a new installation (no reports: the maps show demo data, no token needed)."""
    response = httpx.get(f"{live_service.url}{path}", timeout=300)
    assert response.status_code == 200, response.text[:300]


def test_head_of_the_front_page(client: TestClient) -> None:
    for encoding in ("identity", "gzip", "br"):
        headers = {"Accept-Encoding": encoding}
        got, head = client.get("/", headers=headers), client.head("/", headers=headers)
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == got.headers["content-length"]
        assert head.headers.get("content-encoding") == got.headers.get("content-encoding")


def test_links_follow_the_root_path(client: TestClient) -> None:
    with TestClient(client.app, root_path="/siji") as mounted:
        page = mounted.get("/").text
    assert _links(page) == [f"/siji{path}" for path in PATHS]


def test_an_anonymous_visitor_sees_no_personal_data(client: TestClient) -> None:
    phone, id_number = "13912345678", "370902199001011234"
    report = {
        "lon": 117.13, "lat": 36.19, "category": "S-04-01", "channel": "app",
        "description": f"门口摆摊, 联系 {phone}, 身份证 {id_number}",
        "contact": f"王小明 {phone}",
    }  # fmt: skip
    before = client.get("/").text
    assert client.post("/v1/reports", json=report).status_code == 201
    page = client.get("/").text
    assert page == before  # nothing a resident filed reaches the page
    for personal in (phone, id_number, "王小明", "摆摊"):
        assert personal not in page


def test_the_front_page_in_a_browser_offline(live_service: LiveService, browser: Any) -> None:
    report = load(browser, f"{live_service.url}/", "return document.querySelectorAll('li a').length > 0")
    assert_clean(report, live_service.url)
    assert "'sha256-" not in report["headers"]["content-security-policy"]  # no script at all
    hrefs = browser.execute_script("return Array.from(document.querySelectorAll('li a')).map(a => a.href)")
    assert hrefs == [f"{live_service.url}{path}" for path in PATHS]
    heading = browser.execute_script("return document.querySelector('h1').innerText")
    assert heading == "四级 siji"
