"""Who may see and act on which case: the one documented rule.

A staff token is bound to one desk (a unit code, a city department such as
``city:园林局`` or a district department such as ``370902000000:城管局``; see
:mod:`routing.desks`) and one role.

* The current owner's chain acts: staff of the owning desk and of every unit above
  it act on the case (as their role and :mod:`routing.workflow` allow), and the case
  counts in their metrics.
* Earlier owners read: after a reroute or a transfer, the units whose chain owned
  the case keep reading it, without counting it as theirs; a desk asked to take a
  case over (a pending transfer) reads it to decide.
* A reporter reads only their own reports (with the token they got at intake), and
  the original a duplicate of theirs was merged into; they give the verdict (回访) on
  them.

Which units see a case is stored with it (:class:`store.models.ReportScope`), so
queries filter by it in SQL.  No credentials are :class:`~routing.errors.UnauthenticatedError`
(HTTP 401); refusals are :class:`~routing.errors.ForbiddenError` (HTTP 403) and say
nothing about the case.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from routing.errors import ForbiddenError, UnauthenticatedError
from routing.workflow import ROLES

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
    """The owner's key and every unit above it, owner first (as stored with the case)."""
    return list(report.owner_chain or [report.owner_key])


def can_read(principal: Principal, report: Any) -> bool:
    """Staff whose unit is in the case's scope (any kind); the reporter who filed it, and the
    reporters of duplicates merged into it."""
    if principal.kind == "staff":
        return any(scope.unit_key == principal.unit_key for scope in report.scopes)
    return is_reporter(principal, report)


def is_reporter(principal: Principal, report: Any) -> bool:
    """Whether the caller holds the reporter token of the case, or of a duplicate merged into it."""
    if principal.kind != "reporter" or principal.token_hash is None:
        return False
    token = principal.token_hash
    return same_hash(token, report.reporter_token_hash) or any(
        same_hash(token, follower.token_hash) for follower in report.followers
    )


def can_act(principal: Principal, report: Any) -> bool:
    """Staff of the owner's chain (the staff whose metrics count the case)."""
    return principal.kind == "staff" and principal.unit_key in owner_chain(report)


def require_read(principal: Principal, report: Any, report_id: int) -> None:
    """Raise the same 403 for a case out of scope as for one that does not exist."""
    if not can_read(principal, report):
        raise_forbidden(report_id)


def raise_forbidden(report_id: int) -> NoReturn:
    raise ForbiddenError(f"report {report_id} is not accessible with these credentials", report_id=report_id)


def require_credentials(principal: Principal) -> None:
    """Anonymous callers are told to authenticate (401), before anything is read."""
    if principal.kind == "anonymous":
        raise UnauthenticatedError(
            "this needs a token: send Authorization: Bearer sj_... (staff) or rp_... (the reporter)",
            reason="missing",
        )


def require_staff(principal: Principal, roles: frozenset[str] | None = None) -> None:
    """Only staff (of one of ``roles``) may go on; anonymous callers get a 401, others a 403."""
    require_credentials(principal)
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
