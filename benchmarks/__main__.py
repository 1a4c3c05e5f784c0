"""``python -m benchmarks [--points N]``: print the benchmark table."""

from __future__ import annotations

import argparse
import os
import platform

from rich.console import Console
from rich.table import Table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from benchmarks import batch

    console = Console()
    cpu = platform.processor() or platform.machine()
    console.print(f"machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}")
    figures, facts = batch.run(args.points, args.repeats)
    table = Table(title=f"batch lookup, bundled Tai'an set, {args.points:,} points")
    for column in ("what", "seconds", "points/s", "note"):
        table.add_column(column, justify="right" if column in ("seconds", "points/s") else "left")
    for f in figures:
        table.add_row(f.name, f"{f.seconds:.3f}", f"{f.rate:,.0f}", f.note)
    console.print(table)
    for key, value in facts.items():
        console.print(f"{key}: {value:.2f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
