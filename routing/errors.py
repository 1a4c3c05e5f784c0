"""Domain exceptions of the routing data (catalog and calendar).

They follow :mod:`geo.errors`: a machine-readable ``code``, a message that names the
bad value and what is allowed, and a ``detail`` mapping.  Bad data and bad arguments
are :class:`~geo.errors.InvalidInputError` subclasses, unknown codes are
:class:`~geo.errors.NotFoundError` subclasses, so the HTTP edge maps them to 422 and
404 without knowing about this package.
"""

from __future__ import annotations

from geo.errors import InvalidInputError, NotFoundError


class CatalogDataError(InvalidInputError):
    """A category catalog file that cannot be used (syntax, fields, codes, levels, units)."""

    code = "invalid_catalog"


class UnknownCategoryError(NotFoundError):
    """A category code that is not in the catalog."""

    code = "unknown_category"


class CalendarDataError(InvalidInputError):
    """A working-time calendar file that cannot be used (syntax, dates, hours)."""

    code = "invalid_calendar"


class NaiveDatetimeError(InvalidInputError):
    """A datetime without a time zone where an instant is needed."""

    code = "naive_datetime"


class UnknownTimeUnitError(InvalidInputError):
    """A time-limit unit that is not one of :data:`routing.calendar.TIME_UNITS`."""

    code = "unknown_time_unit"


class InvalidAmountError(InvalidInputError):
    """A time amount that is negative, not finite, not a number or absurdly large."""

    code = "invalid_amount"
