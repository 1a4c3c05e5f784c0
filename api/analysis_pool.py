"""Map analyses in worker processes, off the request path.

A citywide hot-spot map holds the interpreter lock for seconds (measured: 9.6 s with
999 permutations), and a lookup that arrives meanwhile waits for it (up to 0.5 s).
Here an analysis runs in a separate process, so the event loop and the lookups keep
the interpreter.  Jobs are pickled with cloudpickle (an analysis is a closure over
the request's parameters), and answer with the rendered page or table as bytes.

``SIJI_MAP_PROCESSES`` sets how many worker processes (default 1; 0 runs analyses in
a thread of the server, as before).  The workers are started with ``spawn`` (a fork
of a threaded server can inherit held locks) and import the analysis modules once,
when the first job arrives or when :meth:`AnalysisPool.warm` asks them to.  They run
at a lower CPU priority (niceness +10) than the server: on 2 cores, a map computed
beside a stream of lookups would otherwise take a core from them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
WORKER_NICENESS = 10
"""Added to the workers' niceness (lower CPU priority than the server)."""


class AnalysisPool:
    """Runs functions in worker processes (or in the calling thread with 0 processes).

    Examples
    --------
    >>> pool = AnalysisPool(0)
    >>> pool.call(sum, [1, 2, 3])
    6
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: Executor | None = None

    def _pool(self) -> Executor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_background,
            )
        return self._executor

    def call(self, func: Any, *args: Any) -> Any:
        """``func(*args)`` in a worker process; blocks the calling thread (a worker thread
        of the server, never the event loop) until it answers.  Exceptions are raised
        here as they were raised there."""
        if self.processes <= 0:
            return func(*args)
        import cloudpickle

        return self._pool().submit(_run, cloudpickle.dumps((func, args))).result()

    def warm(self) -> None:
        """Start the workers and have them import the analysis modules now, without
        waiting for them (the first map then does not pay for the imports)."""
        if self.processes > 0:
            for _ in range(self.processes):
                self._pool().submit(_import_analyses)

    def shutdown(self) -> None:
        """Stop the workers (jobs not started are cancelled)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def _background() -> None:
    # Analyses are background work: on a machine with as many busy threads as cores,
    # the scheduler then serves the lookups first.
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)


def _run(job: bytes) -> Any:
    import cloudpickle

    func, args = cloudpickle.loads(job)
    return func(*args)


def _import_analyses() -> None:
    import maps.render  # noqa: F401 - imported for the side effect of loading it
