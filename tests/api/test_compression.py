"""Compression as a web service does it (api.app._serve_like_a_web_service), on a real uvicorn.

Each answer kind (HTML, JSON, GeoJSON, XML, CSV) in each encoding a client may ask for
decodes to the identity answer; small answers, images and refusals of every encoding go
as they are; streamed answers are compressed as they stream; server-sent events are
flushed event by event, not held by the compressor; ``HEAD`` of a stream ends at once.
"""

from __future__ import annotations

import gzip
import json
import time
import zlib

import brotli
import httpx
import numpy as np
import pytest

from api.app import COMPRESS_MIN_BYTES
from tests.browser import LiveService

CAIYUAN = "370902002000"
ANSWERS = {
    "html": "/maps/density",
    "json": "/v1/units?level=community&limit=500",
    "geojson": f"/v1/units/{CAIYUAN}.geojson",
    "xml": "/open311/v2/services.xml",
    "csv": "/maps/density?format=csv",
    "javascript": "/maps/assets/leaflet/leaflet.js",
}
MEDIA = {
    "html": "text/html",
    "json": "application/json",
    "geojson": "application/geo+json",
    "xml": "application/xml",
    "csv": "text/csv",
    "javascript": "text/javascript",
}


@pytest.fixture(scope="module")
def base(live_service: LiveService) -> str:
    """siji under uvicorn on loopback, on a database of this module (demo maps: no token needed)."""
    return live_service.url


@pytest.fixture(scope="module")
def staff(live_service: LiveService) -> dict[str, str]:
    """A city supervisor's token on that service, after one report (so one event)."""
    from routing.staff import issue
    from store.engine import make_engine

    report = {"lon": 117.13, "lat": 36.19, "category": "S-04-01", "description": "摆摊", "channel": "app"}
    assert httpx.post(f"{live_service.url}/v1/reports", json=report).status_code == 201
    engine = make_engine(f"sqlite:///{live_service.database}")
    token, _ = issue(engine, name="compression", unit_key="370900000000", role="supervisor")
    engine.dispose()
    return {"Authorization": f"Bearer {token}"}


def _raw(base: str, path: str, encoding: str, **kw: object) -> httpx.Response:
    """The answer as it travelled: not decoded by the client."""
    with httpx.Client(timeout=300) as client:
        request = client.build_request("GET", f"{base}{path}", headers={"Accept-Encoding": encoding}, **kw)  # type: ignore[arg-type]
        response = client.send(request, stream=True)
        response._content = b"".join(response.iter_raw())
        response.close()
    return response


def _decode(body: bytes, encoding: str | None) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":
        return bytes(brotli.decompress(body))
    if encoding == "zstd":
        import zstandard

        return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(body))
    assert encoding is None
    return body


@pytest.mark.parametrize("kind", sorted(ANSWERS))
@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_answers_are_compressed_as_asked_and_decode_to_the_same_bytes(
    base: str, kind: str, encoding: str
) -> None:
    plain = _raw(base, ANSWERS[kind], "identity")
    packed = _raw(base, ANSWERS[kind], encoding)
    assert plain.status_code == packed.status_code == 200
    assert packed.headers["content-type"].startswith(MEDIA[kind])
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == encoding
    assert "accept-encoding" in packed.headers["vary"].lower()
    assert _decode(packed.content, encoding) == plain.content
    assert len(packed.content) < len(plain.content) / 2
    if "content-length" in packed.headers:
        assert int(packed.headers["content-length"]) == len(packed.content)


def test_the_whole_city_density_map_travels_in_under_a_third_of_its_size(base: str) -> None:
    plain = len(_raw(base, "/maps/density", "identity").content)
    assert plain > 1_000_000
    for encoding in ("gzip", "br", "zstd", "gzip, deflate, br, zstd"):
        sent = len(_raw(base, "/maps/density", encoding).content)
        assert sent < plain / 3, (encoding, sent, plain)


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("identity", None),
        ("", None),
        ("gzip;q=0, br", "br"),
        ("br;q=0, gzip", "gzip"),
        ("*", "zstd"),
        ("deflate", None),  # not offered: sent as it is, never a 406
    ],
)
def test_the_encoding_follows_accept_encoding(base: str, accept: str, chosen: str | None) -> None:
    response = _raw(base, "/maps/density?format=csv", accept)
    assert response.headers.get("content-encoding") == chosen
    assert _decode(response.content, chosen).startswith("\ufeff".encode())  # the CSV's BOM


@pytest.mark.parametrize(
    "path",
    [
        "/healthz",
        "/v1/lookup?lon=117.13&lat=36.19",  # the hot path: under the threshold
        "/maps/assets/leaflet/images/layers.png",  # images are compressed already
        "/v1/units/000000000000",  # a small error
    ],
)
def test_small_answers_and_images_go_as_they_are(base: str, path: str) -> None:
    response = _raw(base, path, "gzip, br, zstd")
    assert "content-encoding" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
    if response.headers["content-type"].startswith("application/json"):
        assert len(response.content) < COMPRESS_MIN_BYTES


def test_a_streamed_bulk_answer_is_compressed_as_it_streams(base: str) -> None:
    n = 50_000
    rng = np.random.default_rng(20)
    lines = ["id,lon,lat"] + [
        f"{i},{x:.6f},{y:.6f}"
        for i, (x, y) in enumerate(zip(rng.uniform(116.3, 117.9, n), rng.uniform(35.6, 36.5, n), strict=True))
    ]
    upload = "\n".join(lines).encode()
    answers = {}
    for fmt in ("csv", "json"):
        for encoding in ("identity", "gzip"):
            with (
                httpx.Client(timeout=300) as client,
                client.stream(
                    "POST",
                    f"{base}/v1/lookup",
                    params={"format": fmt},
                    content=upload,
                    headers={"content-type": "text/csv", "Accept-Encoding": encoding},
                ) as response,
            ):
                assert response.status_code == 200
                pieces = list(response.iter_raw())
                answers[fmt, encoding] = (response.headers, pieces)
        headers, pieces = answers[fmt, "gzip"]
        assert headers["content-encoding"] == "gzip"
        assert "content-length" not in headers  # streamed: chunked, not buffered to measure it
        assert len(pieces) > 1
        plain = b"".join(answers[fmt, "identity"][1])
        assert gzip.decompress(b"".join(pieces)) == plain
        assert len(b"".join(pieces)) < len(plain) / 3
    assert json.loads(gzip.decompress(b"".join(answers["json", "gzip"][1])))  # whole and valid


def test_server_sent_events_are_flushed_event_by_event(base: str, staff: dict[str, str]) -> None:
    """The stream stays open for minutes; the first event must arrive, decodable, at once."""
    headers = {**staff, "Accept": "text/event-stream", "Accept-Encoding": "gzip"}
    started = time.monotonic()
    with (
        httpx.Client(timeout=30) as client,
        client.stream("GET", f"{base}/v1/events", headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["content-encoding"] == "gzip"
        decoder = zlib.decompressobj(31)
        text = ""
        for piece in response.iter_raw():
            text += decoder.decompress(piece).decode()
            if "event: report" in text and text.endswith("\n\n"):
                break
    assert time.monotonic() - started < 10, "the first event waited in the compressor"
    assert text.startswith("retry: 2000\n\n")
    assert "event: report" in text


def test_head_of_an_event_stream_ends_at_once(base: str, staff: dict[str, str]) -> None:
    started = time.monotonic()
    response = httpx.head(f"{base}/v1/events", headers={**staff, "Accept": "text/event-stream"}, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.content == b""
    assert time.monotonic() - started < 10
