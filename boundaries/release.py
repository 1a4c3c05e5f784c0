"""Boundary releases: a new set checked against the one it follows before anything is
stored, and stored so that it can never break the service.

:func:`plan_release` finds where the set would sit in time (the generation it
replaces from its first day, and the one that would follow it), links its units to
both from geometry (:mod:`boundaries.lineage`), lists what changes and runs the release
checks.  :func:`commit_release` stores it, refusing:

* structural problems of the validator, whatever is accepted;
* geometric problems (gaps, overlaps, area outside a parent), unless accepted, and
  then only when each is at most ``max_accepted_m2`` (figures recorded with the
  generation);
* release changes (:data:`TOP_CHANGE_SHARE` of the top unit's outline, codes that
  vanish with no unit overlapping them, declared predecessors that do not exist),
  unless accepted with a reason, which is recorded with the generation;
* a set whose index cannot be built or does not answer for its own units
  (:func:`boundaries.bundled.checked_index`), when asked to check it (every answering
  process checks it anyway before it answers with the set).

The set is written while invisible and made to answer in one short transaction
(:func:`store.generations.publish_generation`), with the lineage of every pair of
generations that becomes adjacent in time: a back-dated release re-links the
generation after it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from boundaries.bundled import checked_index
from boundaries.lineage import Link, lineage, unknown_declared
from boundaries.validate import BLOCKING_CHECKS, MAX_ACCEPTED_M2, EqualArea, ValidationReport
from geo.errors import BoundaryDataError, counted
from store.generations import (
    GenerationInfo,
    delete_generation,
    load_frame,
    neighbours_of,
    publish_generation,
    remove_interrupted,
    stage_generation,
)

if TYPE_CHECKING:
    import geopandas as gpd
    from sqlalchemy import Engine

    from geo.index import JurisdictionIndex

TOP_CHANGE_SHARE = 0.05
"""A release whose top unit (the city) differs from the one before by more than this
share of its area (the two outlines' symmetric difference) needs ``--accept-change``:
a city's outline does not move; a wrong CRS or a missing district does."""


class IndexBuild:
    """A set's index, built and checked in a thread from the moment this is made (it
    spends most of its time outside the interpreter lock, beside the planning and the
    writing of the units)."""

    def __init__(self, frame: gpd.GeoDataFrame, snap_distance_m: float) -> None:
        self._index: JurisdictionIndex | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._build, args=(frame, snap_distance_m), name="siji-release-index", daemon=True
        )
        self._thread.start()

    def _build(self, frame: gpd.GeoDataFrame, snap_distance_m: float) -> None:
        try:
            self._index = checked_index(frame, snap_distance_m)
        except BaseException as exc:  # handed to result()
            self._error = exc

    def result(self) -> JurisdictionIndex:
        """The checked index, once built.

        Raises
        ------
        IndexCheckError, BoundaryDataError
            Whatever the build or the check raised.
        """
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._index is not None
        return self._index


class ReleaseRefusedError(BoundaryDataError):
    """A release that may not be stored as it is; the message lists every reason."""

    code = "release_refused"


