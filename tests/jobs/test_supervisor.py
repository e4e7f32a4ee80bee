"""`make run`'s stack as a user runs it: run.py's supervisor with the embedded queue
server, worker.py and gunicorn, on a database of its own, sending to a loopback
SMTP server. A killed worker comes back; Ctrl+C leaves nothing behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.servers import PanelSession, wait_until_up
from tests.stack import (
    ROOT,
    STACK_PASSWORD,
    children_named,
    command_line,
    gone,
    start,
    wait_for,
    worker_healthy,
)


@pytest.fixture
def supervised(stack_env, tmp_path):
    """`python run.py` (what `make run` runs after its setup), demo data loaded."""
    env, url, mailbox = stack_env
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [str(bin_dir / "flask"), "setup", "--demo"],
        cwd=ROOT,
        env={**env, "FLASK_APP": "run.py"},
        check=True,
        capture_output=True,
    )
    log = tmp_path / "run.log"
    supervisor = start([sys.executable, str(ROOT / "run.py")], env, log)
    try:
        wait_until_up(url, supervisor, log=log)
        wait_for(lambda: worker_healthy(url), 60, "the worker's first heartbeat", log)
        yield supervisor, url, mailbox, log
    finally:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=30)


def outbox_rows(database_url: str, subject: str) -> list[tuple[str, int]]:
    from sqlalchemy import create_engine, text

    from app.config import database_url as driver_url

    engine = create_engine(driver_url({"DATABASE_URL": database_url}, ROOT))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT state, attempts FROM emails WHERE subject = :subject"),
                {"subject": subject},
            )
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


def test_a_killed_worker_is_back_within_30_seconds_and_sends_an_order_email_once(
    supervised, stack_env
):
    supervisor, url, mailbox, log = supervised
    root = psutil.Process(supervisor.pid)
    (worker,) = children_named(root, "worker.py")
    worker.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    # Meanwhile, a customer orders (its email is due to the partner's account manager).
    customer = PanelSession(url).sign_in("customer", STACK_PASSWORD)
    customer.submit("/orders/request", {"quantity": "37"})
    subject = "License Request Notification: 37 licenses for Acme Dental"
    wait_for(
        lambda: [p for p in children_named(root, "worker.py") if p.pid != worker.pid],
        30,
        "a new worker",
        log,
    )
    wait_for(
        lambda: mailbox.to("partner@demo.example") and subject in mailbox.subjects(),
        30,
        "the order's email",
        log,
    )
    assert time.monotonic() - killed_at < 30
    (message,) = [m for m in mailbox.messages if m["Subject"] == subject]
    assert f"{url}/orders/" in message.get_payload()  # the links follow PORT
    # Two jobs carry that email (the commit's, and the new worker's catch-up): the
    # row was claimed once, sent once.
    assert outbox_rows(stack_env[0]["DATABASE_URL"], subject) == [("sent", 1)]
    time.sleep(3)  # more scheduler ticks and dispatch rounds: nothing twice
    assert mailbox.subjects().count(subject) == 1
    assert "worker exited with status -9" in log.read_text()
    assert worker_healthy(url)


def test_pages_answer_while_a_browsers_preconnected_sockets_send_nothing(supervised):
    """Chromium opens sockets ahead of need and may send nothing on them: more of
    them than web processes (WEB_CONCURRENCY=2 here) must not hold a page back (a
    sync worker waits on one until its timeout kills it, 120 s)."""
    _supervisor, url, _mailbox, _log = supervised
    host, port = url.removeprefix("http://").split(":")
    idle = [socket.create_connection((host, int(port))) for _ in range(3)]
    try:
        customer = PanelSession(url).sign_in("customer", STACK_PASSWORD)  # 30 s timeouts
        assert "Requested Orders" in customer.get("/orders/section/requested")
    finally:
        for connection in idle:
            connection.close()


def test_ctrl_c_to_make_run_leaves_no_process_behind(stack_env, tmp_path):
    env, url, _mailbox = stack_env
    log = tmp_path / "make-run.log"
    make = start(["make", "--no-print-directory", "run"], env, log)
    try:
        wait_until_up(url, make, seconds=120, log=log)
        wait_for(lambda: worker_healthy(url), 60, "the worker's first heartbeat", log)
        started = psutil.Process(make.pid).children(recursive=True)
        names = " ".join(command_line(p) for p in started)
        assert "run.py" in names and "worker.py" in names and "gunicorn" in names
        assert "valkey-server" in names
        os.killpg(make.pid, signal.SIGINT)  # Ctrl+C in the terminal
        stopped = time.monotonic()
        wait_for(lambda: all(gone(p) for p in started), 10, "every process to end", log)
        assert time.monotonic() - stopped < 10
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
        make.wait(timeout=10)


def test_sigterm_stops_the_web_the_worker_and_the_queue_server(supervised):
    supervisor, _url, _mailbox, log = supervised
    started = psutil.Process(supervisor.pid).children(recursive=True)
    assert len(started) >= 4  # the queue server, the worker, gunicorn and its workers
    supervisor.send_signal(signal.SIGTERM)  # systemd's stop, or `kill`
    wait_for(lambda: all(gone(p) for p in started), 10, "every process to end", log)
    assert supervisor.wait(timeout=10) == 0
    assert "web stopped" in log.read_text() and "queue stopped" in log.read_text()


def test_the_login_limiter_counts_in_the_embedded_queue_server(supervised, stack_env):
    _supervisor, url, _mailbox, _log = supervised
    env, _url, _mailbox = stack_env
    from redis import Redis

    with pytest.raises(AssertionError):  # a wrong password does not sign in
        PanelSession(url).sign_in("customer", "wrong-password")
    config = dict(
        line.split(" ", 1)
        for line in (Path(env["EMBEDDED_QUEUE_DIR"]) / "queue.conf").read_text().splitlines()
    )
    queue = Redis(host="127.0.0.1", port=int(config["port"]), password=config["requirepass"])
    assert [k for k in queue.scan_iter("LIMITS*")], "the failed login is counted in the queue"
