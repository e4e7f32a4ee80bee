"""The background process `worker.py` runs: the RQ worker in the main thread (RQ
installs signal handlers, so it cannot run elsewhere), and beside it, in threads,
the scheduler of periodic jobs and the worker's heartbeat.

Each part has its own Redis connection: the worker's outlasts RQ's blocking
dequeue, the scheduler's is a plain one (see app/queue.py for why they must never
share a pool). Jobs run in forked work horses; each horse drops the inherited
database connections before its first query, so no connection crosses a fork.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask
from redis.exceptions import RedisError
from rq import Worker
from rq.defaults import DEFAULT_WORKER_TTL
from rq.serializers import JSONSerializer

from app import clock
from app.extensions import db
from app.jobs.dispatch import enqueue_emails
from app.jobs.pulse import FORK_LOCK, Pulse
from app.jobs.scheduler import Scheduler
from app.queue import get_queue, redis_connection
from app.services import health
from app.services.emails import due_ids
from app.transaction import transaction

log = logging.getLogger(__name__)


# RQ beats before each dequeue (which blocks up to worker_ttl - 15 s) and every
# 30 s while a job runs: a loop silent for longer than this is stuck.
STALLED_AFTER = DEFAULT_WORKER_TTL + 60


class AppWorker(Worker):
    """An RQ worker whose forked horses never reuse the parent's pooled connections.

    A horse whose worker is killed outright finishes its one job and exits (RQ
    gives it a process group of its own): the email it is sending ends *sent*, not
    *needs attention*. Stopping the worker (Ctrl+C, SIGTERM twice) ends it too."""

    def fork_work_horse(self, job, queue):
        with FORK_LOCK:  # never in the middle of a heartbeat's write (see pulse.py)
            return super().fork_work_horse(job, queue)

    def main_work_horse(self, job, queue):
        db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)


def build_worker() -> AppWorker:
    """The RQ worker on a connection of its own, built for the blocking dequeue."""
    connection = redis_connection(blocking=True)
    return AppWorker([get_queue(connection)], connection=connection, serializer=JSONSerializer)


def build_scheduler() -> Scheduler:
    """The scheduler on a connection of its own (never the worker's pool)."""
    return Scheduler(get_queue(redis_connection()))


def catch_up() -> int:
    """Queue every email still due: a crash between a commit and its enqueue loses
    nothing. Also forgets processes not seen for a week."""
    with transaction():
        health.forget_old_processes()
        ids = due_ids(clock.now())
    db.session.remove()
    return enqueue_emails(ids)


def run(app: Flask, *, burst: bool = False, scheduler: bool = True) -> None:
    """Work until stopped (SIGTERM/SIGINT: RQ's warm shutdown), or until the queue
    is empty with `burst`. The scheduler runs beside it unless `scheduler` is False."""
    log.info("enqueued %d pending email(s)", catch_up())
    worker = build_worker()
    stop = threading.Event()
    threads = [_thread(app, _beat_worker, worker, stop, app.config["HEARTBEAT_SECONDS"])]
    periodic = build_scheduler() if scheduler and not burst else None
    if periodic:
        threads.append(_thread(app, periodic.run, stop))
    for thread in threads:
        thread.start()
    try:
        worker.work(burst=burst, with_scheduler=False)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        if periodic:
            periodic.release()


def run_scheduler_only(app: Flask) -> None:
    """Only the scheduler loop, in the main thread, until SIGTERM or SIGINT."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    periodic = build_scheduler()
    try:
        periodic.run(stop)
    finally:
        periodic.release()


def _beat_worker(worker: AppWorker, stop: threading.Event, every: float) -> None:
    pulse = Pulse(health.WORKER, f"worker:{worker.name}", every)
    while not stop.is_set():
        pulse(_worker_state(worker), _jobs_done(worker))
        stop.wait(every)
    pulse(health.STOPPED, _jobs_done(worker))


def _worker_state(worker: AppWorker) -> str:
    """busy, idle — or stalled when RQ's own loop has not come round for longer
    than it ever should (it beats before each dequeue and while a job runs)."""
    last = worker.last_heartbeat
    if last is not None and (datetime.now(UTC) - last).total_seconds() > STALLED_AFTER:
        return health.STALLED
    return health.BUSY if worker.get_state() == "busy" else health.IDLE


def _jobs_done(worker: AppWorker) -> str:
    """RQ counts in Redis (its work horses do the counting, not this process)."""
    try:
        done, failed = worker.connection.hmget(
            worker.key, "successful_job_count", "failed_job_count"
        )
    except RedisError:
        return "the queue is unreachable"
    return f"{int(done or 0)} jobs done, {int(failed or 0)} failed"


def _thread(app: Flask, target: Callable, *args) -> threading.Thread:
    """A daemon thread running `target` inside an app context of its own."""

    def in_context():
        with app.app_context():
            try:
                target(*args)
            finally:
                db.session.remove()

    return threading.Thread(target=in_context, daemon=True, name=target.__name__)
