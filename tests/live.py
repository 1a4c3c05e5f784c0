"""``siji serve`` as a user runs it, in a real process on loopback, for the tests that need one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from benchmarks.http import free_port as free_port


@contextmanager
def serve(
    tmp_path: Path, workers: int = 1, env: Mapping[str, str] | None = None, ready_s: float = 90
) -> Iterator[str]:
    """Run ``siji serve --workers N`` until the block ends; yield its base URL once ``/readyz``
    answers 200.  ``env`` adds to (or overrides) the environment; by default the database
    is an SQLite file in ``tmp_path``."""
    port = free_port()
    environment = {**os.environ, "SIJI_DATABASE_URL": f"sqlite:///{tmp_path}/live.db", **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "siji.cli", "serve", "--port", str(port), "--workers", str(workers),
         "--log-level", "warning"],
        env=environment,
        cwd=tmp_path,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "siji serve exited early"
            time.sleep(0.3)
        else:
            pytest.fail(f"siji serve did not become ready in {ready_s:g} s")
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
