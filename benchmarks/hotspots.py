"""``python -m benchmarks.hotspots``: the permutations behind the hot-spot map, against esda's.

The false-discovery-rate correction over the 3,782 communities needs p-values far below
1/1,000, i.e. about 100,000 conditional permutations.  This measures, in one run and on
the same counts (3,000 demo reports over the bundled set, queen weights):

* ``maps.analysis.permutation.neighbourhood_tails`` at 9,999, 99,999 and 999,999
  permutations (both tails at once);
* ``esda.crand.crand`` with esda's own Gi* statistic at 9,999 permutations, one tail
  (``alternative="greater"``; a two-sided answer needs a second run), and at 99,999
  unless ``--quick``;

and checks that the two agree within Monte Carlo error at 9,999 permutations.  Pass
``--json PATH`` to keep the figures.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from benchmarks.report import Row, Section, Target, best_of, machine, print_report, write_json


def _inputs() -> tuple[Any, Any]:
    from libpysal.weights import Queen

    from boundaries.bundled import load_taian
    from maps.analysis.density import density_by_unit
    from maps.demo import demo_reports

    units = load_taian()
    areas = density_by_unit(demo_reports(units, n=3000, seed=1), units)
    weights = Queen.from_dataframe(areas, use_index=False, silence_warnings=True)
    return areas["count"].to_numpy(dtype=float), weights


def _esda_greater(y: Any, weights: Any, permutations: int) -> Any:
    from esda.crand import crand
    from esda.getisord import _g_local_star_crand
    from libpysal.weights import fill_diagonal

    star = fill_diagonal(weights, 1.0)  # esda zeroes the diagonal of what it gets: a fresh copy each run
    star.transform = "B"
    observed = (star.sparse @ y) / y.sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, _ = crand(y, star, observed, permutations, False, 1, _g_local_star_crand, scaling=y.sum(), seed=1,
                     alternative="greater")  # fmt: skip
    return p


def run(quick: bool = False) -> Section:
    """Measure both engines; the rows, and a target: agreement at 9,999 permutations."""
    from maps.analysis.permutation import neighbourhood_tails

    y, weights = _inputs()
    section = Section(facts={"areas": len(y), "reports": int(y.sum())})
    esda_seconds: dict[int, float] = {}
    for permutations in (9_999,) if quick else (9_999, 99_999):
        seconds, greater = best_of(1, lambda p=permutations: _esda_greater(y, weights, p))
        esda_seconds[permutations] = seconds
        section.rows.append(
            Row("hotspots", f"esda.crand Gi*, one tail, {permutations:,} permutations", seconds, "s", seconds)
        )
        if permutations == 9_999:
            reference = greater
    for permutations in (9_999, 99_999, 999_999):
        seconds, (high, _) = best_of(
            1 if permutations > 99_999 else 3,
            lambda p=permutations: neighbourhood_tails(y, weights.sparse, permutations=p, seed=1),
        )
        peer = esda_seconds.get(permutations)
        section.rows.append(
            Row(
                "hotspots",
                f"neighbourhood_tails, both tails, {permutations:,} permutations",
                seconds,
                "s",
                seconds,
                ratio=f"{peer / seconds:.0f}x faster than esda (one tail)" if peer else "",
            )
        )
        if permutations == 9_999:
            spread = np.sqrt(2 * reference * (1 - reference) / permutations) + 2 / permutations
            worst = float(np.max(np.abs(high - reference) / spread))
            section.facts["agreement_worst_z"] = round(worst, 2)
            section.targets.append(
                Target(
                    "same p-values as esda", "within 5 Monte Carlo SE", f"worst {worst:.2f} SE", worst <= 5
                )
            )
    return section


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hotspots", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="esda at 9,999 permutations only")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    section = run(quick=args.quick)
    info = machine()
    print_report(Console(width=160), section, info, "hot-spot permutations: siji vs esda (3,782 communities)")
    if args.json is not None:
        write_json(args.json, section, info, vars(args) | {"json": str(args.json)})


if __name__ == "__main__":
    main()
