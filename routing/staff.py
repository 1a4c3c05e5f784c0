"""Staff tokens: issue, resolve, revoke.  Only hashes are stored.

Issuing and revoking are audited (:mod:`routing.audit`) in the same transaction; the
actor is the operator at the command line unless another principal is given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from geo.errors import InvalidInputError, NotFoundError
from routing.access import Principal, check_role, hash_token, new_token, same_hash
from routing.errors import UnauthenticatedError
from store.models import StaffToken

__all__ = ["UnauthenticatedError", "issue", "list_tokens", "resolve", "revoke", "token_unit"]
INVALID_TOKEN = "the token is not valid (unknown, expired or revoked)"


def issue(
    engine: Engine,
    *,
    name: str,
    unit_key: str,
    role: str,
    days: float | None = 365,
    now: dt.datetime | None = None,
    actor: Principal | None = None,
    unit_chain: Sequence[str] | None = None,
) -> tuple[str, int]:
    """Create a token; return it (shown once) and its id.

    Parameters
    ----------
    actor : Principal, optional
        Who issues it, for the audit log (default: the operator at the command line).
    unit_chain : sequence of str, optional
        ``unit_key`` and the units above it (:func:`routing.audit.unit_chain`), so that
        their supervisors see the entry; default ``[unit_key]``.
    """
    from routing import audit

    check_role(role)
    if not name.strip() or not unit_key.strip():
        raise InvalidInputError("a staff token needs a name and a unit", field="name")
    now = now or dt.datetime.now(dt.UTC)
    token, digest = new_token()
    with Session(engine) as session, session.begin():
        row = StaffToken(
            token_hash=digest,
            name=name,
            unit_key=unit_key,
            role=role,
            created_at=now,
            expires_at=None if days is None else now + dt.timedelta(days=days),
        )
        session.add(row)
        session.flush()
        session.add(
            audit.entry(
                actor or audit.operator(),
                "token.issue",
                now,
                scope=[*(unit_chain or [unit_key]), *((actor.unit_key,) if actor else ())],
                target=f"token:{row.id}",
                detail={"name": name, "unit_key": unit_key, "role": role, "expires_at": _iso(row.expires_at)},
            )
        )
        return token, row.id


def resolve(engine: Engine, token: str, now: dt.datetime | None = None) -> Principal:
    """The staff principal of a token.

    Raises
    ------
    UnauthenticatedError
        Unknown, expired or revoked; the message does not say which token exists.
    """
    now = now or dt.datetime.now(dt.UTC)
    digest = hash_token(token)
    with Session(engine) as session:
        row = session.scalar(select(StaffToken).where(StaffToken.token_hash == digest))
    if row is None or not same_hash(row.token_hash, digest):
        raise UnauthenticatedError(INVALID_TOKEN, reason="invalid")
    if row.revoked_at is not None or (row.expires_at is not None and _aware(row.expires_at) <= now):
        raise UnauthenticatedError(INVALID_TOKEN, reason="invalid")
    return Principal(
        "staff", name=row.name, role=row.role, unit_key=row.unit_key, token_hash=digest, token_id=row.id
    )


def revoke(
    engine: Engine,
    token_id: int,
    now: dt.datetime | None = None,
    actor: Principal | None = None,
    unit_chain: Sequence[str] | None = None,
) -> None:
    """Revoke a token by id (audited like :func:`issue`; ``unit_chain`` is the token's unit's)."""
    from routing import audit

    now = now or dt.datetime.now(dt.UTC)
    with Session(engine) as session, session.begin():
        row = session.get(StaffToken, token_id)
        if row is None:
            raise NotFoundError(f"staff token {token_id} does not exist", token_id=token_id)
        row.revoked_at = now
        session.add(
            audit.entry(
                actor or audit.operator(),
                "token.revoke",
                now,
                scope=[*(unit_chain or [row.unit_key]), *((actor.unit_key,) if actor else ())],
                target=f"token:{row.id}",
                detail={"name": row.name, "unit_key": row.unit_key, "role": row.role},
            )
        )


def token_unit(engine: Engine, token_id: int) -> str | None:
    """The unit key of a token (``None`` when there is no such token)."""
    with Session(engine) as session:
        row = session.get(StaffToken, token_id)
        return None if row is None else row.unit_key


def list_tokens(engine: Engine) -> list[dict[str, Any]]:
    """Every token's metadata (never the token)."""
    with Session(engine) as session:
        return [
            {
                "id": t.id,
                "name": t.name,
                "unit_key": t.unit_key,
                "role": t.role,
                "created_at": t.created_at,
                "expires_at": t.expires_at,
                "revoked_at": t.revoked_at,
            }
            for t in session.scalars(select(StaffToken).order_by(StaffToken.id))
        ]


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else _aware(value).isoformat()
