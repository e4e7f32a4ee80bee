"""Webhooks (services/webhooks.py): a company's subscriptions, the events written in
the same transaction as the change they tell of, and each event's deliveries to
each subscription, with their own states (not the email outbox's).

A subscription hears of its own company and of every company under it."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.company import Company
from app.models.types import UTCDateTime


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # never tried, or cut by a crash (tried again, same event)
    RETRYING = "retrying"  # the receiver failed; tried again at next_attempt_at
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # still failing 24 hours on: given up (Replay sends it again)


class Webhook(Model):
    __tablename__ = "webhooks"
    __table_args__ = (
        # The Webhooks screen: a company's subscriptions; the fan-out: by company.
        Index("ix_webhooks_company", "company_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE", name="fk_webhooks_company_id")
    )
    url: Mapped[str] = mapped_column(String(2000))
    # The HMAC key of the signatures (the receiver holds it too, so it is kept as is).
    secret: Mapped[str] = mapped_column(String(100))
    # The event types it wants, space-separated (services/webhooks.EVENTS).
    events: Mapped[str] = mapped_column(String(400))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL", name="fk_webhooks_created_by_id")
    )

    company: Mapped[Company] = relationship(Company, lazy="selectin")

    @property
    def event_types(self) -> list[str]:
        return self.events.split()


class WebhookEvent(Model):
    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ux_webhook_events_uid", "uid", unique=True),
        # An event told once per what it is about (a reminder step and group…).
        Index("ux_webhook_events_key", "key", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(40))  # the id receivers dedupe by
    key: Mapped[str | None] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(40))
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE", name="fk_webhook_events_company_id")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The exact JSON sent, every time: a retry carries the same bytes.
    body: Mapped[str] = mapped_column(Text)


class WebhookDelivery(Model):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The worker's due deliveries; the delivery log, newest first.
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
        Index("ix_webhook_deliveries_event", "event_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE", name="fk_webhook_deliveries_webhook_id")
    )
    event_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE", name="fk_webhook_deliveries_event_id")
    )
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When it may be tried (next); while an attempt runs, when that attempt's lease
    # ends (a worker killed mid-attempt leaves it due again then).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replay_of_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "webhook_deliveries.id", ondelete="SET NULL", name="fk_webhook_deliveries_replay_of"
        )
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    event: Mapped[WebhookEvent] = relationship(WebhookEvent)
    webhook: Mapped[Webhook] = relationship(Webhook, lazy="selectin")
