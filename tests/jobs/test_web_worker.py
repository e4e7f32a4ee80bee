"""The panel's gunicorn worker (app/serial.py) through real gunicorn processes with
the panel's gunicorn.conf.py, serving a probe app (tests/web_probe.py) that notes
when each request enters and leaves it."""

from __future__ import annotations

import os
import signal
import socket
import threading
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers import free_port, wait_until_up
from tests.stack import gunicorn_command, start, wait_for

# The tests' environment, less the web settings each test chooses for itself.
INHERITED = {
    k: v
    for k, v in os.environ.items()
    if k not in ("WEB_THREADS", "WEB_CONCURRENCY", "WEB_TIMEOUT")
}


@contextmanager
def served(tmp_path: Path, workers: int, **settings: str):
    port = free_port()
    notes = tmp_path / "probe.log"
    notes.touch()
    log = tmp_path / "gunicorn.log"
    server = start(
        gunicorn_command(port, workers, "tests.web_probe:app"),
        {**INHERITED, "PROBE_LOG": str(notes), **settings},
        log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, server, log=log)
        yield url, notes
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def get(url: str, **args) -> str:
    query = "&".join(f"{k}={v}" for k, v in args.items())
    with urllib.request.urlopen(f"{url}/?{query}", timeout=30) as answer:
        return answer.read().decode()


def notes_of(notes: Path) -> list[tuple[str, str, str]]:
    return [tuple(line.split(" ", 2)) for line in notes.read_text().splitlines()]


def test_a_process_runs_one_request_at_a_time_however_many_arrive(tmp_path):
    with served(tmp_path, workers=1) as (url, notes):
        threads = [
            threading.Thread(target=get, args=(url,), kwargs={"seconds": 0.2, "name": n})
            for n in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        events = [event for _pid, event, _name in notes_of(notes)]
        assert events == ["in", "out"] * 6


def entered(notes: Path, name: str) -> str | None:
    """The pid of the process request `name` entered the app in, once it has."""
    return next((pid for pid, event, n in notes_of(notes) if event == "in" and n == name), None)


def test_a_process_with_a_request_in_hand_leaves_the_next_to_a_free_one(tmp_path):
    with served(tmp_path, workers=2) as (url, notes):
        for turn in range(5):
            name = f"slow{turn}"
            slow = threading.Thread(target=get, args=(url,), kwargs={"seconds": 1, "name": name})
            slow.start()
            busy = wait_for(lambda: entered(notes, name), 10, f"{name} in the app")  # noqa: B023
            assert get(url, name=f"quick{turn}") != busy
            slow.join()


def test_connections_that_send_nothing_hold_no_process(tmp_path):
    with served(tmp_path, workers=2) as (url, notes):
        host, port = url.removeprefix("http://").split(":")
        idle = [socket.create_connection((host, int(port))) for _ in range(6)]
        try:
            for n in range(4):
                assert get(url, name=n).isdigit()  # (30 s timeouts; sync: 120 s)
        finally:
            for connection in idle:
                connection.close()


def test_a_request_running_past_the_timeout_ends_with_its_process_and_the_next_is_served(
    tmp_path,
):
    with served(tmp_path, workers=1, WEB_TIMEOUT="2") as (url, notes):
        with pytest.raises(OSError):  # the connection closed with no answer
            get(url, seconds=10, name="stuck")
        stuck = entered(notes, "stuck")
        answered_by = get(url, name="after")
        assert answered_by != stuck
        assert ("stuck", "out") not in [(n, e) for _, e, n in notes_of(notes)]
