"""Shared console helpers of the command line: output, errors, progress."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from geo.errors import SijiError
from siji.output import print_json as print_json

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(error: SijiError | str, code: int = 2) -> NoReturn:
    """Print an error on stderr and exit with ``code``."""
    message = error.message if isinstance(error, SijiError) else error
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn domain exceptions into a one-line error and exit status 2."""
    try:
        yield
    except SijiError as exc:
        fail(exc)


@contextmanager
def byte_progress(description: str) -> Iterator[Callable[[int, int, int], None]]:
    """A rich progress bar fed by ``(rows_done, bytes_done, bytes_total)`` callbacks."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=None, rows=0)

        def update(rows: int, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None, rows=rows)

        yield update
