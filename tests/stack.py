"""Real stacks for tests: `make run`'s environment (no REDIS_URL: the embedded
queue; a database, a port and a queue folder of its own; mail to a loopback
server), starting processes, and watching them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import psutil

from app.processes import die_with_parent

ROOT = Path(__file__).resolve().parents[1]
STACK_PASSWORD = "supervised-stack-pw"


def stack_environment(url: str, port: int, smtp_port: int, folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "BASE_URL")}
    env.update(
        DATABASE_URL=url,
        PORT=str(port),
        SECRET_KEY="stack-secret",
        DEMO_PASSWORD=STACK_PASSWORD,
        PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
        APP_ENV="test",
        EMBEDDED_QUEUE_DIR=str(folder / "queue"),
        UPLOAD_FOLDER=str(folder / "uploads"),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp_port),
        HEARTBEAT_SECONDS="0.5",
        WEB_CONCURRENCY="2",
        WEBHOOKS_ALLOW_PRIVATE="1",  # the tests' webhook receivers listen on loopback
    )
    return env


def gunicorn_command(port: int, workers: int = 2, app: str = "run:app") -> list[str]:
    """gunicorn as `make run` and production start it (gunicorn.conf.py), on a
    loopback port with `workers` processes."""
    import sys

    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    conf = str(ROOT / "gunicorn.conf.py")
    return [gunicorn, "-c", conf, "-w", str(workers), "-b", f"127.0.0.1:{port}", app]


def start(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    """A process group of its own (a Ctrl+C to the tests does not reach it), ended
    with the tests should they be killed."""
    with log.open("w") as out:
        return subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )


@contextmanager
def keeping_signal_handlers():
    """Run an RQ worker in this process: it installs SIGINT/SIGTERM handlers of its
    own, put back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def wait_for(condition, seconds: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}" + (f":\n{log.read_text()}" if log else ""))


def worker_healthy(url: str) -> bool:
    try:
        return urllib.request.urlopen(url + "/health/worker", timeout=5).status == 200
    except (urllib.error.URLError, OSError):
        return False


def supervisor_of(make: subprocess.Popen) -> psutil.Process:
    """run.py's process under `make run`."""
    (found,) = processes_named(psutil.Process(make.pid), "run.py")
    return found


def children_named(parent: psutil.Process, fragment: str) -> list[psutil.Process]:
    return [p for p in parent.children() if fragment in command_line(p)]


def processes_named(root: psutil.Process, fragment: str) -> list[psutil.Process]:
    return [p for p in root.children(recursive=True) if fragment in command_line(p)]


def command_line(process: psutil.Process) -> str:
    """A live process's command line; "" for one that ended (a killed child its parent
    has not reaped yet is a zombie, with no command line left to read)."""
    try:
        return " ".join(process.cmdline())
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return ""


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
