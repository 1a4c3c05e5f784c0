"""``siji serve`` as a user runs it: a real uvicorn process on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(tmp_path: Path, workers: int) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "SIJI_DATABASE_URL": f"sqlite:///{tmp_path}/live.db"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "siji.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "siji serve exited early"
            time.sleep(0.3)
        else:
            pytest.fail("siji serve did not become ready in 90 s")
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.parametrize("workers", [1, 2])
def test_live_server_answers_lookups_and_uploads(tmp_path: Path, workers: int) -> None:
    for base in _serve(tmp_path, workers):
        with httpx.Client(base_url=base, timeout=30) as http:
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