@dataclass
class ReleasePlan:
    """What storing a set would do.

    Attributes
    ----------
    before, after : GenerationInfo or None
        The generation the set replaces from ``valid_from`` on, and the one that takes
        over from it later (a back-dated release has one).
    links : list of Link
        ``before`` → the set: the lineage that would be recorded.
    relinks : list of Link
        The set → ``after``: the lineage ``after`` would be re-linked with.
    change_problems : list of str
        Release checks that need ``--accept-change``.
    """

    frame: gpd.GeoDataFrame
    valid_from: dt.date
    report: ValidationReport
    before: GenerationInfo | None
    after: GenerationInfo | None
    links: list[Link]
    relinks: list[Link]
    change_problems: list[str]
    before_frame: gpd.GeoDataFrame | None = field(default=None, repr=False)
    after_frame: gpd.GeoDataFrame | None = field(default=None, repr=False)
    index_build: IndexBuild | None = field(default=None, repr=False)
    _changes: dict[str, list[str]] | None = field(default=None, repr=False)

    def changes(self) -> dict[str, list[str]]:
        """What changes against ``before``, one line per unit, by kind: new, gone,
        renamed, re-coded (a re-coded unit and the units below it in one line), merged,
        split, reshaped."""
        if self._changes is None:
            self._changes = describe_changes(self.links, self.before_frame, self.frame)
        return self._changes

    def change_counts(self) -> dict[str, int]:
        """How many units each kind of change concerns (re-coded: every unit)."""
        counts = {kind: len(lines) for kind, lines in self.changes().items()}
        counts["re-coded"] = sum(1 for link in self.links if link.kind == "re-coded")
        return counts

    def refusals(
        self, *, accept_problems: bool, accept_change: str | None, max_accepted_m2: float = MAX_ACCEPTED_M2
    ) -> list[str]:
        """Why the set would not be stored with these acceptances (empty: it would)."""
        reasons = []
        unacceptable = self.report.unacceptable(max_accepted_m2)
        if unacceptable:
            structural = [p for p in unacceptable if p.check in BLOCKING_CHECKS]
            large = [p for p in unacceptable if p not in structural]
            if structural:
                checks = ", ".join(sorted({p.check for p in structural}))
                reasons.append(
                    f"{counted(len(structural), 'structural problem')} ({checks}), which no option "
                    f"accepts; first: {structural[0].message}"
                )
            if large:
                reasons.append(
                    f"{counted(len(large), 'gap or overlap', 'gaps or overlaps')} over "
                    f"{max_accepted_m2:,.0f} m² each, too large to accept; first: {large[0].message}"
                )
        elif not self.report.ok and not accept_problems:
            reasons.append(
                f"{counted(len(self.report.problems), 'problem')} ({self.report.summary()}); fix them, or "
                f"pass --accept-problems (each is at most {max_accepted_m2:,.0f} m²)"
            )
        if self.change_problems and not accept_change:
            reasons.append(
                f"{counted(len(self.change_problems), 'change')} against "
                f"{_name(self.before)} that need --accept-change REASON: " + "; ".join(self.change_problems)
            )
        return reasons


def _name(generation: GenerationInfo | None) -> str:
    return "no generation" if generation is None else f"generation {generation.id} {generation.name!r}"


def plan_release(
    engine: Engine,
    frame: gpd.GeoDataFrame,
    valid_from: dt.date,
    report: ValidationReport,
    *,
    index_build: IndexBuild | None = None,
) -> ReleasePlan:
    """Place a validated set in time and compare it with its neighbours.

    Parameters
    ----------
    index_build : IndexBuild, optional
        The set's index, being built for a commit to come (see :func:`commit_release`).

    Raises
    ------
    InvalidInputError
        A generation is already valid from ``valid_from``.
    """
    before, after = neighbours_of(engine, valid_from)
    before_frame = load_frame(engine, before.id) if before is not None else None
    after_frame = load_frame(engine, after.id) if after is not None else None
    # Lineage needs valid polygons; everything else a broken set still shows.
    structural = any(p.check == "geometry" for p in report.problems)
    links = lineage(before_frame, frame) if before_frame is not None and not structural else []
    relinks = lineage(frame, after_frame) if after_frame is not None and not structural else []
    problems = [] if before_frame is None or structural else release_checks(before_frame, frame, links)
    return ReleasePlan(
        frame,
        valid_from,
        report,
        before,
        after,
        links,
        relinks,
        problems,
        before_frame,
        after_frame,
        index_build,
    )


def release_checks(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, links: list[Link]) -> list[str]:
    """Changes that a release should not make by accident: the top unit's outline
    moving (by :data:`TOP_CHANGE_SHARE`), codes vanishing with nothing overlapping
    them, declared predecessors the old set does not have."""
    problems = []
    old_top, new_top = _top(old), _top(new)
    if old_top is not None and new_top is not None:
        area = EqualArea(np.array([old_top[2], new_top[2]], dtype=object))
        old_area, new_area = area.area([old_top[2], new_top[2]])
        moved = float(area.area([shapely.symmetric_difference(old_top[2], new_top[2])])[0])
        if old_area > 0 and moved / old_area > TOP_CHANGE_SHARE:
            problems.append(
                f"the top unit changes by {moved / old_area:.1%} of its area ({old_top[0]} {old_top[1]}, "
                f"{old_area / 1e6:,.1f} km² → {new_top[0]} {new_top[1]}, {new_area / 1e6:,.1f} km²; "
                f"{moved / 1e6:,.1f} km² differ between the outlines, more than {TOP_CHANGE_SHARE:.0%}): "
                "check the CRS and that no district is missing"
            )
    linked = {link.old_code for link in links}
    vanished = [c for c in old["code"].astype(str) if c not in linked]
    if vanished:
        problems.append(
            f"{counted(len(vanished), 'code')} vanish with no new unit overlapping them "
            f"({', '.join(vanished[:10])}{' ...' if len(vanished) > 10 else ''}): their reports and "
            "staff would lead nowhere"
        )
    for code, declared in unknown_declared(new, old)[:10]:
        problems.append(
            f"unit {code} declares predecessor {declared}, which the generation before does not have"
        )
    return problems


