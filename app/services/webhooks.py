"""Webhooks: a company's subscriptions, the events they hear of, and their delivery.

- A subscription belongs to a company and hears of that company and of every company
  under it (the tree), for the event types it chose (EVENTS).
- `emit` writes an event in the transaction of the change it tells of, with one
  delivery per subscription that wants it; nothing is written when none does. An
  event with a `key` (a reminder step and group…) is written once.
- The worker delivers (app/jobs/webhooks.py) at least once: an attempt is claimed by
  moving its delivery's next attempt a lease ahead, so a worker killed mid-attempt
  leaves it due again, with the same event id, once the lease ends. Failures back off
  (RETRY_DELAYS); still failing 24 hours after the event, a delivery is *failed*.
- Every body is signed: `X-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret,
  "<t>.<body>")>` (README, "Webhooks", shows how to check it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from app import clock, webhook_client
from app.errors import Invalid, NotFound
from app.extensions import db
from app.models import (
    Company,
    CompanyTree,
    DeliveryState,
    Order,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from app.services import audit
from app.sql import insert_ignore
from app.tenancy import Actor, coerce_pk, get_scoped, require_company, scope

EVENTS = {
    "order.requested": "Order requested",
    "order.assigned": "Order assigned",
    "order.declined": "Order declined",
    "order.cancelled": "Order cancelled",
    "licenses.allocated": "Licenses allocated",
    "licenses.expiring": "Licenses expiring (each reminder step, per group)",
    "licenses.expired": "Licenses expired (per group)",
}
ORDER_EVENTS = {"requested", "assigned", "declined", "cancelled"}
MAX_BODY = 256 * 1024
# After the first, the nth failed attempt waits RETRY_DELAYS[n - 1]; none is made
# later than GIVE_UP after the event.
RETRY_DELAYS = tuple(
    timedelta(seconds=s) for s in (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
)
GIVE_UP = timedelta(hours=24)
CLAIMABLE = (DeliveryState.PENDING.value, DeliveryState.RETRYING.value)
# Where a session keeps the deliveries to hand to the worker once it commits.
OUTBOX = "webhook_outbox"
LOG_SIZE = 50
# Deliveries listed with their event's id and type, never its body (up to 256 KB).
WITH_EVENT_NAMES = (
    joinedload(WebhookDelivery.event).load_only(WebhookEvent.uid, WebhookEvent.type),
)


def subscribe(actor: Actor, company_id, url: str, events: Iterable[str]) -> tuple[Webhook, str]:
    """A new subscription of a company in the actor's scope; returns it and its
    signing secret (shown once)."""
    if company_id is None:
        raise Invalid("Choose a company with Manage Company first, then add its webhooks.")
    wanted = sorted(set(events))
    if not wanted:
        raise Invalid("Choose at least one event.", "events")
    unknown = [e for e in wanted if e not in EVENTS]
    if unknown:
        raise Invalid(f"Unknown event: {unknown[0]}.", "events")
    url = check_url(url)  # (its look-up before any write: no lock is held meanwhile)
    company = require_company(actor, company_id)
    secret = "whsec_" + secrets.token_urlsafe(24)
    webhook = Webhook(
        company_id=company.id,
        url=url,
        secret=secret,
        events=" ".join(wanted),
        active=True,
        created_at=clock.real_now(),
        created_by_id=actor.user_id,
    )
    db.session.add(webhook)
    db.session.flush()
    audit.record(
        actor,
        "webhook.created",
        company_id=company.id,
        entity="webhook",
        entity_id=webhook.id,
        after={"url": url, "events": wanted},
    )
    return webhook, secret


def check_url(url: str) -> str:
    """The URL, trimmed, if webhooks may be sent to it (Invalid otherwise)."""
    url = (url or "").strip()
    if not url:
        raise Invalid("Enter the URL that receives the webhooks.", "url")
    if len(url) > 2000:
        raise Invalid("The URL is too long (2,000 characters at most).", "url")
    try:
        webhook_client.resolve(url, allow_private=_allow_private())
    except webhook_client.Refused as exc:
        raise Invalid(str(exc), "url") from None
    return url


def remove(actor: Actor, webhook_id) -> Webhook:
    """Delete a subscription (its pending deliveries go with it)."""
    webhook = get_scoped(actor, Webhook, webhook_id)
    audit.record(
        actor,
        "webhook.deleted",
        company_id=webhook.company_id,
        entity="webhook",
        entity_id=webhook.id,
        before={"url": webhook.url, "events": webhook.event_types},
    )
    db.session.delete(webhook)
    db.session.flush()
    return webhook


def visible(actor: Actor, company_id: int | None) -> list[Webhook]:
    """The subscriptions of the company in view (all in scope without one)."""
    query = select(Webhook).where(scope(actor, Webhook.company_id))
    if company_id is not None:
        query = query.where(Webhook.company_id == company_id)
    return list(db.session.scalars(query.order_by(Webhook.id)))


def log(actor: Actor, webhook_id, limit: int = LOG_SIZE) -> tuple[Webhook, list[WebhookDelivery]]:
    """A subscription and its latest deliveries, newest first."""
    webhook = get_scoped(actor, Webhook, webhook_id)
    deliveries = db.session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
        .options(*WITH_EVENT_NAMES)
    ).all()
    return webhook, list(deliveries)


def replay(actor: Actor, delivery_id) -> WebhookDelivery:
    """Send a delivery's event again (same event id) to its subscription, now."""
    pk = coerce_pk(delivery_id)
    original = db.session.get(WebhookDelivery, pk) if pk is not None else None
    if original is None:
        raise NotFound("No such delivery.")
    get_scoped(actor, Webhook, original.webhook_id)  # its webhook in scope, or 404
    now = clock.now()
    delivery = WebhookDelivery(
        webhook_id=original.webhook_id,
        event_id=original.event_id,
        state=DeliveryState.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        replay_of_id=original.id,
        created_at=now,
    )
    db.session.add(delivery)
    db.session.flush()
    audit.record(
        actor,
        "webhook.replayed",
        company_id=original.webhook.company_id,
        entity="webhook_delivery",
        entity_id=delivery.id,
        after={"event": original.event.uid, "replay_of": original.id},
    )
    _dispatch_after_commit(delivery.id)
    return delivery


