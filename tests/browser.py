"""A real headless Chromium against the real service on loopback, with no network.

Shared by the browser checks of the maps (``tests/maps/test_browser.py``), the API docs
and the front page (``tests/api/test_pages.py``).  :func:`serve` runs the service with
uvicorn in a thread on a free loopback port; :func:`chromium` starts Chromium with every
host name but the loopback one unresolvable; :func:`load` opens a page and collects what
went wrong: console errors, failed requests, requests that leave the origin, and
Content-Security-Policy violations (a ``securitypolicyviolation`` listener installed
before any script of the page runs, besides the console's "Refused to ..." errors).

Chromium and chromedriver come from Debian (``scripts/system-deps.sh``).  Without them
the tests skip, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
    # nothing may leave the machine: every host name but the loopback one fails to resolve
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)
_WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", e => window.__cspViolations.push(
    `${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`));
"""


@dataclass(frozen=True)
class LiveService:
    """A running service (the ``live_service`` fixture): its base URL and SQLite file."""

    url: str
    database: Path


def browser_or_skip() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        reason = f"{' and '.join(missing)} not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(f"the browser check must run in CI: {reason}")
        pytest.skip(reason)


@contextmanager
def serve(database_url: str) -> Iterator[str]:
    """The siji service on a free loopback port (uvicorn in a thread); yields its base URL."""
    import uvicorn

    from api.app import create_app
    from api.settings import Settings

    settings = Settings(database_url=database_url, environment="test", escalation_interval_s=0)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the service did not start")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (selenium driver) that logs the console and the network."""
    browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    profile = tempfile.TemporaryDirectory(prefix="siji-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile.name}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(180)
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _WATCH_CSP})
    try:
        yield browser
    finally:
        browser.quit()
        profile.cleanup()


def load(driver: Any, url: str, ready_js: str, timeout: float = 120) -> dict[str, Any]:
    """Open ``url``, wait until ``ready_js`` is true, and collect what went wrong on the way.

    Returns a dict: ``severe`` console messages, ``failed`` requests, every requested
    URL (``urls``), ``csp`` violations, whether the page's own request was seen
    (``started``), the response headers of the page (``headers``, names lower case) and
    the bytes its answer took on the wire (``transferred``, headers included).
    """
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop what came before (the browser's own start page)
    driver.get_log("performance")
    driver.get(url)
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(ready_js))
    time.sleep(0.8)  # let the last frame paint
    console = driver.get_log("browser")
    requests: dict[str, str] = {}
    failed: list[str] = []
    headers: dict[str, str] = {}
    page_request = None
    transferred = 0
    started = False
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        method, params = message["method"], message["params"]
        if method == "Network.requestWillBeSent":
            if not started and params["request"]["url"] == url:
                started, page_request = True, params["requestId"]
            if started:
                requests[params["requestId"]] = params["request"]["url"]
        elif not started:
            continue
        elif method == "Network.loadingFinished" and params["requestId"] == page_request:
            transferred = int(params["encodedDataLength"])
        elif method == "Network.loadingFailed":
            failed.append(f"{requests.get(params['requestId'], params['requestId'])}: {params['errorText']}")
        elif method == "Network.responseReceived":
            response = params["response"]
            if response["status"] >= 400:
                failed.append(f"{response['url']}: HTTP {response['status']}")
            if response["url"] == url:
                headers = {k.lower(): v for k, v in response["headers"].items()}
    return {
        "severe": [e["message"] for e in console if e["level"] == "SEVERE"],
        "failed": failed,
        "urls": list(requests.values()),
        "csp": driver.execute_script("return window.__cspViolations || null"),
        "started": started,
        "headers": headers,
        "transferred": transferred,
    }


def assert_clean(report: dict[str, Any], origin: str, *, policy: bool = True) -> None:
    """No console error, failed request, request off the origin or CSP violation; with
    ``policy``, the page was served with a Content-Security-Policy (so "no violation"
    means something)."""
    assert report["started"], "the page's own request was not seen in the performance log"
    assert report["severe"] == [], report["severe"]
    assert report["failed"] == [], report["failed"]
    assert report["csp"] == [], f"Content-Security-Policy violations: {report['csp']}"
    # chrome:// pages are the browser's own (its start page may still be loading), never the network
    # blob: URLs of the origin are made by the page itself (ReDoc's search worker)
    outside = [
        url for url in report["urls"] if not url.startswith((origin, f"blob:{origin}", "data:", "chrome://"))
    ]
    assert outside == [], f"requests that leave the page's origin: {outside}"
    if policy:
        assert "script-src 'self'" in report["headers"].get("content-security-policy", ""), report["headers"]
