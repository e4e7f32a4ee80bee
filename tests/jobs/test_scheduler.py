"""The scheduler and the worker as real processes on the machine's Redis, with a
real SMTP server on loopback. Time moves by the application's clock, never by
sleeping through the 72 hours."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from app import clock
from app.extensions import db
from app.jobs.periodic import SCHEDULE
from app.jobs.scheduler import Scheduler
from app.models import Email
from app.queue import get_queue
from app.services.emails import queue_email
from tests import factories
from tests.settings import FAST_TICKS, REDIS_URL, new_queue, worker_environment
from tests.smtp import SmtpServer
from tests.stack import wait_for as wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack(committed_app, tmp_path):
    """A committed database, a queue of its own on Redis, an SMTP server, and a way
    to start worker.py processes (stopped afterwards; each one's log in `tmp_path`,
    named by `worker_log`)."""
    queue = new_queue()
    with SmtpServer() as smtp:
        app, url = committed_app(REDIS_URL=REDIS_URL, RQ_QUEUE=queue, **smtp.config)
        env = worker_environment(url, queue, smtp.port, **FAST_TICKS)
        processes: list[subprocess.Popen] = []

        def start(*args) -> subprocess.Popen:
            with open(tmp_path / f"worker-{len(processes)}.log", "wb") as log:
                process = subprocess.Popen(
                    [sys.executable, str(ROOT / "worker.py"), *args],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            process.log = log.name
            processes.append(process)
            return process

        yield app, smtp.mailbox, start
        for process in processes:
            _kill_group(process)
        redis = Redis.from_url(REDIS_URL)
        for key in redis.scan_iter(f"*{queue}*"):
            redis.delete(key)


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def wait_for(condition, seconds: float = 60, what: str = "") -> None:
    """Until `condition()` holds, read each time from a fresh snapshot of what the
    worker committed (and holding no transaction while it works)."""

    def on_a_fresh_snapshot():
        db.session.rollback()
        met = condition()
        db.session.rollback()
        return met

    wait_until(on_a_fresh_snapshot, seconds, what)


def shift_clock(delta: timedelta) -> None:
    """Move the application's clock for every process (retried: on SQLite a write
    that loses a race with the worker's is refused rather than queued)."""
    for _ in range(50):
        try:
            db.session.rollback()
            clock.set_offset(clock.offset() + delta)
            db.session.commit()
            return
        except OperationalError:
            time.sleep(0.1)
    raise AssertionError("could not shift the clock")


def states() -> dict[str, int]:
    return dict(db.session.execute(select(Email.state, func.count()).group_by(Email.state)).all())


def test_the_reminder_and_the_notice_arrive_once_each(stack):
    app, mailbox, start = stack
    tree = factories.build_tree(learners_per_company=0)
    expires = clock.now() + timedelta(hours=48)
    factories.licenses_expiring(tree.customer, 3, expires)
    db.session.commit()
    start()
    wait_for(lambda: mailbox.to("customer_cm@managers.example.com"), what="the reminder")
    shift_clock(timedelta(hours=49))
    wait_for(lambda: len(mailbox.to("customer_cm@managers.example.com")) >= 2, what="notice")
    time.sleep(3)  # a few more scheduler ticks and sweeps: nothing more may arrive
    subjects = [m["Subject"] for m in mailbox.to("customer_cm@managers.example.com")]
    assert len(subjects) == 2, subjects
    assert "expire on" in subjects[0] and "expired on" in subjects[1]
    assert "Customer C1" in subjects[0]


