"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.settings import Settings
from boundaries.service import BoundaryService
from routing.service import ReportService


def root_path(request: Request) -> str:
    """The prefix the service is mounted under (``root_path``), without a trailing slash:
    what the links of its pages start with."""
    return str(request.scope.get("root_path", "")).rstrip("/")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_boundaries(request: Request) -> BoundaryService:
    service: BoundaryService = request.app.state.boundaries
    return service


async def get_reports(request: Request) -> ReportService:
    service: ReportService = request.app.state.reports
    return service


SettingsDep = Annotated[Settings, Depends(get_settings)]
BoundariesDep = Annotated[BoundaryService, Depends(get_boundaries)]
ReportsDep = Annotated[ReportService, Depends(get_reports)]
