"""The periodic jobs, declared as data in one place, and what each does.

Each job takes the instant to act as of (ISO text: RQ's JSON serializer), commits,
and is idempotent — run twice, or by two schedulers, it does its work once. The
scheduler enqueues `run(name)`, which records each job's last run (the System page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from werkzeug.utils import import_string

from app import clock, sql
from app.jobs.dispatch import enqueue_deliveries, enqueue_emails
from app.services import (
    allocation,
    emails,
    health,
    imports,
    orders,
    reminders,
    sessions,
    webhooks,
)
from app.transaction import transaction

RUN = "app.jobs.periodic.run"


@dataclass(frozen=True)
class Periodic:
    name: str
    function: str  # dotted path, enqueued by name
    every: timedelta


SCHEDULE = [
    Periodic("expiry-sweep", "app.jobs.periodic.sweep_expiries", timedelta(minutes=15)),
    Periodic("expiry-emails", "app.jobs.periodic.plan_expiry_emails", timedelta(minutes=15)),
    Periodic("email-retries", "app.jobs.periodic.dispatch_due_emails", timedelta(minutes=5)),
    Periodic("webhook-retries", "app.jobs.periodic.dispatch_due_webhooks", timedelta(minutes=1)),
    Periodic("stuck-emails", "app.jobs.periodic.recover_stuck_emails", timedelta(minutes=5)),
    Periodic("daily-digest", "app.jobs.periodic.plan_digest", timedelta(minutes=15)),
    Periodic("upload-cleanup", "app.jobs.periodic.discard_stale_uploads", timedelta(hours=1)),
    Periodic("selection-cleanup", "app.jobs.periodic.discard_stale_selections", timedelta(hours=1)),
    Periodic("session-cleanup", "app.jobs.periodic.discard_stale_sessions", timedelta(hours=1)),
    Periodic("planner-statistics", "app.jobs.periodic.refresh_statistics", timedelta(hours=1)),
    Periodic("nfr-grants", "app.jobs.periodic.grant_nfr", timedelta(hours=1)),
]


BY_NAME = {job.name: job for job in SCHEDULE}


def run(name: str, at: str | None = None):
    """Run the periodic job `name`, recording when it ran and how it ended; a failure
    is recorded, then raised again so RQ keeps it among the failed jobs."""
    function = import_string(BY_NAME[name].function)
    with transaction():
        health.run_started(name)
    try:
        result = function(at)
    except Exception as exc:
        with transaction():
            health.run_finished(name, "failed", f"{type(exc).__name__}: {exc}")
        raise
    with transaction():
        health.run_finished(name, "ok", f"result: {result}")
    return result


def grant_nfr(at: str | None = None) -> int:
    """Grant NFR seats again to the partners and sub-partners whose grant expired."""
    with transaction():
        return len(orders.grant_nfr(now=_at(at)))


def sweep_expiries(at: str | None = None) -> int:
    """Record each license's transition to Expired once."""
    with transaction():
        return reminders.sweep(_at(at))


def plan_expiry_emails(at: str | None = None) -> int:
    """Write the 72-hour reminders and expiry notices now due, and send them."""
    with transaction():
        return reminders.plan(_at(at))


def plan_digest(at: str | None = None) -> int:
    """The account managers' daily digest (one key per manager and day)."""
    with transaction():
        return reminders.digest(_at(at))


def dispatch_due_emails(at: str | None = None) -> int:
    """Queue every pending row and every retrying row whose next attempt is due."""
    with transaction():
        due = emails.due_ids(_at(at))
    return enqueue_emails(due)


def dispatch_due_webhooks(at: str | None = None) -> int:
    """Queue every webhook delivery due: new ones whose queueing was lost, retries
    whose back-off ended, and attempts a killed worker left behind."""
    with transaction():
        webhooks.give_up_stuck(_at(at))
        due = webhooks.due_ids(_at(at))
    return enqueue_deliveries(due, unless_queued=True)


def recover_stuck_emails(at: str | None = None) -> int:
    """Rows a killed worker left *sending* become *needs attention*."""
    with transaction():
        return emails.recover_stuck(_at(at))


def discard_stale_uploads(at: str | None = None) -> int:
    with transaction():
        return imports.discard_stale(_at(at))


def discard_stale_selections(at: str | None = None) -> int:
    """Staged selections (Select All: up to 50,000 members) over a day old."""
    with transaction():
        return allocation.discard_stale(_at(at))


def discard_stale_sessions(at: str | None = None) -> int:
    """Sign-in sessions ended or expired over a day ago. Sessions live in real time
    (the demo clock's offset never signs anyone out), so "now" is the real one."""
    with transaction():
        return sessions.discard_stale(datetime.fromisoformat(at) if at else clock.real_now())


def refresh_statistics(at: str | None = None) -> bool:
    """SQLite: refresh the query planner's statistics (sampled, so it stays cheap).
    Without them SQLite sorts a 50,000-person company's tab instead of reading it in
    order from the index. PostgreSQL's autovacuum does this on its own."""
    with transaction() as session:
        return sql.dialect() == "sqlite" and sql.refresh_statistics(session)


def _at(at: str | None) -> datetime:
    return datetime.fromisoformat(at) if at else clock.now()
