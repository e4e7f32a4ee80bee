"""Is the background work running? Heartbeats written by the worker and scheduler
processes, the last run of each periodic job, and the answers built on them (the
/health endpoints, the System page, the Emails page's banner).

Every time here is a real (wall-clock) instant, never the demo-shifted clock.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, text

from app.clock import real_now
from app.extensions import db
from app.models import Heartbeat, PeriodicRun

WORKER, SCHEDULER = "worker", "scheduler"
# Workers are idle, busy, stalled (RQ's loop stuck) or stopped; schedulers are
# leading, standby or stopped.
IDLE, BUSY, STALLED, STOPPED = "idle", "busy", "stalled", "stopped"
LEADING, STANDBY = "leading", "standby"
RUNNING = (IDLE, BUSY)
# Rows of processes gone this long are deleted when a process starts.
KEPT_FOR = timedelta(days=7)


def beat(name: str, role: str, state: str, started_at: datetime, detail: str | None = None):
    """Record that this process is alive, in `state`. Caller commits."""
    row = db.session.get(Heartbeat, name)
    if row is None:
        row = Heartbeat(
            name=name, role=role, host=socket.gethostname(), pid=os.getpid(), started_at=started_at
        )
        db.session.add(row)
    row.state, row.detail, row.seen_at = state, (detail or "")[:255] or None, real_now()
    db.session.flush()


def forget_old_processes() -> int:
    """Delete the rows of processes not seen for a week. Caller commits."""
    gone = db.session.execute(delete(Heartbeat).where(Heartbeat.seen_at < real_now() - KEPT_FOR))
    return gone.rowcount


def run_started(name: str) -> None:
    row = db.session.get(PeriodicRun, name) or PeriodicRun(name=name)
    row.status, row.started_at, row.finished_at, row.detail = "running", real_now(), None, None
    db.session.add(row)
    db.session.flush()


def run_finished(name: str, status: str, detail: str | None) -> None:
    row = db.session.get(PeriodicRun, name)
    if row is None:  # started before this table existed (a deploy mid-run)
        row = PeriodicRun(name=name, started_at=real_now())
        db.session.add(row)
    row.status, row.finished_at, row.detail = status, real_now(), (detail or "")[:500] or None
    db.session.flush()


@dataclass(frozen=True)
class Liveness:
    """Ages (seconds; None: never seen) of the newest worker heartbeat and of the
    newest heartbeat of a scheduler holding the lead, and whether a worker that has
    not stopped said so within the stale limit."""

    worker_age: float | None
    worker_running: bool
    scheduler_age: float | None
    stale_after: float

    @property
    def scheduler_leading(self) -> bool:
        return self.scheduler_age is not None and self.scheduler_age <= self.stale_after

    @property
    def ok(self) -> bool:
        return self.worker_running and self.scheduler_leading


# The newest heartbeat of any worker, of a running worker, of a leading scheduler:
# one statement (the Emails page asks on every request).
_NEWEST = select(
    func.max(Heartbeat.seen_at).filter(Heartbeat.role == WORKER),
    func.max(Heartbeat.seen_at).filter(Heartbeat.role == WORKER, Heartbeat.state.in_(RUNNING)),
    func.max(Heartbeat.seen_at).filter(Heartbeat.role == SCHEDULER, Heartbeat.state == LEADING),
)


def liveness() -> Liveness:
    now = real_now()
    stale_after = float(current_app.config["WORKER_STALE_SECONDS"])
    worker, running, leader = db.session.execute(_NEWEST).one()
    running_age = _age(now, running)
    return Liveness(
        worker_age=_age(now, worker),
        worker_running=running_age is not None and running_age <= stale_after,
        scheduler_age=_age(now, leader),
        stale_after=stale_after,
    )


def worker_seen_recently() -> bool:
    return liveness().worker_running


def database_ready() -> bool:
    """Can this process reach its database?"""
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # any driver's "unreachable"
        db.session.rollback()
        return False
    finally:
        db.session.remove()


@dataclass(frozen=True)
class Process:
    """A heartbeat row as the System page shows it."""

    row: Heartbeat
    short_name: str  # the RQ worker's or the scheduler's id, abridged
    leads: bool  # the scheduler holding the lead now


def processes() -> list[Process]:
    """Every process seen in the last week, newest first; the freshest leading
    scheduler within the stale limit is the leader."""
    rows = db.session.scalars(select(Heartbeat).order_by(Heartbeat.seen_at.desc())).all()
    stale_after = float(current_app.config["WORKER_STALE_SECONDS"])
    leader = next(
        (
            r
            for r in rows
            if r.role == SCHEDULER
            and r.state == LEADING
            and _age(real_now(), r.seen_at) <= stale_after
        ),
        None,
    )
    return [Process(r, r.name.split(":")[-1][:12], r is leader) for r in rows]


def periodic_runs() -> dict[str, PeriodicRun]:
    return {run.name: run for run in db.session.scalars(select(PeriodicRun))}


def describe_age(instant: datetime | None) -> str:
    """ "12 s ago", "5 min ago", "3 h ago", "2 d ago" — or "never"."""
    seconds = _age(real_now(), instant)
    if seconds is None:
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


def _age(now: datetime, seen: datetime | None) -> float | None:
    return None if seen is None else max(0.0, round((now - seen).total_seconds(), 1))
