"""The worker's self-exit ("Redis connection timeout, quitting..."), on the machine's
Redis: redis-py 8 gives a connection a 5 s socket timeout unless told otherwise, and
RQ's dequeue blocks for 405 s on whichever pooled connection it is handed. When the
scheduler shared the worker's pool, its first tick (before RQ raised the pool's
timeout) left a 5 s connection there for the dequeue to land on."""

from __future__ import annotations

import logging
import re
import threading
import time

import pytest
from rq.job import Job
from sqlalchemy import select

from app.extensions import db
from app.jobs import background
from app.jobs.pulse import Pulse
from app.models import Heartbeat
from app.queue import get_queue
from app.services import health
from tests.settings import REDIS_URL, drop_queue, new_queue, worker_environment
from tests.stack import keeping_signal_handlers, wait_for


@pytest.fixture
def queue_app(committed_app):
    queue = new_queue()
    app, _url = committed_app(REDIS_URL=REDIS_URL, RQ_QUEUE=queue, HEARTBEAT_SECONDS=0.5)
    yield app
    drop_queue(queue)


def every_connection(pool) -> list:
    return [*pool._available_connections, *pool._in_use_connections]


def test_a_job_after_an_idle_gap_runs_although_the_scheduler_ticked_first(queue_app, caplog):
    scheduler = background.build_scheduler()
    scheduler.tick()  # the scheduler thread's first tick comes before the worker exists
    worker = background.build_worker()
    stop = threading.Event()
    ticking = threading.Thread(target=_tick_until, args=(queue_app, scheduler, stop))
    ticking.start()
    later: list[Job] = []
    # After the periodic jobs of that first tick, an idle gap well beyond 5 s.
    enqueue = threading.Timer(12, lambda: later.append(_enqueue_in_context(queue_app)))
    enqueue.start()
    try:
        with caplog.at_level(logging.INFO, logger="rq.worker"), keeping_signal_handlers():
            worker.work(max_jobs=1 + len(scheduler.schedule))
    finally:
        stop.set()
        ticking.join()
        enqueue.join()
    assert "Redis connection timeout" not in caplog.text
    assert later and later[0].get_status(refresh=True) == "finished"
    dequeue_timeout = worker.dequeue_timeout
    pool = worker.connection.connection_pool
    assert pool is not scheduler.connection.connection_pool
    assert all(c.socket_timeout > dequeue_timeout for c in every_connection(pool))


def _tick_until(app, scheduler, stop: threading.Event) -> None:
    with app.app_context():
        while not stop.is_set():
            scheduler.tick()
            stop.wait(0.2)


def _enqueue_in_context(app, function: str = "os.getpid", *args) -> Job:
    with app.app_context():
        return get_queue().enqueue(function, *args)


def _jobs_done(app) -> int:
    with app.app_context():
        db.session.rollback()
        detail = db.session.scalar(select(Heartbeat.detail).where(Heartbeat.role == "worker"))
    match = re.match(r"(\d+) jobs done", detail or "")
    return int(match.group(1)) if match else 0


def test_the_worker_process_outlives_idle_gaps_with_the_scheduler_ticking_every_second(
    queue_app, tmp_path
):
    """The same, as worker.py runs: a real process with its scheduler thread."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = worker_environment(
        queue_app.config["SQLALCHEMY_DATABASE_URI"],
        queue_app.config["RQ_QUEUE"],
        SCHEDULER_TICK_SECONDS=1,
    )
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, str(root / "worker.py")], cwd=root, env=env, stdout=out, stderr=out
        )
    try:
        jobs = []
        for gap in (1, 7, 2, 12, 3):
            time.sleep(gap)
            assert worker.poll() is None, log.read_text()
            with queue_app.app_context():
                jobs.append(get_queue().enqueue("os.getpid"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(
            j.get_status(refresh=True) != "finished" for j in jobs
        ):
            time.sleep(0.2)
        assert [j.get_status() for j in jobs] == ["finished"] * len(jobs), log.read_text()
        assert worker.poll() is None
        text = log.read_text()
        assert "Redis connection timeout" not in text and "tick failed" not in text
        # Its heartbeat counts the jobs its work horses did (RQ counts them in Redis).
        wait_for(lambda: _jobs_done(queue_app) >= len(jobs), 15, "the heartbeat's count", log)
    finally:
        worker.terminate()
        worker.wait(timeout=20)


def test_a_work_horse_forked_while_a_heartbeat_is_being_written_can_write(queue_app, monkeypatch):
    """SQLite keeps its locks' bookkeeping in process memory: a horse forked in the
    middle of another thread's write transaction could never write ("database is
    locked" after the busy timeout). The worker forks between heartbeats."""
    writing, real_beat = threading.Event(), health.beat

    def slow_beat(*args, **kwargs):  # a heartbeat write that takes its time (a busy disk)
        real_beat(*args, **kwargs)
        writing.set()
        time.sleep(1.5)

    monkeypatch.setattr(health, "beat", slow_beat)
    pulse = Pulse(health.WORKER, "worker:slow", every=0)
    beating = threading.Thread(target=_in_context, args=(queue_app, pulse, health.IDLE))
    beating.start()
    writing.wait(10)
    worker = background.build_worker()
    job = _enqueue_in_context(queue_app, "app.jobs.periodic.run", "expiry-sweep")  # it writes
    try:
        with keeping_signal_handlers():
            worker.work(burst=True, max_jobs=1)
    finally:
        beating.join()
    assert job.get_status(refresh=True) == "finished", job.latest_result().exc_string


def _in_context(app, function, *args) -> None:
    with app.app_context():
        function(*args)
