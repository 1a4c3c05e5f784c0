"""What ``siji lookup-batch`` does once it has an index: run the file under a progress
bar and print the summary.  Shared by the command (:func:`siji.cli.lookup_batch`) and
the fast start of its plain form (:mod:`siji.launch`), so both print the same lines.

Imports neither typer's parsing nor the settings (the fast start's reason to exist);
the batch package is imported when a file is looked up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from geo.errors import counted
from siji.console import byte_progress, err, out

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from pathlib import Path

    from batch.run import BatchSummary, ProgressCallback
    from geo.index import Locator

SHOWN_INVALID_ROWS = 20
"""Invalid rows listed after the summary; the rest are counted (the file has them all)."""


def progress_for(input_path: Path) -> AbstractContextManager[ProgressCallback]:
    """The progress bar of a lookup of ``input_path`` (wherever the lookup runs)."""
    return byte_progress(f"lookup {input_path.name}")


def lookup_with_progress(index: Locator, input_path: Path, output_path: Path, **options: Any) -> BatchSummary:
    """:func:`batch.run.lookup_file` of ``input_path`` into ``output_path`` with a
    progress bar on stderr; ``options`` are ``lookup_file``'s."""
    from batch.run import lookup_file

    with progress_for(input_path) as progress:
        return lookup_file(index, input_path, output_path, progress=progress, **options)


def print_summary(summary: BatchSummary, output_path: Path) -> None:
    """The summary line on stdout (rows, where, counts by status, time, rate) and the
    first :data:`SHOWN_INVALID_ROWS` invalid rows with their reasons on stderr."""
    counts = ", ".join(f"{n:,} {status}" for status, n in summary.counts_by_status.items() if n)
    rate = summary.rows / summary.seconds if summary.seconds else float("inf")
    out.print(
        f"{counted(summary.rows, 'row')} → {output_path} ({counts}) in {summary.seconds:.1f} s, "
        f"{rate:,.0f} rows/s"
    )
    for row, reason in summary.invalid_rows[:SHOWN_INVALID_ROWS]:
        err.print(f"row {row}: {reason}", highlight=False)
    if len(summary.invalid_rows) > SHOWN_INVALID_ROWS:
        more = counted(len(summary.invalid_rows) - SHOWN_INVALID_ROWS, "more invalid row")
        err.print(f"... {more}, see the 'error' column")
