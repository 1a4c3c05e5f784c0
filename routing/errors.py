"""Domain exceptions of routing: its data (catalog, calendar, departments), the loop and access.

They follow :mod:`geo.errors`: a machine-readable ``code``, a message that names the
bad value and what is allowed, and a ``detail`` mapping.  Bad data and bad arguments
are :class:`~geo.errors.InvalidInputError` subclasses, unknown codes are
:class:`~geo.errors.NotFoundError` subclasses; the errors of the loop and of access
(401, 403, 409) are their own classes, mapped to statuses in ``api/errors.py``.
"""

from __future__ import annotations

from geo.errors import InvalidInputError, NotFoundError, SijiError


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


# --------------------------------------------------------------------------- the loop and access
class UnauthenticatedError(SijiError):
    """No credentials where they are needed, or a token that is unknown, expired or revoked (HTTP 401).

    ``detail["reason"]`` is ``missing`` (no credentials) or ``invalid`` (a bad token);
    the HTTP edge turns it into the ``WWW-Authenticate: Bearer`` challenge.
    """

    code = "unauthenticated"


class ForbiddenError(SijiError):
    """The caller may not do this (HTTP 403); the message reveals nothing of the case."""

    code = "forbidden"


class IllegalTransitionError(SijiError):
    """An action that the case's current state does not allow (HTTP 409), naming the
    actions the caller may take instead."""

    code = "illegal_transition"


class VersionConflictError(IllegalTransitionError):
    """The case changed since the caller read it (HTTP 409); ``detail["version"]`` is the current one.

    A kind of illegal transition: the step is refused because it was asked of a case
    that is no longer in the version the caller read.
    """

    code = "version_conflict"


class UnknownActionError(InvalidInputError):
    """An action name that the loop does not have (HTTP 422), listing the ones it has."""

    code = "unknown_action"


class IdempotencyConflictError(InvalidInputError):
    """An ``Idempotency-Key`` already used for a request with another payload (HTTP 422).

    As the IETF Idempotency-Key draft says: the key is stored with a fingerprint of its
    request, and a retry must repeat that request exactly.
    """

    code = "idempotency_key_reused"


class UnknownDeskError(InvalidInputError):
    """A unit or department key that is not in the boundary set or the departments data."""

    code = "unknown_unit"


class DepartmentsDataError(InvalidInputError):
    """A departments file that cannot be used (syntax, levels, names), or a catalog owner
    naming a department the file does not have."""

    code = "invalid_departments"


# --------------------------------------------------------------------------- photos
class PhotoError(InvalidInputError):
    """An uploaded photo that cannot be used: truncated, corrupt, or more pixels than allowed (HTTP 422)."""

    code = "invalid_photo"


class PhotoTooLargeError(PhotoError):
    """An uploaded photo over the byte cap (HTTP 413)."""

    code = "photo_too_large"


class PhotoTypeError(PhotoError):
    """An upload that is not a JPEG, PNG or WebP image, whatever it claims to be (HTTP 415)."""

    code = "unsupported_photo_type"