def _top(frame: gpd.GeoDataFrame) -> tuple[str, str, Any] | None:
    from geo.levels import get_level

    ranks = np.asarray([get_level(v).rank for v in frame["level"]])
    rows = np.flatnonzero(ranks == ranks.min()) if len(ranks) else np.empty(0, dtype=np.int64)
    if len(rows) != 1:
        return None
    row = frame.iloc[int(rows[0])]
    return str(row["code"]), str(row["name"]), row.geometry


def describe_changes(
    links: list[Link], old: gpd.GeoDataFrame | None, new: gpd.GeoDataFrame
) -> dict[str, list[str]]:
    """One line per changed unit, by kind (see :meth:`ReleasePlan.changes`)."""
    out: dict[str, list[str]] = {
        k: [] for k in ("new", "gone", "renamed", "re-coded", "merged", "split", "reshaped")
    }
    if old is None:
        return out
    old_codes, new_codes = set(old["code"].astype(str)), set(new["code"].astype(str))
    into: dict[str, list[Link]] = defaultdict(list)
    out_of: dict[str, list[Link]] = defaultdict(list)
    for link in links:
        into[link.new_code].append(link)
        out_of[link.old_code].append(link)
    names = dict(zip(new["code"].astype(str), new["name"].astype(str), strict=True))
    old_names = dict(zip(old["code"].astype(str), old["name"].astype(str), strict=True))
    structural = {"re-coded", "merged", "split"}
    for code in sorted(new_codes - old_codes):
        if not {k.kind for k in into[code]} & structural:
            sources = ", ".join(f"{k.old_code} ({k.kind}, {k.new_share:.0%})" for k in into[code])
            out["new"].append(f"{code} {names[code]} ← {sources or 'no old unit'}")
    for code in sorted(old_codes - new_codes):
        if not {k.kind for k in out_of[code]} & structural:
            targets = ", ".join(f"{k.new_code} ({k.kind}, {k.old_share:.0%})" for k in out_of[code])
            out["gone"].append(f"{code} {old_names[code]} → {targets or 'nothing'}")
    merged: dict[str, list[Link]] = defaultdict(list)
    split: dict[str, list[Link]] = defaultdict(list)
    recoded: dict[tuple[str, str], list[Link]] = defaultdict(list)
    for link in links:
        if link.kind == "renamed":
            out["renamed"].append(f"{link.old_code} {link.old_name} → {link.new_name}")
        elif link.kind == "re-coded":
            recoded[_changed_prefix(link.old_code, link.new_code)].append(link)
        elif link.kind == "merged":
            merged[link.new_code].append(link)
        elif link.kind == "split":
            split[link.old_code].append(link)
    for (old_prefix, new_prefix), group in sorted(recoded.items()):
        if len(group) == 1:
            out["re-coded"].append(f"{group[0].old_code} {group[0].old_name} → {group[0].new_code}")
        else:
            top = min(group, key=lambda k: (len(k.old_code.rstrip("0")), k.old_code))
            below = f"{top.old_code} {top.old_name} and {len(group) - 1:,} below it"
            out["re-coded"].append(f"{old_prefix}… → {new_prefix}…: {counted(len(group), 'unit')} ({below})")
    for code, parts in sorted(merged.items()):
        shown = " + ".join(f"{k.old_code} {k.old_name} ({k.new_share:.0%})" for k in parts)
        out["merged"].append(f"{shown} → {code} {names[code]}")
    for code, parts in sorted(split.items()):
        shown = " + ".join(f"{k.new_code} {k.new_name} ({k.old_share:.0%})" for k in parts)
        out["split"].append(f"{code} {old_names[code]} → {shown}")
    area = None
    for code in sorted(old_codes & new_codes):
        same = [k for k in out_of[code] if k.new_code == code]
        if same and same[0].kind == "reshaped":
            area = area or EqualArea(np.asarray(new.geometry.values, dtype=object))
            before = float(area.area([old.geometry.values[old["code"].astype(str).to_numpy() == code][0]])[0])
            after = float(area.area([new.geometry.values[new["code"].astype(str).to_numpy() == code][0]])[0])
            others = ", ".join(
                f"{k.new_code if k.old_code == code else k.old_code}"
                for k in [*out_of[code], *into[code]]
                if k.new_code != k.old_code
            )
            change = f"{before / 1e6:,.3f} → {after / 1e6:,.3f} km² ({(after - before) / before:+.1%})"
            exchanged = f", area exchanged with {others}" if others else ""
            out["reshaped"].append(f"{code} {names[code]}: {change}{exchanged}")
    return out


