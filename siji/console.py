"""Shared console helpers of the command line: output, errors, progress."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

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
    """Turn domain exceptions and bad ``SIJI_*`` settings into a one-line error and exit status 2."""
    from pydantic import ValidationError

    try:
        yield
    except SijiError as exc:
        fail(exc)
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        fail("; ".join(setting_problem(error) for error in exc.errors()))


def setting_problem(error: Any) -> str:
    """One bad setting as a line: the variable, the value and what is wrong.

    Examples
    --------
    >>> setting_problem({"loc": ("snap_distance_m",), "msg": "Input should be >= 0", "input": "-5"})
    "SIJI_SNAP_DISTANCE_M='-5': Input should be >= 0"
    >>> setting_problem({"loc": (), "msg": "Value error, SIJI_X=1 is too small", "input": {}})
    'SIJI_X=1 is too small'
    """
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    location = error.get("loc") or ()
    if not location:
        return message
    return f"SIJI_{str(location[0]).upper()}={error.get('input')!r}: {message}"


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
