"""The audit trail. Auditing a change is one call from the service that makes it,
in the same transaction: `audit.record(actor, "order.assigned", order, before, after)`."""

from __future__ import annotations

from datetime import date, datetime

from app import clock
from app.extensions import db
from app.models import AuditEvent, Company
from app.tenancy import Actor


def record(
    actor: Actor,
    action: str,
    *,
    company_id: int | None,
    entity: str,
    entity_id: int | None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    event = AuditEvent(
        at=clock.now(),
        actor_id=actor.user_id,
        company_id=company_id,
        on_behalf_of_id=actor.managing_company_id,
        interface=actor.interface,
        via=actor.via,
        action=action,
        entity=entity,
        entity_id=entity_id,
        before=_plain(before),
        after=_plain(after),
    )
    db.session.add(event)
    return event


def record_change(
    actor: Actor, action: str, obj, fields: tuple[str, ...], before: dict, *, entity: str
) -> None:
    """Audit an edit of `obj` (its `fields`, as they were in `before`) only when it
    changed one of them."""
    after = values(obj, fields)
    if after != before:
        record(
            actor,
            action,
            company_id=_company_of(obj),
            entity=entity,
            entity_id=obj.id,
            before=before,
            after=after,
        )


def set_active(actor: Actor, rows: list, active: bool, *, noun: str, entity: str) -> None:
    """Deactivate (or reactivate) rows, auditing each one that changes
    ("<noun>.deactivated" / "<noun>.reactivated")."""
    action = f"{noun}.{'reactivated' if active else 'deactivated'}"
    for row in rows:
        if row.active != active:
            record(
                actor,
                action,
                company_id=_company_of(row),
                entity=entity,
                entity_id=row.id,
                before={"active": row.active},
                after={"active": active},
            )
        row.active = active


def _company_of(obj) -> int | None:
    return obj.id if isinstance(obj, Company) else obj.company_id


def values(obj, fields: tuple[str, ...]) -> dict:
    """The named fields of a row, for an event's before/after."""
    return {name: getattr(obj, name) for name in fields}


def _plain(data: dict | None) -> dict | None:
    if data is None:
        return None
    return {k: _json_value(v) for k, v in data.items()}


def _json_value(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Company):
        return value.name
    return value
