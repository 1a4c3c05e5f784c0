"""``python -m benchmarks``: measure siji and its peers in one run, print one table.

Parts: index build; batch lookup of the inside and the spread mix (siji vs
geopandas.sjoin, DuckDB spatial and SedonaDB); the same points in PostGIS and the
``--engine postgis`` lookup on outside points; single-point lookups in-process;
boundary releases (``validate``, ``import --commit``, the switch-over of a serving
process); HTTP single lookups of both mixes, the bulk GeoParquet upload, a 6M-point CSV
answered as JSON and as CSV, lookups during a hot-spot map; fresh processes (``siji
lookup``, ``siji lookup-batch``, ``siji serve``) against geopandas scripts; and (with
``--big``) ``siji lookup-batch`` over a 10M-row CSV.  The PASS/FAIL lines at the end
check the project's targets; ``--json PATH`` also writes everything as JSON.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console

from benchmarks.report import Row, Section, Target, machine, print_report, ratio, write_json

BATCH_TARGET_RATIO = 10.0
PEER_INSIDE_RATIO = 8.0
PEER_SPREAD_RATIO = 4.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--points", type=int, default=None, help="batch points (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=None, help="best of N for timings (default 3)")
    parser.add_argument("--skip-postgis", action="store_true", help="no throwaway PostGIS")
    parser.add_argument("--skip-http", action="store_true", help="no siji serve / wrk")
    parser.add_argument("--skip-peers", action="store_true", help="no DuckDB spatial / SedonaDB")
    parser.add_argument("--skip-cold", action="store_true", help="no fresh-process rows")
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
    parser.add_argument(
        "--bulk-rows", type=int, default=None, help="points of the bulk JSON upload (default 6,000,000)"
    )
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
        args.bulk_rows = args.bulk_rows or 1_000_000
    args.bulk_rows = args.bulk_rows or 6_000_000
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

    console.print("[dim]batch: siji vs geopandas.sjoin, inside and spread mixes ...[/]")
    section, mixes = batch.run(work, index, args.repeats)
    report.extend(section)
    n = work.n
    outcome = mixes.inside
    for mix, figures in mixes.mixes.items():
        sjoin_ratio = min(figures.rate / figures.sjoin_rate, figures.rate / figures.sjoin4_rate)
        report.targets.append(
            Target(
                f"batch >= 10x geopandas.sjoin, exact, {mix} mix",
                f">= {BATCH_TARGET_RATIO:.0f}x, 0 mismatches",
                f"{figures.rate / figures.sjoin_rate:.1f}x sjoin 1-level, "
                f"{figures.rate / figures.sjoin4_rate:.1f}x sjoin 4-level; {figures.mismatches} mismatches",
                sjoin_ratio >= BATCH_TARGET_RATIO and figures.mismatches == 0,
            )
        )
    spread = mixes.mixes["spread"]
    report.targets.append(
        Target(
            "batch spread mix within 2x of the inside mix",
            ">= 0.5x the inside mix's points/s",
            f"{spread.rate:,.0f} vs {outcome.rate:,.0f} points/s ({spread.rate / outcome.rate:.2f}x)",
            spread.rate >= outcome.rate / 2,
        )
    )
    if args.skip_peers:
        report.targets.append(
            Target("batch vs DuckDB spatial and SedonaDB", "inside >= 8x, spread >= 4x", "skipped", None)
        )
    else:
        from benchmarks import peers

        console.print("[dim]batch: DuckDB spatial and SedonaDB ...[/]")
        found = peers.run(work, args.repeats)
        report.rows.extend(found.rows)
        for name, reason in found.skipped.items():
            report.targets.append(
                Target(f"batch vs {name}", "inside >= 8x, spread >= 4x", f"skipped: {reason}", None)
            )
        for name, rates in found.rates.items():
            inside_x = outcome.rate / rates["inside"]
            spread_x = spread.rate / rates["spread"]
            report.facts[f"siji / {name}"] = f"inside {inside_x:.1f}x, spread {spread_x:.1f}x"
            report.targets.append(
                Target(
                    f"batch vs {name}",
                    f">= {PEER_INSIDE_RATIO:.0f}x inside, >= {PEER_SPREAD_RATIO:.0f}x spread",
                    f"inside {inside_x:.1f}x ({rates['inside']:,.0f} points/s), "
                    f"spread {spread_x:.1f}x ({rates['spread']:,.0f} points/s)",
                    inside_x >= PEER_INSIDE_RATIO and spread_x >= PEER_SPREAD_RATIO,
                )
            )

    if args.skip_postgis:
        report.targets.append(Target("batch >= 10x PostGIS, exact", ">= 10x", "skipped", None))
        report.targets.append(
            Target("PostGIS engine: outside points >= 50k rows/s", ">= 50k", "skipped", None)
        )
    else:
        from benchmarks import postgis

        console.print("[dim]PostGIS: throwaway server, COPY, plans ...[/]")
        section, pg = postgis.run(work, outcome.community_codes, min(args.repeats, 2), index)
        for row in section.rows:
            if row.unit == "points/s" and not row.what.startswith(("load", "siji")):
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

    if args.skip_http:
        report.targets.append(Target("HTTP bulk JSON answer in bounded memory", "< 300 MiB", "skipped", None))
        report.targets.append(
            Target("single lookups p99 < 20 ms during a hot-spot map", "< 20 ms", "skipped", None)
        )
    else:
        from benchmarks import mapload

        console.print("[dim]HTTP: single lookups while a hot-spot map is computed ...[/]")
        report.extend(mapload.run(work))
        from benchmarks import bulkjson

        console.print(f"[dim]HTTP: {args.bulk_rows:,}-point CSV answered as JSON and as CSV ...[/]")
        report.extend(bulkjson.run(work, rows=args.bulk_rows))

    if args.skip_cold:
        for name in ("cold siji lookup", "cold siji lookup-batch", "siji serve ready"):
            report.targets.append(Target(name, "", "skipped", None))
    else:
        from benchmarks import cold

        console.print("[dim]fresh processes: siji lookup, lookup-batch, serve, and geopandas scripts ...[/]")
        report.extend(cold.run(work, repeats=args.repeats))

    if args.big:
        from benchmarks import bigcsv

        console.print(f"[dim]lookup-batch over a {args.big_rows:,}-row CSV ...[/]")
        report.extend(bigcsv.run(work, rows=args.big_rows))
    else:
        report.targets.append(
            Target("lookup-batch 10M-row CSV peak memory < 1 GB", "< 1 GiB", "skipped (run with --big)", None)
        )

    # Targets in a fixed order: batch, HTTP single, HTTP bulk, build, releases, big CSV.
    order = (
        "batch",
        "PostGIS",
        "HTTP single",
        "HTTP bulk",
        "single lookups",
        "cold",
        "siji serve",
        "index",
        "boundaries",
        "release",
        "lookup-batch",
    )
    report.targets.sort(key=lambda t: next((i for i, p in enumerate(order) if t.name.startswith(p)), 99))
    report.rows.append(Row("run", "whole benchmark run", time.perf_counter() - started, "s"))
    title = f"siji benchmarks, bundled Tai'an set, {n:,} points"
    print_report(console, report, info, title)
    if args.json is not None:
        write_json(args.json, report, info, {k: str(v) for k, v in vars(args).items()})
        console.print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
