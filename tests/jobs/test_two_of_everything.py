"""Two of everything, as a site with more than one machine runs: two gunicorn
instances on their own ports and two worker.py processes (each with its
scheduler thread) on one PostgreSQL and one Redis. Requests and allocations go
through both web instances at once; the clock moves; one worker is SIGKILLed.

What must hold: one scheduler leads at a time (the other takes over when it dies),
every email is sent once or flagged for attention (never twice, none left behind),
and concurrent allocations never take more seats than the pool holds.
PostgreSQL only (deselected on the SQLite run: SQLite is the single-machine
install)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import Email, Heartbeat, License, Order
from app.services import api_keys
from app.services.emails import queue_email
from app.tenancy import system_actor
from tests import factories
from tests.jobs.test_scheduler import shift_clock, states, wait_for
from tests.servers import free_port, wait_until_up
from tests.settings import FAST_TICKS, REDIS_URL, drop_queue, new_queue, worker_environment
from tests.smtp import SmtpServer
from tests.stack import ROOT, gunicorn_command, start

pytestmark = pytest.mark.postgresql_only
PEOPLE, SEATS, BATCH = 60, 40, 10  # six batches of ten people for forty seats
QUEUED = 60  # emails queued directly, beside those the requests cause


@pytest.fixture
def cluster(committed_app, tmp_path):
    queue = new_queue("cluster")
    with SmtpServer() as smtp:
        _app, url = committed_app(REDIS_URL=REDIS_URL, RQ_QUEUE=queue, **smtp.config)
        env = worker_environment(
            url, queue, smtp.port, **FAST_TICKS, API_RATE_LIMIT="1000 per second", LOGIN_THROTTLE=0
        )
        processes: dict[str, subprocess.Popen] = {}
        webs = []
        try:
            for n in (1, 2):
                port = free_port()
                base = f"http://127.0.0.1:{port}"
                log = tmp_path / f"web{n}.log"
                processes[f"web{n}"] = start(gunicorn_command(port), {**env, "BASE_URL": base}, log)
                webs.append((base, processes[f"web{n}"], log))
            for n in (1, 2):
                processes[f"worker{n}"] = start(
                    [sys.executable, str(ROOT / "worker.py")], env, tmp_path / f"worker{n}.log"
                )
            for base, process, log in webs:
                wait_until_up(base, process, seconds=60, log=log)
            yield [base for base, _, _ in webs], smtp.mailbox, processes
        finally:
            for process in processes.values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes.values():
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
            drop_queue(queue)


def call(base: str, key: str, method: str, path: str, body=None, headers=None):
    """An API call: (status, JSON answer)."""
    request = urllib.request.Request(
        f"{base}/api/v1{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def together(calls) -> list:
    """Run the calls in threads released at once; their results, in order."""
    results = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i, fn):
        barrier.wait()
        results[i] = fn()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def schedulers() -> dict[int, str]:
    """Each scheduler's state ("leading", "standby", "stopped"), by process id."""
    db.session.rollback()
    return dict(
        db.session.execute(
            select(Heartbeat.pid, Heartbeat.state).where(Heartbeat.role == "scheduler")
        ).all()
    )


