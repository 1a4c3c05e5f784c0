"""Shared console helpers of the command line: output, errors, progress."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from rich.console import Console, ConsoleDimensions
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from geo.errors import SijiError
from siji.output import print_json as print_json

PIPED_WIDTH = 10_000
"""Columns of a console whose output is not a terminal (a pipe, a file): tables keep
their natural width instead of being cut to rich's default of 80 columns."""


class WholeConsole(Console):
    """A rich console that is as wide as a terminal it writes to, and wide enough for
    any table when it writes to a pipe or a file (unless ``COLUMNS`` says otherwise).

    Decided at each print, not when the console is made: the same console may write to
    a terminal in one run and to a pipe in the next (tests, ``siji ... | less``).

    Examples
    --------
    >>> import io
    >>> WholeConsole(file=io.StringIO()).width
    10000
    >>> WholeConsole(file=io.StringIO(), width=72).width
    72
    """

    @property
    def size(self) -> ConsoleDimensions:
        """The console's size: a terminal's own, else ``PIPED_WIDTH`` columns."""
        if self._width is None and not self.is_terminal and "COLUMNS" not in self._environ:
            return ConsoleDimensions(PIPED_WIDTH, super().size.height)
        return super().size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


out = WholeConsole(soft_wrap=True)
err = WholeConsole(stderr=True, soft_wrap=True)


def fail(error: SijiError | str, code: int = 2) -> NoReturn:
    """Print an error on stderr and exit with ``code``."""
    import typer  # here: the fast start (siji.launch) prints errors without typer

    raise typer.Exit(report_error(error, code))


def report_error(error: SijiError | str, code: int = 2) -> int:
    """Print an error on stderr as every command does; return ``code`` (the exit status)."""
    message = error.message if isinstance(error, SijiError) else error
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return code


_TRACEBACKS = {"shown": False}


def show_tracebacks(shown: bool) -> None:
    """Let errors that :func:`domain_errors` words as one line keep their traceback
    (``siji --traceback ...``), for a bug report."""
    _TRACEBACKS["shown"] = shown


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn domain exceptions, bad ``SIJI_*`` settings and a database that cannot be
    used into a one-line error and exit status 2 (the traceback only with ``--traceback``)."""
    from pydantic import ValidationError

    try:
        yield
    except SijiError as exc:
        if _TRACEBACKS["shown"]:
            raise
        fail(exc)
    except ValidationError as exc:
        if exc.title != "Settings" or _TRACEBACKS["shown"]:
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
