"""The API docs offline: Swagger UI and ReDoc from the service itself, in a browser with no network."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.docs import LICENCES, REWRITES, docs_asset, served_bytes, shipped_dir
from api.security_headers import inline_script_hashes
from tests.browser import LiveService, assert_clean, load

SHIPPED_SHA256 = {
    "swagger-ui-bundle.js": "4b5a9b35a1adf37f00d39c0bae23cdb37007e2946240ef035137cc85b4d55349",
    "swagger-ui.css": "ca238f7d7c2cf4480c1e77a9c3b9da915ab216e96ffd354e69076560c650c6de",
    "redoc.standalone.js": "1320f442151c57c447d3b70c7ffc6c4f86d08464020fe34c8cc5d3164e9944f0",
    "favicon.png": "d16f72cf5a2773eba499cc7f3db1923c6f5f73de990f739e3a05806aafec15b7",
}
"""Swagger UI 5.32.6 and ReDoc 2.5.3 as npm publishes them: the versions whose licences
api/docs_assets/ holds (its README)."""
MEDIA = {"js": "text/javascript", "css": "text/css", "png": "image/png"}


@pytest.mark.parametrize("name", sorted(SHIPPED_SHA256))
def test_the_shipped_files_are_the_versions_whose_licences_we_hold(name: str) -> None:
    data = (shipped_dir() / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == SHIPPED_SHA256[name], (
        f"fastapi-offline ships another {name}: update api/docs_assets/ (licences, README) and this table"
    )


@pytest.mark.parametrize("name", [*sorted(SHIPPED_SHA256), *LICENCES])
def test_every_asset_and_licence_is_served(client: TestClient, name: str) -> None:
    response = client.get(f"/docs/assets/{name}")
    assert response.status_code == 200
    served = served_bytes(name) if name in REWRITES else docs_asset(name).read_bytes()  # type: ignore[union-attr]
    assert response.content == served
    suffix = name.rsplit(".", 1)[-1]
    assert response.headers["content-type"].startswith(MEDIA.get(suffix, "text/plain"))
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_redoc_bundle_asks_nothing_of_the_internet_and_is_otherwise_unchanged(client: TestClient) -> None:
    shipped = docs_asset("redoc.standalone.js").read_bytes()  # type: ignore[union-attr]
    served = client.get("/docs/assets/redoc.standalone.js").content
    assert b"cdn.redoc.ly" in shipped
    assert b"cdn.redoc.ly" not in served
    assert len(shipped) - len(served) == len(b"https://cdn.redoc.ly/redoc/logo-mini.svg")


@pytest.mark.parametrize(
    ("bundle", "licence"),
    [
        ("swagger-ui-bundle.js", "swagger-ui-bundle.js.LICENSE.txt"),
        ("redoc.standalone.js", "redoc.standalone.js.LICENSE.txt"),
    ],
)
def test_a_bundles_licence_pointer_leads_to_a_served_file(
    client: TestClient, bundle: str, licence: str
) -> None:
    head = docs_asset(bundle).read_bytes()[:200].decode()  # type: ignore[union-attr]
    assert f"see {licence}" in head
    assert client.get(f"/docs/assets/{licence}").status_code == 200


@pytest.mark.parametrize(
    "name", ["core.py", "..%2F..%2Fcore.py", "static", "swagger-ui-bundle.js.map", "LICENSE"]
)
def test_anything_else_is_a_404_listing_the_assets(client: TestClient, name: str) -> None:
    response = client.get(f"/docs/assets/{name}")
    assert response.status_code == 404
    if "%2F" not in name:  # a path of several parts matches no route at all
        assert "redoc.standalone.js" in response.json()["error"]["message"]


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_pages_load_nothing_from_elsewhere_and_allow_only_their_own_scripts(
    client: TestClient, page: str
) -> None:
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), html
    assert "fonts.googleapis" not in html
    policy = response.headers["content-security-policy"]
    hashes = inline_script_hashes(html)
    assert all(f"'sha256-{digest}'" in policy for digest in hashes)
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]


def test_every_reference_in_the_schema_resolves(client: TestClient) -> None:
    """A dangling $ref leaves ReDoc blank (the bulk lookup's body had one)."""
    text = client.get("/openapi.json").text
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    refs = set(re.findall(r'"\$ref":\s*"([^"]+)"', text))
    assert refs
    dangling = [ref for ref in refs if ref.removeprefix("#/components/schemas/") not in schemas]
    assert dangling == []


def test_swagger_asks_no_online_validator(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def test_pages_follow_the_root_path(client: TestClient) -> None:
    with TestClient(client.app, root_path="/siji") as mounted:
        html = mounted.get("/docs").text
    assert "'/siji/openapi.json'" in html
    assert "/siji/docs/assets/swagger-ui-bundle.js" in html


# --- in a browser with no network -------------------------------------------------------------


def _operations(base: str) -> int:
    schema = httpx.get(f"{base}/openapi.json").json()
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    return sum(1 for item in schema["paths"].values() for method in item if method in methods)


def test_swagger_ui_lists_every_operation_offline(live_service: LiveService, browser: Any) -> None:
    operations = _operations(live_service.url)
    ready = f"return document.querySelectorAll('.opblock').length >= {operations}"
    report = load(browser, f"{live_service.url}/docs", ready)
    assert_clean(report, live_service.url)
    assert int(browser.execute_script("return document.querySelectorAll('.opblock').length")) == operations
    title = browser.execute_script("return document.querySelector('.info .title').innerText")
    assert "siji" in title
    paths = browser.execute_script(
        "return Array.from(document.querySelectorAll('.opblock-summary-path')).map(e => e.innerText)"
    )
    assert "/v1/lookup" in " ".join(paths)


def test_redoc_lists_every_operation_offline(live_service: LiveService, browser: Any) -> None:
    operations = _operations(live_service.url)
    count = "document.querySelectorAll('[data-section-id^=\"operation/\"]').length"
    report = load(browser, f"{live_service.url}/redoc", f"return {count} >= {operations}")
    assert_clean(report, live_service.url)
    assert int(browser.execute_script(f"return {count}")) == operations
    fonts = browser.execute_script(
        "return Array.from(document.fonts).filter(f => f.status !== 'unloaded').map(f => f.family)"
    )
    assert not [f for f in fonts if "Montserrat" in f or "Roboto" in f], fonts


def test_the_browser_check_sees_a_csp_violation(browser: Any) -> None:
    """The control: a page whose policy forbids its own inline script is reported."""
    page = (
        "data:text/html,<meta http-equiv='Content-Security-Policy' content=\"script-src 'none'\">"
        "<script>document.title='ran'</script><p id=done>x</p>"
    )
    report = load(browser, page, "return document.getElementById('done') !== null")
    assert report["csp"], report
    assert browser.title != "ran"
