"""``siji boundaries lineage``: the old→new code table between two generations, as CSV."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo.errors import InvalidInputError

if TYPE_CHECKING:
    from sqlalchemy import Engine

COLUMNS = (
    "old_generation",
    "old_code",
    "old_name",
    "new_generation",
    "new_code",
    "new_name",
    "level",
    "kind",
    "old_share",
    "new_share",
    "how",
)
"""The table's columns: ``old_share`` is the part of the old unit's area in the new
one, ``new_share`` the part of the new unit's area that came from the old one."""


def write_lineage(engine: Engine, old_key: str, new_key: str, output: Path) -> tuple[int, str]:
    """Write the links from generation ``old_key`` to ``new_key`` (ids or names).

    Adjacent generations give the lineage stored with them; any other pair is linked
    from their polygons now, the same way.

    Returns
    -------
    (rows written, where the links came from)
    """
    from boundaries.release import geometry_linker
    from store.generations import get_generation, load_frame
    from store.generations import list_generations as generations
    from store.lineage import links_between
    from store.timeline import timeline, transitions

    if output.suffix.lower() != ".csv":
        raise InvalidInputError(
            f"cannot write {output.name!r}: the lineage table is written as CSV (.csv)", path=str(output)
        )
    old, new = get_generation(engine, old_key), get_generation(engine, new_key)
    if old.id == new.id:
        raise InvalidInputError(f"--from and --to are both generation {old.id} {old.name!r}", field="to")
    rows = [(g.id, g.valid_from, g.withdrawn_from) for g in generations(engine)]
    if (old.id, new.id) in transitions(timeline(rows)):
        links = links_between(engine, old.id, new.id)
        how = f"as stored: generation {new.id} follows generation {old.id} in time"
    else:
        old_frame, new_frame = load_frame(engine, old.id), load_frame(engine, new.id)
        names = dict(zip(old_frame["code"], old_frame["name"], strict=True))
        new_names = dict(zip(new_frame["code"], new_frame["name"], strict=True))
        links = [
            {**link, "predecessor_name": names.get(link["predecessor_code"], ""),
             "successor_name": new_names.get(link["successor_code"], "")}
            for link in geometry_linker(old_frame, new_frame)
        ]  # fmt: skip
        how = f"linked from their polygons: generation {new.id} does not directly follow generation {old.id}"
    with output.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for link in links:
            writer.writerow(_row(old.name, new.name, link))
    return len(links), how


def _row(old_name: str, new_name: str, link: dict[str, Any]) -> list[Any]:
    return [
        old_name,
        link["predecessor_code"],
        link.get("predecessor_name", ""),
        new_name,
        link["successor_code"],
        link.get("successor_name", ""),
        link["level"],
        link.get("kind") or "",
        "" if link.get("predecessor_share") is None else link["predecessor_share"],
        "" if link.get("successor_share") is None else link["successor_share"],
        link.get("how", ""),
    ]
