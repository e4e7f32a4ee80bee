"""A live panel for the browser: gunicorn on a free loopback port, on a database of
its own (migrated and loaded with the demo data), driven by Debian's Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.settings import create_pg_database, drop_pg_database

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "browser-demo-pw"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM", "/usr/bin/chromium"),
        "args": CHROMIUM_FLAGS,
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the live server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url + "/login/", timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the live server did not start")


@pytest.fixture(scope="session")
def live_database(db_kind, tmp_path_factory):
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.db'}"
        return
    name, url = create_pg_database("licpanel_live")
    yield url
    drop_pg_database(name)


@pytest.fixture(scope="session")
def live_env(live_database, tmp_path_factory):
    return {
        **os.environ,
        "DATABASE_URL": live_database,
        "SECRET_KEY": "live-server-secret",
        "DEMO_PASSWORD": DEMO_PASSWORD,
        "FLASK_APP": "run.py",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "RATELIMIT_ENABLED": "0",
        "APP_ENV": "test",
    }


@pytest.fixture(scope="session")
def live_server(live_env):
    """The panel served by gunicorn, with the demo data loaded by `flask setup --demo`."""
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [str(bin_dir / "flask"), "setup", "--demo"],
        cwd=ROOT,
        env=live_env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    server = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "run:app"],
        cwd=ROOT,
        env=live_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("input[type=submit], button[type=submit]").first.click()
    page.wait_for_load_state()