def test_a_worker_killed_mid_batch_sends_no_key_twice_and_flags_the_unknown(stack):
    app, mailbox, start = stack
    tree = factories.build_tree(learners_per_company=0)
    mailbox.delay = 0.05
    for n in range(100):
        queue_email(
            key=f"batch-{n}",
            kind="order_requested",
            company_id=tree.customer.id,
            recipient=f"m{n}@example.com",
            subject=f"Mail {n}",
            body="Hello",
        )
    db.session.commit()  # the 100 send jobs are on the queue now
    worker = start("--no-scheduler")
    wait_for(lambda: len(mailbox.messages) >= 20, what="the first 20 messages")
    _kill_group(worker)
    killed_at = len(mailbox.messages)
    assert killed_at < 100
    shift_clock(timedelta(minutes=15))  # past the stuck-sending timeout
    mailbox.delay = 0
    start()  # with the scheduler: recovery and retries run
    wait_for(
        lambda: states().get("pending", 0) + states().get("sending", 0) == 0,
        seconds=90,
        what="every row to end",
    )
    final = states()
    subjects = [m["Subject"] for m in mailbox.messages]
    assert len(subjects) == len(set(subjects)), "a key was sent twice"
    assert final.get("sent", 0) + final.get("needs_attention", 0) == 100, final
    assert final.get("sent", 0) == len(set(subjects))


def test_smtp_refusing_then_accepting_sends_once(stack):
    app, mailbox, start = stack
    tree = factories.build_tree(learners_per_company=0)
    mailbox.data_replies.extend(["451 4.7.1 try again later"])
    queue_email(
        key="retry-me",
        kind="order_requested",
        company_id=tree.customer.id,
        recipient="m@example.com",
        subject="Retry me",
        body="Hello",
    )
    db.session.commit()
    start()
    wait_for(lambda: states().get("retrying"), what="the refusal")
    shift_clock(timedelta(minutes=2))
    wait_for(lambda: states().get("sent"), what="the retry")
    assert [m["Subject"] for m in mailbox.messages] == ["Retry me"]
    assert db.session.scalar(select(Email.attempts)) == 2


def test_two_schedulers_at_once_enqueue_each_job_once(stack):
    app, _mailbox, _start = stack
    first, second = Scheduler(get_queue()), Scheduler(get_queue())
    now = time.time()
    enqueued = first.tick(now) + second.tick(now)
    assert sorted(enqueued) == sorted(job.name for job in SCHEDULE)
    assert second.tick(now + 3600) == []  # not the leader while the first holds the lock
    first.release()
    get_queue().empty()  # as if a worker had taken them
    assert sorted(second.tick(now + 3600)) == sorted(job.name for job in SCHEDULE)
    assert get_queue().count == len(SCHEDULE)


def test_a_job_still_waiting_in_the_queue_is_not_enqueued_again(stack):
    """A worker that is down or behind finds one run of each periodic job, not one
    per tick it missed; once the waiting run has started, the next one is queued."""
    from rq.job import JobStatus

    scheduler = Scheduler(get_queue())
    now = time.time()
    assert len(scheduler.tick(now)) == len(SCHEDULE)
    for hours in range(1, 25):  # a day of ticks with no worker
        assert scheduler.tick(now + hours * 3600) == []
    assert get_queue().count == len(SCHEDULE)
    sweep = next(j for j in get_queue().get_jobs() if j.description == "expiry-sweep")
    get_queue().remove(sweep)
    sweep.set_status(JobStatus.STARTED)  # a worker took it: the next one may queue behind it
    assert scheduler.tick(now + 25 * 3600) == ["expiry-sweep"]
    assert get_queue().count == len(SCHEDULE)


def test_two_scheduler_processes_send_the_reminder_once(stack):
    app, mailbox, start = stack
    tree = factories.build_tree(learners_per_company=0)
    factories.licenses_expiring(tree.customer, 2, clock.now() + timedelta(hours=60))
    db.session.commit()
    start("--scheduler-only")
    start("--scheduler-only")
    start("--no-scheduler")
    wait_for(lambda: mailbox.to("customer_cm@managers.example.com"), what="the reminder")
    time.sleep(3)
    assert len(mailbox.to("customer_cm@managers.example.com")) == 1


