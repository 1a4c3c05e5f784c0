"""Service settings, read from ``SIJI_*`` environment variables when the app is made."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from boundaries.index_cache import default_root
from geo.index import DEFAULT_SNAP_DISTANCE_M, MAX_SNAP_DISTANCE_M
from store.engine import DEFAULT_DATABASE_URL

if TYPE_CHECKING:
    from boundaries.service import BoundaryService
    from routing.delivery import DeliveryPolicy
    from routing.service import ReportService

DEVELOPMENT_SECRET = "siji-development-secret-do-not-use"


class Settings(BaseSettings):
    """Settings of the service and the command line.

    Every field can be set with an environment variable ``SIJI_<FIELD>`` (for
    example ``SIJI_DATABASE_URL``) or a ``.env`` file.  Nothing is read at import
    time: build one with ``Settings()`` where the app or command starts.
    """

    model_config = SettingsConfigDict(env_prefix="SIJI_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        default="development",
        description=(
            "development: the default secret and any Open311 api_key are accepted; test and production: "
            "neither (production refuses to start with the default secret)."
        ),
    )
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="postgresql://user@host/db for PostGIS; default: an SQLite file in the working dir.",
    )
    load_bundled: bool = Field(
        default=True, description="Import the bundled Tai'an set on first start when no generation exists."
    )
    snap_distance_m: float = Field(default=DEFAULT_SNAP_DISTANCE_M, ge=0, le=MAX_SNAP_DISTANCE_M)
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1024, description="Cap on a bulk upload.")
    max_json_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Cap on any other request body."
    )
    max_batch_points: int = Field(default=100_000, ge=1, description="Points in one JSON bulk request.")
    batch_chunk_rows: int = Field(default=200_000, ge=1)
    index_cache_size: int = Field(default=4, ge=1, description="Generations whose index stays in memory.")
    map_processes: int = Field(
        default=1,
        ge=0,
        le=64,
        description="Worker processes for map analyses (off the request path); 0: a thread of the server.",
    )
    index_cache_dir: Path | None = Field(
        default_factory=default_root,
        description=(
            "Where built indexes are kept on disk, one per generation content (default: "
            "$XDG_CACHE_HOME/siji/indexes, else ~/.cache/siji/indexes); empty: build in every process."
        ),
    )
    secret_key: str = Field(
        default=DEVELOPMENT_SECRET,
        min_length=16,
        description="Derives reporter tokens; must be changed outside development.",
    )
    duplicate_distance_m: float = Field(default=50.0, ge=0, le=5_000)
    escalation_interval_s: float = Field(
        default=300.0, ge=0, description="Seconds between escalation runs inside the service (0: never)."
    )
    escalation_max_level: int = Field(default=3, ge=0, le=3)
    catalog_path: Path | None = Field(
        default=None, description="A category catalog TOML to use instead of the packaged one."
    )
    calendar_path: Path | None = Field(
        default=None, description="A working-time calendar TOML (holidays, make-up days, office hours)."
    )
    departments_path: Path | None = Field(
        default=None,
        description="A departments TOML (the city's and districts' departments) instead of the packaged one.",
    )
    open311_api_keys: list[str] = Field(
        default_factory=list,
        description=(
            'Keys that Open311 clients send as api_key to post requests, as JSON: \'["key1", "key2"]\'.  '
            "Empty: any key is accepted in development, none elsewhere."
        ),
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description=(
            "Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For is believed, as JSON: "
            "'[\"10.0.0.0/8\"]'.  Empty: the TCP peer is the client (X-Forwarded-For is ignored)."
        ),
    )
    rate_limit_per_address: int = Field(
        default=1200,
        ge=0,
        description=(
            "Requests per window from one client address, IPv6 per /64 (0: no limit).  Per worker process "
            "unless SIJI_RATE_LIMIT_STORAGE is shared."
        ),
    )
    rate_limit_per_token: int = Field(
        default=600,
        ge=0,
        description=(
            "Requests per window with one bearer token (0: no limit).  Per worker process unless "
            "SIJI_RATE_LIMIT_STORAGE is shared."
        ),
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description=(
            "Where rate limits are counted: memory:// (each worker process on its own) or "
            "redis://host:port/db (one count for every worker and machine using that Redis)."
        ),
    )
    rate_limit_window_s: int = Field(
        default=60, ge=1, le=86_400, description="The window of the rate limits, in seconds (sliding)."
    )
    media_dir: Path = Field(
        default=Path("media"),
        description="Where photos are stored (created on first use); relative to the working directory.",
    )
    max_photo_bytes: int = Field(
        default=15 * 1024 * 1024, ge=1024, le=200 * 1024 * 1024, description="Cap on one uploaded photo."
    )
    max_photo_pixels: int = Field(
        default=50_000_000,
        ge=10_000,
        le=200_000_000,
        description="Cap on one photo's width × height, checked before decoding (decompression bombs).",
    )
    verdict_days: float = Field(
        default=7.0,
        gt=0,
        le=365,
        description="Days after a closure in which its reporter may give a verdict.",
    )
    due_soon_hours: float = Field(
        default=2.0,
        ge=0,
        le=24 * 30,
        description="A due_soon event this many hours before a due time (0: none).",
    )
    delivery_interval_s: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        description="Seconds between rounds of the event delivery loop (0: this process runs none).",
    )
    delivery_lease_s: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        description="How long the process delivering events holds its lease without renewing it.",
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Timeout of one webhook request."
    )
    webhook_retry_period_s: float = Field(
        default=86_400.0,
        ge=1,
        description="How long a failing delivery is retried before it is dead-lettered.",
    )
    webhook_backoff_max_s: float = Field(
        default=600.0, ge=0.1, description="The longest wait between two attempts of a failing delivery."
    )

    @field_validator("index_cache_dir", mode="before")
    @classmethod
    def _no_cache_when_empty(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("rate_limit_storage")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        from api.rate_counters import check_uri

        return check_uri(value.strip())

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted proxy {item!r} is not an IP address or network (e.g. 10.0.0.1 or 10.0.0.0/8)"
                ) from None
        return [item.strip() for item in value]

    @model_validator(mode="after")
    def _lease_outlasts_a_delivery(self) -> Settings:
        if self.delivery_lease_s < 2 * self.webhook_timeout_s:
            raise ValueError(
                f"SIJI_DELIVERY_LEASE_S={self.delivery_lease_s:g} must be at least twice "
                f"SIJI_WEBHOOK_TIMEOUT_S={self.webhook_timeout_s:g}: a round of deliveries must end "
                "while its process still holds the lease"
            )
        return self

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError(
                "SIJI_SECRET_KEY must be set to a new random value when SIJI_ENVIRONMENT=production "
                "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return self


def report_service(settings: Settings, engine: Any, boundaries: BoundaryService) -> ReportService:
    """The report service these settings describe (the app, ``siji serve`` and the CLI build it here).

    Raises a :class:`~geo.errors.SijiError` naming the file for a bad catalog,
    calendar or departments file.
    """
    from routing.service import ReportService
    from store.media import MediaStore

    return ReportService.from_files(
        engine,
        boundaries,
        catalog_path=settings.catalog_path,
        calendar_path=settings.calendar_path,
        departments_path=settings.departments_path,
        secret=settings.secret_key,
        duplicate_distance_m=settings.duplicate_distance_m,
        escalation_max_level=settings.escalation_max_level,
        media=MediaStore(settings.media_dir),
        max_photo_bytes=settings.max_photo_bytes,
        max_photo_pixels=settings.max_photo_pixels,
        verdict_days=settings.verdict_days,
    )


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    """How the event delivery loop runs, from these settings (the app and ``siji webhooks run``)."""
    from routing.delivery import DeliveryPolicy

    return DeliveryPolicy(
        interval_s=settings.delivery_interval_s or 1.0,
        lease_s=settings.delivery_lease_s,
        timeout_s=settings.webhook_timeout_s,
        retry_period_s=settings.webhook_retry_period_s,
        backoff_max_s=settings.webhook_backoff_max_s,
        due_soon=dt.timedelta(hours=settings.due_soon_hours),
    )
