"""Run the HTTP service: one process, or one SO_REUSEPORT listener per worker.

``uvicorn --workers N`` shares one listening socket between workers; measured on
2 cores, with uvloop one worker then took every long-lived connection, and on the
default h11/asyncio stack keep-alive requests stalled 44 ms (Nagle + delayed ACK).
Here every worker opens its own socket on the same port with ``SO_REUSEPORT`` and
the kernel spreads new connections across them.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
from typing import Any

from api.settings import Settings


def prepare(settings: Settings) -> None:
    """Check the rate-limit store, migrate the database, import the bundled set and check
    the rule files once, before workers start.

    Redis that cannot be reached, a database that cannot be used, or a bad catalog,
    calendar or departments file stops the start here with one line naming the fix,
    instead of a traceback from every worker.
    """
    from api.rate_counters import check_storage
    from api.settings import report_service
    from boundaries.service import BoundaryService
    from store.engine import make_engine, upgrade

    check_storage(settings.rate_limit_storage)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        boundaries = BoundaryService(engine, settings.snap_distance_m)
        if settings.load_bundled:
            boundaries.ensure_bundled()
        report_service(settings, engine, boundaries)
    finally:
        engine.dispose()


def _socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _uvicorn_config(host: str, port: int, log_level: str) -> Any:
    import uvicorn

    from api.app import create_app

    return uvicorn.Config(
        create_app(Settings()),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_level=log_level,
        access_log=False,
        timeout_keep_alive=30,
    )


def _worker(host: str, port: int, log_level: str) -> None:
    import uvicorn

    sock = _socket(host, port)
    server = uvicorn.Server(_uvicorn_config(host, port, log_level))
    server.run(sockets=[sock])


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "info") -> None:
    """Serve until interrupted."""
    settings = Settings()
    prepare(settings)
    if workers <= 1:
        _worker(host, port, log_level)
        return
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(host, port, log_level), daemon=False) for _ in range(workers)
    ]
    for process in processes:
        process.start()

    def stop(_signum: int, _frame: Any) -> None:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.join()
