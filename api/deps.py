"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.settings import Settings
from boundaries.service import BoundaryService


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_boundaries(request: Request) -> BoundaryService:
    service: BoundaryService = request.app.state.boundaries
    return service


SettingsDep = Annotated[Settings, Depends(get_settings)]
BoundariesDep = Annotated[BoundaryService, Depends(get_boundaries)]