def test_worker_health_follows_the_worker_process_while_ready_stays_200(stack):
    app, _mailbox, start = stack
    app.config["WORKER_STALE_SECONDS"] = 3
    client = app.test_client()

    def worker_status() -> int:
        db.session.remove()
        return client.get("/health/worker").status_code

    worker = start()
    wait_for(lambda: worker_status() == 200, what="the worker's heartbeat")
    _kill_group(worker)  # a crash: its last heartbeat just grows old
    wait_for(lambda: worker_status() == 503, seconds=20, what="the stale heartbeat")
    body = client.get("/health/worker").get_json()
    assert body["worker"]["state"] == "not running"
    assert body["worker"]["heartbeat_age_seconds"] >= 3
    assert client.get("/health/ready").status_code == 200
    worker = start()  # leads once the crashed scheduler's lock has expired
    wait_for(lambda: worker_status() == 200, seconds=30, what="the worker back")
    worker.send_signal(signal.SIGTERM)  # a clean stop says so at once
    try:
        worker.wait(timeout=60)  # a warm shutdown lets a running job finish first
    except subprocess.TimeoutExpired:  # (seen once in a loaded `make test`)
        log = Path(worker.log).read_text(errors="replace")[-4000:]
        pytest.fail(f"worker.py still running 60 s after SIGTERM; its log ends:\n{log}")
    assert worker_status() == 503
    stopped = client.get("/health/worker").get_json()["worker"]
    assert stopped["state"] == "not running" and stopped["heartbeat_age_seconds"] < 3
    assert client.get("/health/ready").status_code == 200


def test_planner_statistics_are_refreshed_on_sqlite_and_left_to_autovacuum_on_postgresql(
    app, session, db_kind
):
    from sqlalchemy import text

    from app.jobs.periodic import refresh_statistics

    factories.learners(factories.company(factories.company(None, "partner"), "customer"), 3)
    session.commit()
    assert refresh_statistics() is (db_kind == "sqlite")
    if db_kind == "sqlite":
        tables = set(session.scalars(text("SELECT tbl FROM sqlite_stat1")))
        assert {"learners", "companies"} <= tables


def test_a_six_step_schedule_sends_each_step_once_through_two_schedulers(stack):
    """Sixty days out to a week after, through two scheduler processes and a worker,
    with the SMTP server refusing once: each step arrives once, at its time."""
    from app.services import schedules
    from app.tenancy import system_actor

    app, mailbox, start = stack
    tree = factories.build_tree(learners_per_company=0)
    six = ["before-60d", "before-30d", "before-7d", "before-72h", "after-0", "after-7d"]
    schedules.set_schedule(
        system_actor("cli"), tree.partner.id, [(k, "company_managers") for k in six]
    )
    expires = (clock.now() + timedelta(days=61)).replace(microsecond=0)
    factories.licenses_expiring(tree.customer, 2, expires)
    db.session.commit()
    mailbox.data_replies.extend(["451 4.7.1 try again later"])
    start("--scheduler-only")
    start("--scheduler-only")
    start("--no-scheduler")
    received = lambda: len(mailbox.to("customer_cm@managers.example.com"))  # noqa: E731
    offsets = [
        timedelta(days=-60),
        timedelta(days=-30),
        timedelta(days=-7),
        timedelta(hours=-72),
        timedelta(0),
        timedelta(days=7),
    ]
    for n, offset in enumerate(offsets, start=1):
        target = expires + offset + timedelta(minutes=1)
        shift_clock(target - clock.now())
        if n == 1:  # the refusal, then the retry two minutes on
            wait_for(lambda: states().get("retrying"), what="the refusal")
            shift_clock(timedelta(minutes=2))
        wait_for(lambda n=n: received() >= n, what=f"step {n}")
    time.sleep(3)  # more ticks: nothing more may arrive
    assert received() == 6
    kinds = db.session.scalars(
        select(Email.kind).where(Email.state == "sent", Email.kind != "digest")
    ).all()
    assert sorted(kinds) == sorted(
        ["before-60d", "before-30d", "before-7d", "expiry_reminder", "expiry_notice", "after-7d"]
    )
