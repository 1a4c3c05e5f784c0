"""A real HTTP receiver of webhooks on loopback, for the delivery tests.

:class:`Receiver` listens on a fixed loopback port in a thread, checks every request's
signature with the webhook's secret (:func:`routing.webhooks.verify`) and records
what it got.  A test can make it answer 500 (:attr:`Receiver.status`), answer slowly
(:attr:`Receiver.delay_s`), fail given events (:attr:`Receiver.failing`), or take it
down and up again (:meth:`Receiver.stop`, :meth:`Receiver.start`: the port is refused
in between, as for a receiver that is down).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from benchmarks.http import free_port
from routing.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


@dataclass
class Received:
    """One request the receiver answered."""

    event_id: str
    body: dict[str, Any]
    signed: bool
    status: int
    at: float = field(default_factory=time.monotonic)


class Receiver:
    """A webhook receiver on ``http://127.0.0.1:<port>/hook`` (see the module docstring)."""

    def __init__(self, secret: str, port: int | None = None) -> None:
        self.secret = secret
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.status = 200
        self.failing: set[str] = set()  # event ids answered 500 whatever the status
        self.delay_s = 0.0
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                signed = verify(
                    receiver.secret,
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    body,
                    self.headers.get(SIGNATURE_HEADER, ""),
                )
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                event_id = self.headers.get(EVENT_ID_HEADER, "")
                status = 500 if event_id in receiver.failing else receiver.status
                with receiver.lock:
                    receiver.received.append(Received(event_id, json.loads(body), signed, status))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"no")

            def log_message(self, *_args: Any) -> None:  # quiet
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Down: the port refuses connections until :meth:`start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in the order they came."""
        with self.lock:
            return [r for r in self.received if r.status < 300]

    def event_ids(self) -> set[str]:
        return {r.event_id for r in self.delivered()}

    def per_case(self) -> dict[int, list[tuple[int, str]]]:
        """Each case's delivered events as (report version, type), in arrival order, duplicates dropped."""
        seen: set[str] = set()
        cases: dict[int, list[tuple[int, str]]] = {}
        for item in self.delivered():
            if item.event_id in seen:
                continue
            seen.add(item.event_id)
            report = item.body["report"]
            cases.setdefault(report["id"], []).append((report["version"], item.body["type"]))
        return cases
