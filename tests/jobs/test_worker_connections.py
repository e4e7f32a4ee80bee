"""The worker's self-exit ("Redis connection timeout, quitting..."), on the machine's
Redis: redis-py 8 gives a connection a 5 s socket timeout unless told otherwise, and
RQ's dequeue blocks for 405 s on whichever pooled connection it is handed. When the
scheduler shared the worker's pool, its first tick (before RQ raised the pool's
timeout) left a 5 s connection there for the dequeue to land on."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid

import pytest
from redis import Redis
from rq.job import Job

from app.jobs import background
from app.queue import get_queue

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def queue_app(committed_app):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    app, _url = committed_app(REDIS_URL=REDIS_URL, RQ_QUEUE=queue, HEARTBEAT_SECONDS=0.5)
    yield app
    redis = Redis.from_url(REDIS_URL)
    for key in redis.scan_iter(f"*{queue}*"):
        redis.delete(key)


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
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with caplog.at_level(logging.INFO, logger="rq.worker"):
            worker.work(max_jobs=1 + len(scheduler.schedule))
    finally:
        for sig, handler in handlers.items():  # RQ installed its own
            signal.signal(sig, handler)
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


def _enqueue_in_context(app) -> Job:
    with app.app_context():
        return get_queue().enqueue("os.getpid")


def test_the_worker_process_outlives_idle_gaps_with_the_scheduler_ticking_every_second(
    queue_app, tmp_path
):
    """The same, as worker.py runs: a real process with its scheduler thread."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DATABASE_URL": queue_app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": REDIS_URL,
        "RQ_QUEUE": queue_app.config["RQ_QUEUE"],
        "SECRET_KEY": "s",
        "APP_ENV": "test",
        "SCHEDULER_TICK_SECONDS": "1",
    }
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
    finally:
        worker.terminate()
        worker.wait(timeout=20)
