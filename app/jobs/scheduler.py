"""The scheduler of periodic jobs: one leader at a time (a lock in Redis, renewed
while it runs), so a second scheduler is harmless; each job is enqueued by name on
the JSON-serializer queue when its interval has passed.

RQ's own cron enqueues with pickle, which a JSON-serializer worker rejects, hence
this small loop (see stack.md).
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

from app.jobs.periodic import SCHEDULE, Periodic

log = logging.getLogger(__name__)
LOCK_SECONDS = 60
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
        prefix = f"licpanel:scheduler:{queue.name}"
        self.lock_key, self.next_key = f"{prefix}:leader", f"{prefix}:next"
        self._extend = self.connection.register_script(_EXTEND)

    def is_leader(self) -> bool:
        ttl = LOCK_SECONDS * 1000
        if self.connection.set(self.lock_key, self.token, nx=True, px=ttl):
            return True
        return bool(self._extend(keys=[self.lock_key], args=[self.token, ttl]))

    def tick(self, now: float | None = None) -> list[str]:
        """Enqueue the jobs whose interval has passed; returns their names."""
        if not self.is_leader():
            return []
        now = time.time() if now is None else now
        enqueued = []
        for job in self.schedule:
            due = float(self.connection.hget(self.next_key, job.name) or 0)
            if now >= due:
                self.queue.enqueue(
                    job.function,
                    job_timeout=900,
                    result_ttl=3600,
                    failure_ttl=7 * 86400,
                    description=job.name,
                )
                self.connection.hset(self.next_key, job.name, now + job.every.total_seconds())
                enqueued.append(job.name)
        return enqueued

    def run(self, stop: threading.Event, interval: float = 10.0) -> None:
        log.info("scheduler %s started", self.token[:8])
        while not stop.is_set():
            try:
                for name in self.tick():
                    log.info("enqueued %s", name)
            except Exception:  # Redis away for a moment: try again next tick
                log.exception("scheduler tick failed")
            stop.wait(interval)

    def release(self) -> None:
        if self.connection.get(self.lock_key) == self.token.encode():
            self.connection.delete(self.lock_key)