def replay_event(actor: Actor, webhook_id, event_uid: str) -> WebhookDelivery:
    """Send an event that was sent to this webhook again (the API's Replay)."""
    webhook = get_scoped(actor, Webhook, webhook_id)
    latest = db.session.scalar(
        select(WebhookDelivery.id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.webhook_id == webhook.id, WebhookEvent.uid == event_uid)
        .order_by(WebhookDelivery.id.desc())
        .limit(1)
    )
    if latest is None:
        raise Invalid("No event with this id was sent to this webhook.", "event_id")
    return replay(actor, latest)


# Writing events ---------------------------------------------------------------


@dataclass(frozen=True)
class News:
    """An event about to be written: its type, company, object and (for events told
    once per what they are about) its key."""

    type: str
    company_id: int
    data: dict
    key: str | None = None


def listening(type_: str) -> bool:
    """Whether any subscription at all wants this type (spares the work of events
    nobody hears)."""
    return bool(
        db.session.scalar(
            select(Webhook.id).where(Webhook.active, Webhook.events.contains(type_)).limit(1)
        )
    )


def heard_in(company_ids: set[int], type_: str) -> set[int]:
    """Of these companies, those some subscription (theirs or above) hears `type_` of."""
    return {
        company_id
        for company_id, hooks in _listeners(company_ids).items()
        if any(type_ in events for _, events in hooks)
    }


