"""Delivering webhooks (services/webhooks.py): claimed (committed) before the POST,
recorded after; a worker killed in between leaves the delivery due again once its
lease ends, so every event is delivered at least once, always with the same id."""

from __future__ import annotations

from app import clock
from app.services import webhooks
from app.transaction import transaction


def deliver(delivery_id: int) -> str:
    """One attempt at one delivery; returns its new state ("skipped": not due, or
    being attempted elsewhere)."""
    with transaction():
        attempt = webhooks.claim(delivery_id, clock.now())
    if attempt is None:
        return "skipped"
    answer = webhooks.send(attempt)
    with transaction():
        return webhooks.record(delivery_id, answer, clock.now())


def deliver_due() -> dict[str, int]:
    """Every due delivery, in this process (tests, operators)."""
    with transaction():
        ids = webhooks.due_ids(clock.now())
    outcomes: dict[str, int] = {}
    for delivery_id in ids:
        state = deliver(delivery_id)
        outcomes[state] = outcomes.get(state, 0) + 1
    return outcomes
