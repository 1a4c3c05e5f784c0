"""The threaded sink: a writer's chunks handed to a consumer running in a worker
thread, so that encoding and writing one chunk overlaps the lookup of the next."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator

import pyarrow as pa


class StreamSink:
    """Hands chunks to ``consume(first, rest)`` running in a worker thread.

    :meth:`put` queues a chunk (at most ``_QUEUE_CHUNKS`` wait, which bounds memory);
    the worker's errors surface in the caller's thread at the next :meth:`put` or at
    :meth:`close`; :meth:`abort` makes the rest iterator raise so that the consumer
    stops and closes its file.
    """

    _QUEUE_CHUNKS = 2  # chunks waiting for the writer: bounds memory, keeps it busy

    def __init__(self, consume: Callable[[pa.Table, Iterator[pa.Table]], None], name: str) -> None:
        self._consume = consume
        self._name = name
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=self._QUEUE_CHUNKS)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._aborted = threading.Event()

    def put(self, table: pa.Table) -> None:
        if self._thread is None:
            # A daemon, so that a writer never closed cannot keep the interpreter from exiting.
            self._thread = threading.Thread(target=self._run, args=(table,), name=self._name, daemon=True)
            self._thread.start()
            return
        self._put(table)

    def _run(self, first: pa.Table) -> None:
        try:
            self._consume(first, self._rest())
        except BaseException as exc:  # handed to the caller's thread in put()/close()
            self._error = exc

    def _rest(self) -> Iterator[pa.Table]:
        while True:
            table = self._queue.get()
            if self._aborted.is_set():
                raise RuntimeError("write aborted")
            if table is None:
                return
            yield table

    def _put(self, item: pa.Table | None) -> None:
        # Never block forever on a worker that has died: wait in short slices.
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._thread is None or not self._thread.is_alive():
                    raise RuntimeError(f"the {self._name} thread stopped") from self._error

    def close(self) -> None:
        if self._thread is None:
            return
        self._put(None)
        self._thread.join()
        self._thread = None
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        if self._thread is None:
            return
        self._aborted.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)  # wake the worker if it waits for a chunk
        self._thread.join()
        self._thread = None
