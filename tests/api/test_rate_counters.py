"""Rate limits counted in Redis hold for the whole service (``siji serve --workers 2``,
real processes, a real redis-server); counted in memory, each worker counts on its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import started
from tests.live import serve
from tests.redis_server import ThrowawayRedis

LIMIT = 30


@pytest.fixture
def redis_server() -> Iterator[ThrowawayRedis]:
    server = started(ThrowawayRedis().start, "Redis")
    yield server
    server.stop()


def _fresh_connections(base: str, n: int) -> list[httpx.Response]:
    """``n`` requests, each on a new connection, so the kernel spreads them over the
    workers (each worker has its own SO_REUSEPORT listener)."""
    answers = []
    for _ in range(n):
        with httpx.Client(base_url=base, timeout=30) as http:
            answers.append(http.get("/v1/units/370902"))
    return answers


def _limited(tmp_path: Path, storage: str) -> dict[str, str]:
    return {
        "SIJI_DATABASE_URL": f"sqlite:///{tmp_path}/live.db",
        "SIJI_RATE_LIMIT_STORAGE": storage,
        "SIJI_RATE_LIMIT_PER_ADDRESS": str(LIMIT),
        "SIJI_RATE_LIMIT_WINDOW_S": "600",  # no window ends during the test
    }


@pytest.mark.slow
def test_with_redis_the_limit_holds_for_two_workers(tmp_path: Path, redis_server: ThrowawayRedis) -> None:
    with serve(tmp_path, workers=2, env=_limited(tmp_path, redis_server.url)) as base:
        answers = _fresh_connections(base, 2 * LIMIT)
        assert [a.status_code for a in answers] == [200] * LIMIT + [429] * LIMIT
        refused = answers[-1]
        assert 1 <= int(refused.headers["Retry-After"]) <= 600
        error = refused.json()["error"]
        assert error["code"] == "rate_limited"
        assert f"at most {LIMIT} requests per 600 s per client address 127.0.0.1" in error["message"]
        # Redis lost while the service runs: requests are let through, not refused or failed.
        redis_server.stop()
        assert [a.status_code for a in _fresh_connections(base, 5)] == [200] * 5


@pytest.mark.slow
def test_in_memory_each_worker_counts_on_its_own(tmp_path: Path) -> None:
    """The documented price of the default: the test above fails without Redis."""
    with serve(tmp_path, workers=2, env=_limited(tmp_path, "memory://")) as base:
        allowed = sum(a.status_code == 200 for a in _fresh_connections(base, 2 * LIMIT))
    assert LIMIT < allowed <= 2 * LIMIT
