"""`make run`'s stack as a user runs it: run.py's supervisor with the embedded queue
server, worker.py and gunicorn, on a database of its own, sending to a loopback
SMTP server. A killed worker comes back; Ctrl+C leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.servers import PanelSession, free_port, wait_until_up
from tests.settings import create_pg_database, drop_pg_database
from tests.smtp import SmtpServer

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "supervised-pw"


@pytest.fixture
def stack_env(db_kind, tmp_path):
    """The environment of a fresh `make run`: no REDIS_URL (the embedded queue), a
    database, a port and a queue folder of its own, mail to a loopback server."""
    pg_name = None
    if db_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'panel.db'}"
    else:
        pg_name, url = create_pg_database("licpanel_stack")
    port = free_port()
    with SmtpServer() as smtp:
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "BASE_URL")}
        env.update(
            DATABASE_URL=url,
            PORT=str(port),
            SECRET_KEY="stack-secret",
            DEMO_PASSWORD=PASSWORD,
            PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
            RATELIMIT_ENABLED="0",
            APP_ENV="test",
            EMBEDDED_QUEUE_DIR=str(tmp_path / "queue"),
            UPLOAD_FOLDER=str(tmp_path / "uploads"),
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=str(smtp.port),
            HEARTBEAT_SECONDS="0.5",
            WEB_CONCURRENCY="2",
        )
        yield env, f"http://127.0.0.1:{port}", smtp.mailbox
    if pg_name:
        drop_pg_database(pg_name)


def start(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_for(condition, seconds: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}" + (f":\n{log.read_text()}" if log else ""))


def worker_healthy(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        return urllib.request.urlopen(url + "/health/worker", timeout=5).status == 200
    except (urllib.error.URLError, OSError):
        return False


def processes_named(root: psutil.Process, fragment: str) -> list[psutil.Process]:
    return [p for p in root.children(recursive=True) if fragment in " ".join(p.cmdline())]


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


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


def test_a_killed_worker_is_back_within_30_seconds_and_sends_an_order_email_once(supervised):
    supervisor, url, mailbox, log = supervised
    root = psutil.Process(supervisor.pid)
    (worker,) = [p for p in processes_named(root, "worker.py") if p.ppid() == supervisor.pid]
    worker.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    # Meanwhile, a customer orders (its email is due to the partner's account manager).
    customer = PanelSession(url).sign_in("customer", PASSWORD)
    customer.submit("/orders/request", {"quantity": "37"})
    subject = "License Request Notification: 37 licenses for Acme Dental"
    wait_for(
        lambda: [p for p in processes_named(root, "worker.py") if p.pid != worker.pid],
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
    time.sleep(3)  # more scheduler ticks and dispatch rounds: nothing twice
    assert mailbox.subjects().count(subject) == 1
    assert "worker exited with status -9" in log.read_text()
    assert worker_healthy(url)


def test_ctrl_c_to_make_run_leaves_no_process_behind(stack_env, tmp_path):
    env, url, _mailbox = stack_env
    log = tmp_path / "make-run.log"
    make = start(["make", "--no-print-directory", "run"], env, log)
    try:
        wait_until_up(url, make, seconds=120, log=log)
        wait_for(lambda: worker_healthy(url), 60, "the worker's first heartbeat", log)
        started = psutil.Process(make.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in started)
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
