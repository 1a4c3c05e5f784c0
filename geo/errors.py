"""Domain exceptions of the spatial core.

Every exception carries a machine-readable ``code``, a human message that names the
bad value and what is allowed, and a ``detail`` mapping.  The HTTP edge maps these
classes to statuses in one table; the CLI prints the message.
"""

from __future__ import annotations

from typing import Any


class SijiError(Exception):
    """Base class of all siji domain errors."""

    code = "siji_error"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail: dict[str, Any] = detail


class InvalidInputError(SijiError):
    """Input that can never be valid (a client error)."""

    code = "invalid_input"


class InvalidCoordinateError(InvalidInputError):
    """A coordinate is NaN, infinite or out of range for its CRS."""

    code = "invalid_coordinate"


class SwappedAxesError(InvalidCoordinateError):
    """The point is outside the boundary set but its axis swap is inside.

    Latitude and longitude were most likely given in the wrong order.
    """

    code = "swapped_axes"


class UnknownCRSError(InvalidInputError):
    """A CRS name or EPSG code that siji does not know."""

    code = "unknown_crs"


class CRSMismatchError(InvalidInputError):
    """Two inputs that must share a CRS do not."""

    code = "crs_mismatch"


class BoundaryDataError(InvalidInputError):
    """A boundary set that cannot be used (bad fields, levels, hierarchy, geometry)."""

    code = "invalid_boundaries"


class NotFoundError(SijiError):
    """A code or identifier that does not exist."""

    code = "not_found"


class UnknownUnitError(NotFoundError):
    """A unit code that is not in the boundary set."""

    code = "unknown_unit"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` with its noun in the right number, for messages.

    Examples
    --------
    >>> counted(1, "problem"), counted(3970, "problem"), counted(2, "community", "communities")
    ('1 problem', '3,970 problems', '2 communities')
    """
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"