def _changed_prefix(old: str, new: str) -> tuple[str, str]:
    """The parts of two codes before their common ending: a re-coded district and every
    unit below it share one (370921001001 → 370912001001: 370921 → 370912).

    Examples
    --------
    >>> _changed_prefix("370921001001", "370912001001")
    ('370921', '370912')
    """
    same = 0
    while same < min(len(old), len(new)) and old[len(old) - 1 - same] == new[len(new) - 1 - same]:
        same += 1
    return old[: len(old) - same], new[: len(new) - same]


def link_rows(links: list[Link]) -> list[dict[str, Any]]:
    """Links as ``unit_lineage`` rows (without the generation ids)."""
    return [
        {
            "predecessor_code": k.old_code,
            "successor_code": k.new_code,
            "level": k.level,
            "kind": k.kind,
            "how": k.how,
            "predecessor_share": k.old_share,
            "successor_share": k.new_share,
        }
        for k in links
    ]


def geometry_linker(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """The lineage of a pair of generations as rows to store (see ``store.generations.Linker``)."""
    return link_rows(lineage(old, new))


def commit_release(
    engine: Engine,
    plan: ReleasePlan,
    *,
    name: str,
    source: str = "",
    accept_problems: bool = False,
    accept_change: str | None = None,
    max_accepted_m2: float = MAX_ACCEPTED_M2,
    snap_distance_m: float = 50.0,
    by: str = "",
    check_index: bool = False,
) -> GenerationInfo:
    """Store a planned release and make it answer from its ``valid_from``.

    Every process that answers builds and checks the generation's index before it
    answers with it (``boundaries.service``), and keeps answering from the generation
    before if that fails.  With ``check_index`` (or an :class:`IndexBuild` handed to
    :func:`plan_release`) the index is also built and checked here, while the set is
    written, and a set whose index fails is not stored (1.5 s more for the bundled
    set).

    Raises
    ------
    ReleaseRefusedError
        Listing every reason (see :meth:`ReleasePlan.refusals`).
    IndexCheckError, BoundaryDataError
        The set's index cannot be built, or does not answer for its own units.
    """
    reasons = plan.refusals(
        accept_problems=accept_problems, accept_change=accept_change, max_accepted_m2=max_accepted_m2
    )
    if reasons:
        raise ReleaseRefusedError("not stored: " + " | ".join(reasons), reasons=reasons)
    remove_interrupted(engine)
    notes = _notes(plan, accept_change, max_accepted_m2, by)
    building = plan.index_build or (IndexBuild(plan.frame, snap_distance_m) if check_index else None)
    staged = stage_generation(
        engine, plan.frame, name=name, valid_from=plan.valid_from, source=source, notes=notes
    )
    if building is not None:
        try:
            building.result()
        except BaseException:
            delete_generation(engine, staged)
            raise
    frames = {staged: plan.frame}
    known: dict[tuple[int, int], list[dict[str, Any]]] = {}
    if plan.before is not None and plan.before_frame is not None:
        frames[plan.before.id] = plan.before_frame
        known[(id(plan.before_frame), id(plan.frame))] = link_rows(plan.links)
    if plan.after is not None and plan.after_frame is not None:
        frames[plan.after.id] = plan.after_frame
        known[(id(plan.frame), id(plan.after_frame))] = link_rows(plan.relinks)

    def linker(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> list[dict[str, Any]]:
        return known.get((id(old), id(new))) or geometry_linker(old, new)

    try:
        info = publish_generation(engine, staged, linker=linker, frames=frames)
    except BaseException:
        delete_generation(engine, staged)
        raise
    return info


def _notes(plan: ReleasePlan, accept_change: str | None, max_accepted_m2: float, by: str) -> dict[str, Any]:
    notes: dict[str, Any] = {
        "imported_by": by,
        "imported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tolerance_m2": plan.report.tolerance_m2,
        "follows": None if plan.before is None else {"id": plan.before.id, "name": plan.before.name},
        "changes": plan.change_counts(),
    }
    if plan.report.problems:
        notes["accepted_problems"] = {
            "summary": plan.report.summary(),
            "max_accepted_m2": max_accepted_m2,
            "problems": [
                {
                    "check": p.check,
                    "code": p.code,
                    "message": p.message,
                    "area_m2": p.area_m2,
                    "lon": p.lon,
                    "lat": p.lat,
                }
                for p in plan.report.problems[:200]
            ],
        }
    if plan.change_problems and accept_change:
        notes["accepted_change"] = {"reason": accept_change, "changes": plan.change_problems}
    return notes
