"""The soak both background stacks go through: jobs every few seconds, idle gaps
longer than redis-py's 5 s default socket timeout, and one longer than RQ's 405 s
blocking dequeue, for at least ten minutes, with the scheduler ticking every
second. Each soak runs once per `make test` (beside the suites, see
tests/run-all.sh): the embedded stack on the SQLite run, worker.py on the
machine's Redis on the PostgreSQL run."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Seconds between two jobs: short ones, gaps beyond 5 s, then one beyond 405 s.
BEFORE = [2, 3, 7, 2, 9, 3, 6, 2, 12, 3, 8, 2, 6, 3, 10, 2, 7, 3]
LONG_GAP = 410
AFTER = [2, 8, 3, 6, 2, 11, 3, 7, 2, 9, 3, 6, 2, 10, 3]
# At least ten minutes in all (SOAK_SCALE shortens it only to try the soak itself).
MINIMUM_SECONDS = 600
# Worker and scheduler settings for the soak: a tick every second, every periodic
# job once an hour (so they run at the start and never break the long gap).
WORKER_ENV = {"SCHEDULER_TICK_SECONDS": "1", "SCHEDULE_EVERY_SECONDS": "3600"}
FATAL = ("Redis connection timeout", "scheduler tick failed", "quitting", "exited with status")


def scale() -> float:
    return float(os.environ.get("SOAK_SCALE") or 1)


@dataclass
class Soak:
    """`submit(n)` makes job n; `delivered()` lists what the worker did, by n;
    `alive()` is False once the worker process is not the one that started."""

    submit: Callable[[int], None]
    delivered: Callable[[], list[int]]
    alive: Callable[[], bool]
    submitted: list[int] = field(default_factory=list)

    def run(self) -> float:
        """Submit jobs on the schedule above; returns the seconds it lasted. Fails
        at once when the worker stops being the one that started."""
        started = time.monotonic()
        gaps = [*BEFORE, LONG_GAP, *AFTER]
        for n, gap in enumerate(gaps, start=1):
            self.submit(n)
            self.submitted.append(n)
            self.sleep(gap * scale())
        while time.monotonic() - started < MINIMUM_SECONDS * scale():
            self.sleep(1)
        return time.monotonic() - started

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.alive(), "the worker exited during the soak"
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def check(self, lasted: float, log: Path) -> None:
        """Every job done exactly once (waiting up to a minute for the last ones),
        the soak as long as promised, and no fatal line in the worker's log."""
        deadline = time.monotonic() + 60
        while sorted(self.delivered()) != self.submitted and time.monotonic() < deadline:
            time.sleep(0.5)
        assert sorted(self.delivered()) == self.submitted, "every job, once each"
        assert lasted >= MINIMUM_SECONDS * scale()
        fatal = [line for line in log.read_text().splitlines() if any(f in line for f in FATAL)]
        assert not fatal, fatal


def numbered(subjects: list[str | None], pattern: re.Pattern, first: int) -> list[int]:
    """The job numbers the emails carry: each job orders `first + n` licenses."""
    quantities = [
        int(m.group(1).replace(",", ""))
        for m in (pattern.fullmatch(s or "") for s in subjects)
        if m
    ]
    return [q - first for q in quantities if q > first]
