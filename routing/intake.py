"""What a report is at intake (checked fields), and which desk it goes to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geo.errors import InvalidInputError
from routing.catalog import Category
from routing.desks import Desk, Desks, default_departments

CHANNELS: dict[str, str] = {
    "app": "手机应用",
    "hotline": "12345热线",
    "station": "社区服务驿站",
    "patrol": "巡查",
}
MAX_DESCRIPTION = 4000
MAX_PHOTOS = 9


@dataclass(frozen=True, slots=True)
class ReportIn:
    """A new report as a client submits it."""

    x: float
    y: float
    category: str
    description: str
    channel: str
    crs: str = "wgs84"
    photo_urls: tuple[str, ...] = field(default_factory=tuple)
    address: str = ""
    contact: str = ""

    def checked(self) -> ReportIn:
        """Raise :class:`InvalidInputError` naming the field for anything out of bounds."""
        if self.channel not in CHANNELS:
            raise InvalidInputError(
                f"unknown channel {self.channel!r}; allowed: {', '.join(CHANNELS)}",
                field="channel",
                value=self.channel,
                allowed=list(CHANNELS),
            )
        if not self.description.strip():
            raise InvalidInputError("description is empty; describe the problem", field="description")
        if len(self.description) > MAX_DESCRIPTION:
            raise InvalidInputError(
                f"description has {len(self.description):,} characters; "
                f"at most {MAX_DESCRIPTION:,} are allowed",
                field="description",
            )
        if len(self.photo_urls) > MAX_PHOTOS:
            raise InvalidInputError(
                f"{len(self.photo_urls)} photo URLs; at most {MAX_PHOTOS} are allowed", field="photo_urls"
            )
        for url in self.photo_urls:
            if not url.startswith(("https://", "http://")) or len(url) > 2000:
                raise InvalidInputError(
                    f"photo URL {url[:100]!r} is not an http(s) URL of at most 2,000 characters",
                    field="photo_urls",
                    value=url[:100],
                )
        return self


def route(category: Category, answer: dict[str, Any]) -> Desk:
    """The desk a report of ``category`` at a located point goes to.

    See :meth:`routing.desks.Desks.route` (the packaged departments).

    Examples
    --------
    >>> from routing.catalog import default_catalog
    >>> answer = {"city": {"code": "C", "name": "泰安市"}, "district": {"code": "D", "name": "泰山区"},
    ...           "subdistrict": {"code": "S", "name": "财源街道"}, "community": None}
    >>> owner = route(default_catalog().get("S-04-04"), answer)
    >>> owner.key, owner.level, owner.note
    ('S', 'subdistrict', 'no community unit covers the point; routed to its subdistrict')
    """
    return Desks(None, default_departments()).route(category, answer)