def _listeners(company_ids) -> dict[int, list[tuple[int, set[str]]]]:
    """{company: [(webhook id, its event types)]}: the active subscriptions of each
    company and of the companies above it, in one query."""
    found: dict[int, list[tuple[int, set[str]]]] = {}
    for company_id, webhook_id, events in db.session.execute(
        select(CompanyTree.descendant_id, Webhook.id, Webhook.events)
        .join(Webhook, Webhook.company_id == CompanyTree.ancestor_id)
        .where(CompanyTree.descendant_id.in_(company_ids), Webhook.active)
    ):
        found.setdefault(company_id, []).append((webhook_id, set(events.split())))
    return found


def emit(type_: str, company_id: int, data: dict, key: str | None = None) -> int:
    return emit_many([News(type_, company_id, data, key)])


def emit_many(news: list[News]) -> int:
    """Write each event that some subscription wants, with its deliveries, in the
    caller's transaction. Returns how many events were written. One query finds the
    subscriptions of every company concerned (and of the companies above them)."""
    if not news:
        return 0
    listeners = _listeners({n.company_id for n in news})
    if not listeners:
        return 0
    keyed = {n.key for n in news if n.key}
    told = (
        set(db.session.scalars(select(WebhookEvent.key).where(WebhookEvent.key.in_(keyed))))
        if keyed
        else set()
    )
    names = dict(
        db.session.execute(
            select(Company.id, Company.name).where(Company.id.in_(listeners.keys()))
        ).all()
    )
    now = clock.now()
    written = 0
    for item in news:
        wanting = [w for w, events in listeners.get(item.company_id, []) if item.type in events]
        if not wanting or (item.key and item.key in told):
            continue
        # Written once per key even by two transactions at once (ON CONFLICT DO NOTHING).
        event_id = db.session.execute(
            insert_ignore(WebhookEvent, "key" if item.key else None)
            .values(**_event(item, names[item.company_id], now))
            .returning(WebhookEvent.id)
        ).scalar()
        if event_id is None:
            continue  # told by another transaction meanwhile
        if item.key:
            told.add(item.key)
        deliveries = [
            WebhookDelivery(
                webhook_id=webhook_id,
                event_id=event_id,
                state=DeliveryState.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            for webhook_id in wanting
        ]
        db.session.add_all(deliveries)
        db.session.flush()
        _dispatch_after_commit(*(d.id for d in deliveries))
        written += 1
    return written


def _event(item: News, company_name: str, now: datetime) -> dict:
    uid = f"evt_{uuid.uuid4().hex}"
    body = json.dumps(
        {
            "id": uid,
            "type": item.type,
            "created_at": now.isoformat(),
            "company": {"id": item.company_id, "name": company_name},
            "data": item.data,
        },
        separators=(",", ":"),
        default=str,
    )
    if len(body.encode()) > MAX_BODY:  # events carry counts and links, never lists
        raise ValueError(f"A {item.type} event would be over {MAX_BODY} bytes.")
    return {
        "uid": uid,
        "key": item.key,
        "type": item.type,
        "company_id": item.company_id,
        "created_at": now,
        "body": body,
    }


def order_object(order: Order) -> dict:
    """An order as the API shows it (app/api/schemas.Order)."""
    return {
        "id": order.id,
        "number": order.number,
        "company_id": order.company_id,
        "quantity": order.quantity,
        "allocated": order.allocated,
        "license_type": order.license_type,
        "status": order.status,
        "po_number": order.po_number,
        "coterm_order_id": order.coterm_order_id,
        "split_from_id": order.split_from_id,
        "requested_at": _iso(order.requested_at),
        "assigned_at": _iso(order.assigned_at),
        "expires_at": _iso(order.expires_at),
        "closed_at": _iso(order.closed_at),
        "close_reason": order.close_reason,
    }


def people_link(company_id: int, tab: str) -> str:
    """Where an event's people are listed (the API's license tabs)."""
    base = current_app.config["BASE_URL"].rstrip("/")
    return f"{base}/api/v1/companies/{company_id}/licenses?tab={tab}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# Delivering -------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """What a claimed delivery sends."""

    delivery_id: int
    url: str
    secret: str
    uid: str
    type: str
    body: str


def due_ids(now: datetime, limit: int = 1000) -> list[int]:
    """Deliveries due for an attempt (never tried, retrying, or cut by a crash)."""
    return list(
        db.session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.state.in_(CLAIMABLE), WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    )


def claim(delivery_id: int, now: datetime) -> Attempt | None:
    """Take a due delivery for one attempt: its next attempt moves a lease ahead (an
    attempt that never reports back leaves it due again then). None: not due, or
    another worker holds it."""
    claimed = db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.state.in_(CLAIMABLE),
            WebhookDelivery.next_attempt_at <= now,
        )
        .values(
            next_attempt_at=now + lease(),
            attempts=WebhookDelivery.attempts + 1,
            last_attempt_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        return None
    row = db.session.execute(
        select(Webhook.url, Webhook.secret, WebhookEvent.uid, WebhookEvent.type, WebhookEvent.body)
        .join(WebhookDelivery, WebhookDelivery.webhook_id == Webhook.id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id == delivery_id)
    ).one()
    return Attempt(delivery_id, *row)


def give_up_stuck(now: datetime) -> int:
    """Deliveries tried and never reported back on for GIVE_UP (their worker died in
    every attempt) become *failed*: no delivery is retried for ever."""
    return db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.state.in_(CLAIMABLE),
            WebhookDelivery.attempts > 0,
            WebhookDelivery.created_at < now - GIVE_UP,
        )
        .values(
            state=DeliveryState.FAILED.value,
            last_error="Given up: no attempt reported back within 24 hours.",
        )
        .execution_options(synchronize_session=False)
    ).rowcount


def lease() -> timedelta:
    """Longer than any attempt (its connection, sending and answer each time out)."""
    return timedelta(seconds=3 * current_app.config["WEBHOOK_TIMEOUT_SECONDS"] + 5)


def send(attempt: Attempt) -> webhook_client.Answer:
    """POST the event, signed as of now on the real clock, which receivers check
    against their own (outside any transaction)."""
    timestamp = int(clock.real_now().timestamp())
    return webhook_client.post(
        attempt.url,
        attempt.body.encode(),
        {
            "X-Signature": signature(attempt.secret, timestamp, attempt.body),
            "X-Webhook-Id": attempt.uid,
            "X-Webhook-Event": attempt.type,
        },
        timeout=current_app.config["WEBHOOK_TIMEOUT_SECONDS"],
        allow_private=_allow_private(),
    )


def signature(secret: str, timestamp: int, body: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def record(delivery_id: int, answer: webhook_client.Answer, now: datetime) -> str:
    """The attempt's outcome: delivered, retrying after a back-off, or failed once
    the next attempt would come later than GIVE_UP after the event."""
    delivery = db.session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.state not in CLAIMABLE:
        return "gone"  # deleted with its subscription meanwhile
    delivery.status_code = answer.status
    delivery.last_error = answer.error
    if answer.error is None:
        delivery.state = DeliveryState.DELIVERED.value
        delivery.delivered_at = now
        return delivery.state
    index = min(delivery.attempts, len(RETRY_DELAYS)) - 1
    following = now + RETRY_DELAYS[max(index, 0)]
    if delivery.attempts > len(RETRY_DELAYS) or following > delivery.created_at + GIVE_UP:
        delivery.state = DeliveryState.FAILED.value
    else:
        delivery.state = DeliveryState.RETRYING.value
        delivery.next_attempt_at = following
    return delivery.state


def _allow_private() -> bool:
    config = current_app.config
    return bool(config.get("WEBHOOKS_ALLOW_PRIVATE")) and config.get("APP_ENV") != "production"


def _dispatch_after_commit(*delivery_ids: int) -> None:
    """Hand these deliveries to the worker when (and only if) this transaction
    commits (app/jobs/dispatch.py); the periodic job picks up any left behind."""
    db.session.info.setdefault(OUTBOX, set()).update(delivery_ids)


def take_dispatched(session) -> set[int]:
    return session.info.pop(OUTBOX, None) or set()
