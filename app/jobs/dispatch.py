"""Hand committed outbox rows to the worker: emails and webhook deliveries.

Services note new ids (`emails.dispatch_after_commit`, webhooks' likewise); after
the transaction commits, they are enqueued on RQ. If Redis is unreachable (or not
configured in this process) the rows simply stay due: the worker enqueues every due
email when it starts, the periodic jobs pick up both, and `flask emails dispatch`
does the same for emails on demand.
"""

from __future__ import annotations

import logging

from flask import current_app, has_app_context
from redis.exceptions import RedisError
from sqlalchemy import event

from app.extensions import db
from app.services import emails, webhooks

log = logging.getLogger(__name__)
SEND_EMAIL = "app.jobs.emails.send_email"
DELIVER_WEBHOOK = "app.jobs.webhooks.deliver"


def register_outbox_dispatch() -> None:
    factory = db.session.session_factory
    if not event.contains(factory, "after_commit", _after_commit):
        event.listen(factory, "after_commit", _after_commit)
        event.listen(factory, "after_rollback", _after_rollback)


def enqueue_emails(email_ids) -> int:
    """Put send jobs on the queue; returns how many (0 without a reachable queue)."""
    return _enqueue(SEND_EMAIL, email_ids, "email(s)")


def enqueue_deliveries(delivery_ids, unless_queued: bool = False) -> int:
    """Put webhook delivery jobs on the queue (one job id per delivery); returns how
    many. `unless_queued`: leave out deliveries whose job is still waiting (the
    periodic job's sweep of due ones must not pile up a backlog)."""
    return _enqueue(
        DELIVER_WEBHOOK, delivery_ids, "webhook deliveries", "webhook-delivery-", unless_queued
    )


def _enqueue(
    function: str, row_ids, noun: str, job_prefix: str | None = None, unless_queued=False
) -> int:
    ids = sorted(row_ids)
    if not ids or not current_app.config.get("REDIS_URL"):
        return 0
    from rq.job import Job, JobStatus

    from app.queue import get_queue

    try:
        queue = get_queue()
        if unless_queued and job_prefix:
            jobs = Job.fetch_many(
                [f"{job_prefix}{i}" for i in ids],
                connection=queue.connection,
                serializer=queue.serializer,
            )
            # (A started job of a due delivery outlived its lease: its worker died.)
            waiting = (JobStatus.QUEUED, JobStatus.DEFERRED)
            busy = {
                int(job.id.removeprefix(job_prefix))
                for job in jobs
                if job is not None and job.get_status(refresh=False) in waiting
            }
            ids = [i for i in ids if i not in busy]
        with queue.connection.pipeline() as pipe:
            for row_id in ids:
                queue.enqueue(
                    function,
                    row_id,
                    job_id=f"{job_prefix}{row_id}" if job_prefix else None,
                    job_timeout=120,
                    result_ttl=3600,
                    failure_ttl=7 * 86400,
                    pipeline=pipe,
                )
            pipe.execute()
    except RedisError as exc:
        log.warning("queue unreachable, %d %s stay pending: %s", len(ids), noun, exc)
        return 0
    return len(ids)


def _after_commit(session) -> None:
    email_ids = emails.take_dispatched(session)
    delivery_ids = webhooks.take_dispatched(session)
    if has_app_context():
        enqueue_emails(email_ids)
        enqueue_deliveries(delivery_ids)


def _after_rollback(session) -> None:
    emails.take_dispatched(session)
    webhooks.take_dispatched(session)
