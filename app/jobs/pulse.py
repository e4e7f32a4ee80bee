"""A background process's heartbeat: its row in `heartbeats`, written at most every
HEARTBEAT_SECONDS (and at once when its state changes), from a thread of the
worker process (the heartbeat's, the scheduler's).

FORK_LOCK: the worker forks a work horse per job while these threads may be
writing. SQLite keeps its locks' bookkeeping in process memory, so a horse forked
in the middle of a thread's write transaction inherits a write lock that no one
will ever release and fails with "database is locked" (reproduced in
tests/jobs/test_worker_connections.py). The threads write holding FORK_LOCK, and
the worker forks holding it (app/jobs/background.py)."""

from __future__ import annotations

import logging
import threading
import time

from app.clock import real_now
from app.services import health
from app.transaction import transaction

log = logging.getLogger(__name__)
FORK_LOCK = threading.Lock()


class Pulse:
    def __init__(self, role: str, name: str, every: float):
        self.role, self.name, self.every = role, name, every
        self.started_at = real_now()
        self._state: str | None = None
        self._at = 0.0

    def __call__(self, state: str, detail: str | None = None) -> None:
        """Record `state` if it changed or the last record is `every` seconds old.
        A database that is away for a moment costs one missed beat, never the process."""
        now = time.monotonic()
        if state == self._state and now - self._at < self.every:
            return
        try:
            with FORK_LOCK, transaction():
                health.beat(self.name, self.role, state, self.started_at, detail)
        except Exception:
            log.exception("heartbeat of %s not recorded", self.name)
            return
        self._state, self._at = state, now
