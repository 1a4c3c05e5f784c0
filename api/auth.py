"""Who is calling: ``Authorization: Bearer <token>`` (a staff or a reporter token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from routing.access import ANONYMOUS, Principal, hash_token
from routing.staff import UnauthenticatedError, resolve

_bearer = HTTPBearer(auto_error=False, description="A staff token (sj_...) or a reporter token (rp_...).")


def get_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        return ANONYMOUS
    token = credentials.credentials
    if len(token) > 200:
        raise UnauthenticatedError("the token is not valid (unknown, expired or revoked)")
    if token.startswith("rp_"):
        return Principal("reporter", name="reporter", token_hash=hash_token(token))
    return resolve(request.app.state.boundaries.engine, token)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
