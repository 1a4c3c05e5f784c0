"""``Idempotency-Key`` by the book (IETF draft "The Idempotency-Key HTTP Header Field").

A key is 8 to 128 characters, stored with the request it came with (a report's
intake, or a step of the loop) and with that request's *fingerprint*: a SHA-256 of
its payload in a canonical form.  A retry with the same key and the same payload
gets the first answer again (a replay: nothing is done twice, and the HTTP edge says
``Idempotent-Replayed: true``); the same key with another payload is refused with
:class:`~routing.errors.IdempotencyConflictError` (HTTP 422) naming the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from geo.errors import InvalidInputError
from routing.errors import IdempotencyConflictError

MIN_LENGTH, MAX_LENGTH = 8, 128


def check_key(key: str) -> None:
    """Raise :class:`InvalidInputError` for a key of the wrong length."""
    if not MIN_LENGTH <= len(key) <= MAX_LENGTH:
        raise InvalidInputError(
            f"Idempotency-Key must be {MIN_LENGTH} to {MAX_LENGTH} characters (got {len(key)})",
            field="Idempotency-Key",
            length=len(key),
        )


def fingerprint(payload: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a payload's canonical JSON: the same fields and values, the same print.

    Examples
    --------
    >>> fingerprint({"a": 1, "b": "路"}) == fingerprint({"b": "路", "a": 1})
    True
    >>> fingerprint({"a": 1}) == fingerprint({"a": 2})
    False
    """
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def check_replay(key: str, stored: str | None, given: str, used_for: str) -> None:
    """Refuse a key whose stored fingerprint is not the one of this request.

    A key stored before fingerprints were kept (``stored`` is ``None``) is compared by
    the caller on what it has (the report, the action).

    Raises
    ------
    IdempotencyConflictError
        Naming the key and what it was used for.
    """
    if stored is not None and stored != given:
        raise IdempotencyConflictError(
            f"Idempotency-Key {key!r} was already used {used_for} with another payload; a retry "
            "must repeat that request exactly, a new request needs a new key",
            field="Idempotency-Key",
            key=key,
        )
