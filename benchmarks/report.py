"""What every benchmark module returns, and the one table, target list and JSON made of it."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass
class Row:
    """One measured figure.

    Attributes
    ----------
    group : str
        The benchmark it belongs to (``batch``, ``postgis``, ``single``, ...).
    what : str
        What was measured.
    value : float
        The headline number, in ``unit``.
    unit : str
        ``points/s``, ``lookups/s``, ``req/s``, ``s``, ``MiB`` ...
    seconds : float, optional
        Wall time of the measured operation (best of the repeats).
    p50_us, p99_us : float, optional
        Latency percentiles in microseconds, for per-request figures.
    ratio : str
        Ratio against a peer measured in the same run (e.g. ``9.1x sjoin``).
    note : str
    """

    group: str
    what: str
    value: float
    unit: str
    seconds: float | None = None
    p50_us: float | None = None
    p99_us: float | None = None
    ratio: str = ""
    note: str = ""


@dataclass
class Target:
    """A goal checked at the end: ``passed`` is None when its benchmark was skipped."""

    name: str
    goal: str
    measured: str
    passed: bool | None


@dataclass
class Section:
    """The rows, facts and targets of one benchmark module."""

    rows: list[Row] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)

    def extend(self, other: Section) -> None:
        """Append another section's rows, facts and targets."""
        self.rows.extend(other.rows)
        self.facts.update(other.facts)
        self.targets.extend(other.targets)


def best_of(repeats: int, func: Callable[[], T]) -> tuple[float, T]:
    """Run ``func`` ``repeats`` times; return the best wall time and the last result."""
    start = time.perf_counter()
    result = func()
    best = time.perf_counter() - start
    for _ in range(repeats - 1):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def percentiles_us(samples_ns: np.ndarray) -> tuple[float, float]:
    """p50 and p99 of nanosecond samples, in microseconds."""
    p50, p99 = np.percentile(samples_ns, [50, 99])
    return float(p50) / 1000, float(p99) / 1000


def ratio(ours: float, theirs: float, peer: str) -> str:
    """``'9.1x peer'`` for rates (higher is better)."""
    if not theirs or not np.isfinite(theirs):
        return ""
    return f"{ours / theirs:.1f}x {peer}"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gib = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "cpu": model or cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None or not np.isfinite(value):
        return ""
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _value(row: Row) -> str:
    if row.unit in ("s", "MiB", "x"):
        return _fmt(row.value, 2)
    return _fmt(row.value)


def print_report(console: Any, section: Section, info: dict[str, Any], title: str) -> None:
    """Print the one table, the facts and the PASS/FAIL lines with rich."""
    from rich.table import Table

    console.print(
        f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, Python {info['python']}"
    )
    table = Table(title=title)
    for name, justify in (
        ("group", "left"),
        ("what", "left"),
        ("value", "right"),
        ("unit", "left"),
        ("seconds", "right"),
        ("p50 µs", "right"),
        ("p99 µs", "right"),
        ("ratio", "left"),
        ("note", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    last_group = None
    for row in section.rows:
        if last_group is not None and row.group != last_group:
            table.add_section()
        last_group = row.group
        table.add_row(
            row.group,
            row.what,
            _value(row),
            row.unit,
            _fmt(row.seconds, 3),
            _fmt(row.p50_us, 1),
            _fmt(row.p99_us, 1),
            row.ratio,
            row.note,
        )
    console.print(table)
    for key, value in section.facts.items():
        console.print(f"{key}: {value:,.2f}" if isinstance(value, float) else f"{key}: {value}")
    console.print()
    for target in section.targets:
        verdict = {True: "PASS", False: "FAIL", None: "SKIP"}[target.passed]
        style = {True: "green", False: "red", None: "yellow"}[target.passed]
        console.print(
            f"[{style}]{verdict}[/] {target.name}: {target.measured} (goal: {target.goal})", highlight=False
        )


def write_json(path: Path, section: Section, info: dict[str, Any], args: dict[str, Any]) -> None:
    """Write the table, facts and targets as JSON (for the README to quote)."""
    payload = {
        "machine": info,
        "arguments": args,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rows": [asdict(row) for row in section.rows],
        "facts": section.facts,
        "targets": [asdict(target) for target in section.targets],
    }
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return str(value)
