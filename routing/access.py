"""Who may see and act on which case.

A staff token is bound to one unit (a unit code, or a city department such as
``city:园林局``) and one role.  It sees and acts only on cases owned by its unit or by
units below it; a reporter reads only their own reports (with the token they got at
intake).  Refusals are :class:`~routing.workflow.ForbiddenError` (HTTP 403) and say
nothing about the case.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from routing.workflow import ROLES, ForbiddenError

TOKEN_PREFIX = "sj_"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a request.

    Attributes
    ----------
    kind : {"staff", "reporter", "anonymous", "operator"}
        ``operator`` is a person at the command line (``siji staff``, ``siji routing``):
        trusted, unscoped, but audited like staff.
    name, role, unit_key : str or None
        A staff token's holder, role and unit.
    token_hash : str or None
        SHA-256 of the bearer token (staff or reporter).
    token_id : int or None
        The staff token's id, for the audit log.
    address : str or None
        Where the call came from: the client address over HTTP (see
        ``api.ratelimit.client_address``), ``cli:user@host`` at the command line.
    """

    kind: Literal["staff", "reporter", "anonymous", "operator"]
    name: str = "anonymous"
    role: str | None = None
    unit_key: str | None = None
    token_hash: str | None = None
    token_id: int | None = None
    address: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"


ANONYMOUS = Principal("anonymous")


def new_token() -> tuple[str, str]:
    """A fresh secret token and the SHA-256 hash that is stored instead of it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """SHA-256 of a token, hex.  Tokens are 256-bit random, so no salt or stretching is needed."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Constant-time comparison of two hashes."""
    return hmac.compare_digest(a.encode(), b.encode())


def owner_chain(report: Any) -> list[str]:
    """The owner's unit key and every unit above it, owner first."""
    chain = [report.owner_key]
    ranks = ("city", "district", "subdistrict", "community")
    if report.owner_key.startswith("city:") or report.owner_level not in ranks:
        return [*chain, *[c for c in (report.city_code,) if c]]
    above = ranks[: ranks.index(report.owner_level)]
    return [
        *chain,
        *[getattr(report, f"{level}_code") for level in reversed(above) if getattr(report, f"{level}_code")],
    ]


def can_read(principal: Principal, report: Any) -> bool:
    """Staff of the owning unit or above; the reporter who filed it."""
    if principal.kind == "staff":
        return principal.unit_key in owner_chain(report)
    if principal.kind == "reporter" and principal.token_hash is not None:
        return same_hash(principal.token_hash, report.reporter_token_hash)
    return False


def require_read(principal: Principal, report: Any, report_id: int) -> None:
    """Raise the same 403 for a case out of scope as for one that does not exist."""
    if not can_read(principal, report):
        raise_forbidden(report_id)


def raise_forbidden(report_id: int) -> NoReturn:
    raise ForbiddenError(f"report {report_id} is not accessible with these credentials", report_id=report_id)


def require_staff(principal: Principal, roles: frozenset[str] | None = None) -> None:
    """Only staff (of one of ``roles``) may go on."""
    if principal.kind != "staff":
        raise ForbiddenError("this needs a staff token (Authorization: Bearer sj_...)")
    if roles is not None and principal.role not in roles:
        raise ForbiddenError(
            f"role {principal.role!r} may not do this; roles that may: {', '.join(sorted(roles))}",
            role=principal.role,
        )


def check_role(role: str) -> str:
    """Validate a role name."""
    if role not in ROLES:
        from geo.errors import InvalidInputError

        raise InvalidInputError(
            f"unknown role {role!r}; allowed: {', '.join(ROLES)}", field="role", value=role
        )
    return role
