"""Who is calling: ``Authorization: Bearer <token>`` (a staff or a reporter token), and from where."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.ratelimit import request_address
from routing.access import Principal, hash_token
from routing.errors import UnauthenticatedError
from routing.handover import check_token_unit
from routing.staff import INVALID_TOKEN, resolve

_bearer = HTTPBearer(auto_error=False, description="A staff token (sj_...) or a reporter token (rp_...).")


def get_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller: staff (token resolved, unknown/expired/revoked or bound to a unit that
    a boundary release removed → 401), reporter or anonymous.

    The principal carries the client address (see :func:`api.ratelimit.client_address`)
    for the audit log.
    """
    address = request_address(request.scope, request.app.state.settings.trusted_proxies)
    if credentials is None:
        return Principal("anonymous", address=address)
    token = credentials.credentials
    if len(token) > 200:
        raise UnauthenticatedError(INVALID_TOKEN, reason="invalid")
    if token.startswith("rp_"):
        return Principal("reporter", name="reporter", token_hash=hash_token(token), address=address)
    principal = resolve(request.app.state.boundaries.engine, token)
    check_token_unit(request.app.state.boundaries, principal)  # a unit gone in a boundary release
    return dataclasses.replace(principal, address=address)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
