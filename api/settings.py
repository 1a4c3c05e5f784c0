"""Service settings, read from ``SIJI_*`` environment variables when the app is made."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings of the service and the command line.

    Every field can be set with an environment variable ``SIJI_<FIELD>`` (for
    example ``SIJI_DATABASE_URL``) or a ``.env`` file.  Nothing is read at import
    time: build one with ``Settings()`` where the app or command starts.
    """

    model_config = SettingsConfigDict(env_prefix="SIJI_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="sqlite:///./siji.db",
        description="postgresql://user@host/db for PostGIS; default: an SQLite file in the working dir.",
    )
    load_bundled: bool = Field(
        default=True, description="Import the bundled Tai'an set on first start when no generation exists."
    )
    snap_distance_m: float = Field(default=50.0, ge=0, le=10_000)
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1024, description="Cap on a bulk upload.")
    max_json_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Cap on any other request body."
    )
    max_batch_points: int = Field(default=100_000, ge=1, description="Points in one JSON bulk request.")
    batch_chunk_rows: int = Field(default=200_000, ge=1)
    index_cache_size: int = Field(default=4, ge=1, description="Generations whose index stays in memory.")
