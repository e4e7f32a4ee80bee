"""The scheduler of periodic jobs: one leader at a time (a lock in Redis, renewed
while it runs), so a second scheduler is harmless; each job is enqueued by name on
the JSON-serializer queue when its interval has passed — unless its previous run
still waits in the queue, which then covers this one (a worker that is down or
behind finds one of each job on its return, not one per tick it missed).

RQ's own cron enqueues with pickle, which a JSON-serializer worker rejects, hence
this small loop (see stack.md). Each job is enqueued as `app.jobs.periodic.run(name)`,
which records its last run. The scheduler's queue must have a connection of its own,
never the worker's (see app/queue.py). Its heartbeat says whether it leads.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import replace
from datetime import timedelta

from flask import current_app
from rq import Queue
from rq.exceptions import InvalidJobOperation
from rq.job import Job, JobStatus

from app.jobs.periodic import RUN, SCHEDULE, Periodic
from app.jobs.pulse import Pulse
from app.queue import scheduler_keys
from app.services.health import LEADING, SCHEDULER, STANDBY, STOPPED

log = logging.getLogger(__name__)
# The leader's lock outlives a few of its ticks (it renews it on each), and a tick
# that waited out SQLite's 10 s busy timeout writing its heartbeat; a leader that
# died hands over within this long.
LOCK_TICKS, LOCK_MIN_SECONDS = 3, 15.0
# Extend the lock only if we still hold it (atomic, in Redis).
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


def configured_schedule() -> list[Periodic]:
    every = current_app.config.get("SCHEDULE_EVERY_SECONDS") or 0
    if not every or current_app.config.get("APP_ENV") == "production":
        return SCHEDULE
    return [replace(job, every=timedelta(seconds=every)) for job in SCHEDULE]


class Scheduler:
    def __init__(self, queue: Queue, schedule: list[Periodic] | None = None):
        """`schedule` defaults to SCHEDULE (with SCHEDULE_EVERY_SECONDS applied)."""
        self.queue = queue
        self.connection = queue.connection
        self.schedule = schedule or configured_schedule()
        self.token = uuid.uuid4().hex
        self.leading = False
        self.tick_seconds = current_app.config["SCHEDULER_TICK_SECONDS"]
        self.lock_ms = int(max(LOCK_MIN_SECONDS, LOCK_TICKS * self.tick_seconds) * 1000)
        self.pulse = Pulse(
            SCHEDULER, f"scheduler:{self.token}", current_app.config["HEARTBEAT_SECONDS"]
        )
        self.lock_key, self.next_key, self.last_key = scheduler_keys(queue.name)
        self._extend = self.connection.register_script(_EXTEND)

    def is_leader(self) -> bool:
        if self.connection.set(self.lock_key, self.token, nx=True, px=self.lock_ms):
            return True
        return bool(self._extend(keys=[self.lock_key], args=[self.token, self.lock_ms]))

    def tick(self, now: float | None = None) -> list[str]:
        """Enqueue the jobs whose interval has passed; returns their names."""
        self.leading = self.is_leader()
        if not self.leading:
            return []
        now = time.time() if now is None else now
        enqueued = []
        for job in self.schedule:
            due = float(self.connection.hget(self.next_key, job.name) or 0)
            if now < due or self._still_queued(job.name):
                continue
            queued = self.queue.enqueue(
                RUN,
                job.name,
                job_timeout=900,
                result_ttl=3600,
                failure_ttl=7 * 86400,
                description=job.name,
            )
            self.connection.hset(self.last_key, job.name, queued.id)
            self.connection.hset(self.next_key, job.name, now + job.every.total_seconds())
            enqueued.append(job.name)
        return enqueued

    def _still_queued(self, name: str) -> bool:
        """Whether the job's last run is still waiting for a worker. One that started
        does not count: a worker killed in the middle of it leaves it *started* until
        RQ's clean-up, and the job is idempotent anyway."""
        job_id = self.connection.hget(self.last_key, name)
        if job_id is None:
            return False
        try:
            status = Job(job_id.decode(), connection=self.connection).get_status()
        except InvalidJobOperation:  # expired, or the queue was emptied
            return False
        return status == JobStatus.QUEUED

    def run(self, stop: threading.Event) -> None:
        """Tick every SCHEDULER_TICK_SECONDS until `stop` is set."""
        log.info("scheduler %s started", self.token[:8])
        while not stop.is_set():
            try:
                for name in self.tick():
                    log.info("enqueued %s", name)
            except Exception:  # Redis away for a moment: try again next tick
                self.leading = False
                log.exception("scheduler tick failed")
            self.pulse(LEADING if self.leading else STANDBY)
            stop.wait(self.tick_seconds)

    def release(self) -> None:
        """Give up the lead (another scheduler takes it at its next tick)."""
        try:
            if self.connection.get(self.lock_key) == self.token.encode():
                self.connection.delete(self.lock_key)
        finally:
            self.leading = False
            self.pulse(STOPPED)
