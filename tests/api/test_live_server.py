"""``siji serve`` as a user runs it: a real uvicorn process on loopback."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.live import serve


@pytest.mark.parametrize("workers", [1, 2])
def test_live_server_answers_lookups_and_uploads(tmp_path: Path, workers: int) -> None:
    with serve(tmp_path, workers) as base, httpx.Client(base_url=base, timeout=30) as http:
        for _ in range(20):  # several keep-alive requests, spread over the workers
            body = http.get("/v1/lookup", params={"lon": 117.13, "lat": 36.19}).json()
            assert body["community"]["code"] == "370902002001"
        csv = b"id,lon,lat\n1,117.13,36.19\n2,120,30\n"
        response = http.post(
            "/v1/lookup", content=csv, headers={"content-type": "text/csv"}, params={"format": "csv"}
        )
        assert response.status_code == 200
        assert response.text.count("\n") == 3
        assert http.get("/v1/lookup", params={"lon": "x", "lat": 1}).status_code == 422
