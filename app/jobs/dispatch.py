"""Hand committed outbox rows to the worker.

Services note new email ids (`emails.dispatch_after_commit`); after the transaction
commits, they are enqueued on RQ. If Redis is unreachable (or not configured in
this process) the rows simply stay pending: the worker enqueues every due row when
it starts, and `flask emails dispatch` does the same on demand.
"""

from __future__ import annotations

import logging

from flask import current_app, has_app_context
from redis.exceptions import RedisError
from sqlalchemy import event

from app.extensions import db
from app.services import emails

log = logging.getLogger(__name__)
SEND_EMAIL = "app.jobs.emails.send_email"


def register_outbox_dispatch() -> None:
    factory = db.session.session_factory
    if not event.contains(factory, "after_commit", _after_commit):
        event.listen(factory, "after_commit", _after_commit)
        event.listen(factory, "after_rollback", _after_rollback)


def enqueue_emails(email_ids) -> int:
    """Put send jobs on the queue; returns how many (0 without a reachable queue)."""
    ids = sorted(email_ids)
    if not ids or not current_app.config.get("REDIS_URL"):
        return 0
    from app.queue import get_queue

    try:
        queue = get_queue()
        with queue.connection.pipeline() as pipe:
            for email_id in ids:
                queue.enqueue(
                    SEND_EMAIL,
                    email_id,
                    job_timeout=120,
                    result_ttl=3600,
                    failure_ttl=7 * 86400,
                    pipeline=pipe,
                )
            pipe.execute()
    except RedisError as exc:
        log.warning("queue unreachable, %d email(s) stay pending: %s", len(ids), exc)
        return 0
    return len(ids)


def _after_commit(session) -> None:
    ids = emails.take_dispatched(session)
    if ids and has_app_context():
        enqueue_emails(ids)


def _after_rollback(session) -> None:
    emails.take_dispatched(session)
