"""Webhooks through real worker processes on the machine's Redis: a worker and its
work horse SIGKILLed in the middle of a delivery lose no event, and the receiver,
deduping by event id, processes each exactly once."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from sqlalchemy import func, select

from app.extensions import db
from app.models import WebhookDelivery
from app.services import webhooks
from app.services.orders import request_order
from tests import factories
from tests.jobs.test_scheduler import (
    stack,  # noqa: F401 (the fixture)
    wait_for,
)
from tests.receiver import Receiver, serve

EVENTS = 40


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _kill_with_horse(process) -> None:
    """SIGKILL the worker and its work horse (which RQ puts in a group of its own)."""
    for pid in [process.pid, *_children(process.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_a_killed_worker_loses_no_event_and_the_receiver_processes_each_once(stack):  # noqa: F811
    app, _mailbox, start = stack
    tree = factories.build_tree(learners_per_company=0)
    db.session.commit()
    with serve(Receiver(delay=0.3)) as receiver:
        _hook, receiver.secret = webhooks.subscribe(
            tree.actor("partner"), tree.partner.id, receiver.url, ["order.requested"]
        )
        db.session.commit()
        orders = []
        for _ in range(EVENTS):
            orders.append(request_order(tree.actor("customer"), tree.customer.id, 1).id)
            db.session.commit()  # each commit queues its delivery on Redis
        worker = start()
        wait_for(lambda: len(receiver.calls) >= 10, what="the first deliveries")
        _kill_with_horse(worker)  # the 10th is being answered: cut mid-delivery
        start()

        def all_delivered() -> bool:
            return (
                db.session.scalar(select(func.count()).where(WebhookDelivery.state == "delivered"))
                == EVENTS
                and len(receiver.events()) == EVENTS
            )

        wait_for(all_delivered, seconds=120, what="every event delivered")
    assert sorted(e["data"]["id"] for e in receiver.events()) == sorted(orders)
    assert all(call.valid for call in receiver.calls)
    assert receiver.duplicates >= 1  # the cut delivery came again, with its event id
    retried = db.session.scalar(select(func.max(WebhookDelivery.attempts)))
    assert retried >= 2
