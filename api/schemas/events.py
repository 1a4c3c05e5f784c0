"""Schemas of the event feed and of webhooks: answers reuse the routing package's view models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from routing.webhooks import DeliveryView, WebhookView


class EventPage(BaseModel):
    """Events after a cursor, oldest first."""

    events: list[dict[str, Any]] = Field(
        description="Each: id (stable, evt_...), cursor, type, type_zh, occurred_at, report (the case after "
        "the step), step (what was done, by whom; null for due_soon)."
    )
    next_cursor: int = Field(description="Ask again with after=next_cursor for what comes next.")


class WebhookCreate(BaseModel):
    unit: str = Field(
        max_length=64,
        description="The unit or department whose events it receives (yours or one below it): "
        "370902002000, 370902000000:城管局, city:园林局.",
    )
    url: str = Field(max_length=2000, description="http(s) URL the events are POSTed to.")
    secret: str = Field(min_length=16, max_length=200, description="Signs each request (HMAC-SHA256).")
    types: list[str] = Field(
        default_factory=list, max_length=64, description="Only these event types (default: all)."
    )


WebhookOut = WebhookView


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


class DeliveryPage(BaseModel):
    total: int
    deliveries: list[DeliveryView]


class ReplayRequest(BaseModel):
    delivery_ids: list[int] | None = Field(
        default=None, max_length=10_000, description="Only these dead letters (default: all of them)."
    )


class Replayed(BaseModel):
    replayed: int = Field(description="Dead letters queued again.")