@pytest.mark.timeout(600)
def test_two_web_servers_and_two_workers_share_one_database_and_queue(cluster):
    bases, mailbox, processes = cluster
    tree = factories.build_tree(learners_per_company=0)
    company = tree.customer
    company.auto_license = False
    people = [p.id for p in factories.learners(company, PEOPLE)]
    pool = factories.assigned_order(company, SEATS)
    factories.licenses_expiring(tree.sub_customer, 3, clock.now() + timedelta(hours=48))
    _, key = api_keys.create(system_actor("cli"), tree.users["partner"], "cluster")
    db.session.commit()
    company_id, pool_id = company.id, pool.id  # (the threads read no ORM state)

    # One scheduler leads, the other stands by.
    wait_for(lambda: sorted(schedulers().values()) == ["leading", "standby"], what="a leader")

    # Allocations and requests through both web servers at once.
    def allocate(i: int):
        base = bases[i % 2]
        batch = people[i * BATCH : (i + 1) * BATCH]
        path = f"/companies/{company_id}/allocations"
        status, plan = call(base, key, "POST", path, {"learner_ids": batch})
        if status != 201:
            return status
        for _ in range(5):  # a 409 for a busy moment is retried, as a client would
            status, answer = call(
                base,
                key,
                "POST",
                f"{path}/{plan['selection_id']}/confirm",
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            if status != 409 or "seat" in answer["detail"].lower():
                return status
        return status

    def request(i: int):
        path = f"/companies/{company_id}/orders"
        return call(bases[i % 2], key, "POST", path, {"quantity": 1000 + i})[0]

    outcomes = together(
        [lambda i=i: allocate(i) for i in range(PEOPLE // BATCH)]
        + [lambda i=i: request(i) for i in range(8)]
    )
    allocations, requests = outcomes[: PEOPLE // BATCH], outcomes[PEOPLE // BATCH :]
    assert requests == [201] * 8, requests
    assert set(allocations) <= {200, 409}, allocations
    confirmed = allocations.count(200)
    db.session.rollback()
    order = db.session.get(Order, pool_id)
    held = db.session.scalar(
        select(func.count())
        .select_from(License)
        .where(License.order_id == pool_id, License.ended_at.is_(None))
    )
    assert order.allocated == held == confirmed * BATCH <= SEATS  # never overdrawn
    assert confirmed == SEATS // BATCH  # and every seat that could be taken was

    wait_for(
        lambda: mailbox.to("sub_customer_cm@managers.example.com"), what="the 72-hour reminder"
    )

    # A backlog of emails, and one worker SIGKILLed while both send.
    mailbox.delay = 0.05
    for n in range(QUEUED):
        queue_email(
            key=f"cluster-{n}",
            kind="order_requested",
            company_id=company_id,
            recipient=f"m{n}@example.com",
            subject=f"Backlog {n}",
            body="Hello",
        )
    db.session.commit()
    wait_for(lambda: len(mailbox.messages) >= 20, what="the first messages")
    leader = next(pid for pid, state in schedulers().items() if state == "leading")
    victim = "worker1" if processes["worker1"].pid == leader else "worker2"
    assert processes[victim].pid == leader
    os.killpg(processes[victim].pid, signal.SIGKILL)  # the leading scheduler's worker
    processes[victim].wait(timeout=10)

    # The clock moves past the reminder's and the expiry's days, and past the
    # stuck-sending timeout: the survivor takes the lead and finishes everything.
    shift_clock(timedelta(hours=49))
    mailbox.delay = 0
    wait_for(
        lambda: any(state == "leading" and pid != leader for pid, state in schedulers().items()),
        what="the other scheduler taking the lead",
    )
    try:
        wait_for(
            lambda: (
                states().get("pending", 0) + states().get("sending", 0) == 0
                and len(mailbox.to("sub_customer_cm@managers.example.com")) >= 2
            ),
            seconds=180,
            what="every email to end, the reminder and the expiry notice among them",
        )
    except AssertionError as exc:
        to_them = [m["Subject"] for m in mailbox.to("sub_customer_cm@managers.example.com")]
        raise AssertionError(f"{exc}; states {states()}; to C2's manager: {to_them}") from exc
    final = states()
    sent = [(m["To"], m["Subject"]) for m in mailbox.messages]
    # Each email row sent is in the mailbox once, under the Message-ID it recorded;
    # a message no row recorded can only be the killed worker's, in flight (its
    # row then needs attention). A key sent twice would leave a second unrecorded one.
    recorded = set(db.session.scalars(select(Email.message_id).where(Email.state == "sent")))
    received = Counter(m["Message-ID"] for m in mailbox.messages)
    assert all(received[message_id] == 1 for message_id in recorded), "a row's message twice"
    unrecorded = [m for m in received if m not in recorded]
    assert len(unrecorded) <= min(1, final.get("needs_attention", 0)), (unrecorded, final)
    rows = db.session.scalar(select(func.count()).select_from(Email))
    ended = ("sent", "needs_attention", "skipped", "cancelled")
    assert sum(final.get(state, 0) for state in ended) == rows, final
    backlog = [s for _, s in sent if s.startswith("Backlog ")]
    assert len(backlog) >= QUEUED - 1  # at most the killed worker's message in flight
    reminders = [s for to, s in sent if to == "sub_customer_cm@managers.example.com"]
    assert len(reminders) == 2, reminders  # the 72-hour reminder and the notice, once each
