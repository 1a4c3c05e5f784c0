"""``python -m benchmarks``: measure siji and its peers in one run, print one table.

Parts: index build, batch lookup (siji vs geopandas.sjoin), the same points in
PostGIS, single-point lookups in-process, boundary releases (``validate``,
``import --commit``, the switch-over of a serving process), HTTP single and bulk
lookups, and (with ``--big``) ``siji lookup-batch`` over a 10M-row CSV.  The PASS/FAIL lines at the end
check the project's targets; ``--json PATH`` also writes everything as JSON.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console

from benchmarks.report import Row, Section, Target, machine, print_report, ratio, write_json

BATCH_TARGET_RATIO = 10.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--points", type=int, default=None, help="batch points (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=None, help="best of N for timings (default 3)")
    parser.add_argument("--skip-postgis", action="store_true", help="no throwaway PostGIS")
    parser.add_argument("--skip-http", action="store_true", help="no siji serve / wrk")
    parser.add_argument("--skip-single", action="store_true", help="no in-process single lookups")
    parser.add_argument(
        "--skip-release",
        action="store_true",
        help="no boundary release timings (validate, import, switch-over)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="200,000 points, 1 repeat, 6 HTTP pairs, no PostGIS (unless --points/--repeats say otherwise)",
    )
    parser.add_argument("--big", action="store_true", help="also run lookup-batch over a big CSV (minutes)")
    parser.add_argument("--big-rows", type=int, default=10_000_000, help="rows of the --big CSV")
    parser.add_argument("--http-seconds", type=float, default=None, help="seconds per HTTP load run (1)")
    parser.add_argument(
        "--http-pairs", type=int, default=None, help="paired healthz/lookup runs per HTTP setting (40)"
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    if args.quick:
        args.points = args.points or 200_000
        args.repeats = args.repeats or 1
        args.http_seconds = args.http_seconds or 1.0
        args.http_pairs = args.http_pairs or 6
        args.skip_postgis = True
    args.points = args.points or 1_000_000
    args.repeats = args.repeats or 3
    args.http_seconds = args.http_seconds or 1.0
    args.http_pairs = args.http_pairs or 40
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from benchmarks import batch, build
    from benchmarks.points import workload

    # Wide enough for the table when the output is a file or a pipe (rich then assumes 80).
    console = Console(width=None if Console().is_terminal else 200)
    info = machine()
    started = time.perf_counter()
    report = Section()
    work = workload(args.points)

    console.print("[dim]index build ...[/]")
    section, index = build.run(work.frame, args.repeats)
    report.extend(section)

    console.print("[dim]batch: siji vs geopandas.sjoin ...[/]")
    section, outcome = batch.run(work, index, args.repeats)
    report.extend(section)
    n = work.n
    sjoin_ratio = min(outcome.rate / outcome.sjoin_rate, outcome.rate / outcome.sjoin4_rate)
    report.targets.append(
        Target(
            "batch >= 10x geopandas.sjoin, exact",
            f">= {BATCH_TARGET_RATIO:.0f}x, 0 mismatches",
            f"{outcome.rate / outcome.sjoin_rate:.1f}x sjoin 1-level, "
            f"{outcome.rate / outcome.sjoin4_rate:.1f}x sjoin 4-level; {outcome.mismatches} mismatches",
            sjoin_ratio >= BATCH_TARGET_RATIO and outcome.mismatches == 0,
        )
    )

    if args.skip_postgis:
        report.targets.append(Target("batch >= 10x PostGIS, exact", ">= 10x", "skipped", None))
    else:
        from benchmarks import postgis

        console.print("[dim]PostGIS: throwaway server, COPY, plans ...[/]")
        section, pg = postgis.run(work, outcome.community_codes, min(args.repeats, 2))
        for row in section.rows:
            if row.unit == "points/s" and not row.what.startswith("load"):
                row.ratio = f"siji is {outcome.rate / row.value:.1f}x this"
        report.extend(section)
        siji_row = report.rows[next(i for i, r in enumerate(report.rows) if r.group == "batch")]
        siji_row.ratio += f", {ratio(outcome.rate, pg.rate, 'PostGIS')}"
        report.facts["siji / PostGIS (best plan)"] = outcome.rate / pg.rate
        report.targets.append(
            Target(
                "batch >= 10x PostGIS, exact",
                f">= {BATCH_TARGET_RATIO:.0f}x, 0 mismatches",
                f"{outcome.rate / pg.rate:.1f}x ({outcome.rate:,.0f} vs {pg.rate:,.0f} points/s, {pg.plan}); "
                f"{outcome.mismatches} mismatches vs covers, {pg.mismatches} vs PostGIS",
                outcome.rate / pg.rate >= BATCH_TARGET_RATIO
                and outcome.mismatches == 0
                and pg.mismatches == 0,
            )
        )

    if not args.skip_single:
        from benchmarks import single

        console.print("[dim]single-point lookups in-process ...[/]")
        report.extend(single.run(work, index, calls=5_000 if args.quick else 20_000))

    if args.skip_release:
        for name, goal in (
            ("boundaries validate < 2 s", "< 2 s"),
            ("boundaries import --commit < 4 s", "< 4 s"),
        ):
            report.targets.append(Target(name, goal, "skipped", None))
    else:
        from benchmarks import release

        console.print("[dim]boundary release: validate, import --commit, switch-over ...[/]")
        report.extend(release.run(repeats=args.repeats))
        if not args.skip_http:
            report.extend(release.main_switch())

    if args.skip_http:
        for name, goal in (
            ("HTTP single lookup >= 80% of /healthz rps", ">= 80%"),
            ("HTTP bulk GeoParquet >= 1M points/s", ">= 1M points/s"),
        ):
            report.targets.append(Target(name, goal, "skipped", None))
    else:
        from benchmarks import http

        console.print("[dim]HTTP: siji serve + wrk, bulk GeoParquet ...[/]")
        report.extend(http.run(work, duration=args.http_seconds, repeats=args.repeats, pairs=args.http_pairs))

    if args.big:
        from benchmarks import bigcsv

        console.print(f"[dim]lookup-batch over a {args.big_rows:,}-row CSV ...[/]")
        report.extend(bigcsv.run(work, rows=args.big_rows))
    else:
        report.targets.append(
            Target("lookup-batch 10M-row CSV peak memory < 1 GB", "< 1 GiB", "skipped (run with --big)", None)
        )

    # Targets in a fixed order: batch, HTTP single, HTTP bulk, build, releases, big CSV.
    order = ("batch", "HTTP single", "HTTP bulk", "index", "boundaries", "release", "lookup-batch")
    report.targets.sort(key=lambda t: next((i for i, p in enumerate(order) if t.name.startswith(p)), 99))
    report.rows.append(Row("run", "whole benchmark run", time.perf_counter() - started, "s"))
    title = f"siji benchmarks, bundled Tai'an set, {n:,} points"
    print_report(console, report, info, title)
    if args.json is not None:
        write_json(args.json, report, info, {k: str(v) for k, v in vars(args).items()})
        console.print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
