"""The panel served by gunicorn for `bench/load.py`, and a client that signs in
through the login form and checks what a page answers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from contextlib import contextmanager
from http.client import HTTPConnection
from http.cookiejar import CookieJar
from pathlib import Path

from bench.harness import ROOT
from tests.servers import free_port, wait_until_up

MANAGER_MODE = "Manager Mode: you are managing"


@contextmanager
def served(database_url: str, tmp: Path, workers: int):
    """gunicorn (`gunicorn.conf.py`, as `make run` serves) serving `bench.load_app:app`
    on a free loopback port; yields (base URL, master pid). Its process group, master
    and workers, ends on the way out, error or not."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="bench-load-secret",
        # As production runs; its cookies are Secure behind TLS, which loopback lacks.
        APP_ENV="production",
        SESSION_COOKIE_SECURE="0",
        RATELIMIT_ENABLED="0",
        PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
    )
    log = tmp / "gunicorn.log"
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        *("-c", str(ROOT / "gunicorn.conf.py"), "-w", str(workers), "-b", f"127.0.0.1:{port}"),
        *("--error-logfile", str(log), "bench.load_app:app"),
    ]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, server, seconds=60, log=log)
        yield url, server.pid
    finally:
        _stop(server)


def _stop(server: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(server.pid, sig)  # the group start_new_session made: ours only
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html
    )
    if not match:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def sign_in(url: str, username: str, password: str, manage: int | None = None) -> str:
    """Log in through the form, and enter Manager Mode of company `manage` through
    the Company list's row action; returns the Cookie header carrying that session."""
    jar = CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def post(path: str, form_page: str, **fields) -> str:
        with browser.open(url + form_page) as response:
            token = csrf_token(response.read().decode())
        data = urllib.parse.urlencode({**fields, "csrf_token": token}).encode()
        with browser.open(url + path, data) as response:
            if response.url.endswith("/login/"):
                raise RuntimeError(f"{path} led back to the login page")
            return response.read().decode()

    post("/login/", "/login/", username=username, password=password)
    if manage is not None and MANAGER_MODE not in post(
        f"/companies/action/manage/{manage}", "/companies/list/"
    ):
        raise RuntimeError("Manage Company did not start Manager Mode")
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


def fetch(url: str, path: str, cookie: str) -> tuple[int, str, int]:
    """GET without following redirects: (status, body, bytes on the wire, about)."""
    parts = urllib.parse.urlsplit(url)
    connection = HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        connection.request("GET", path, headers={"Cookie": cookie})
        response = connection.getresponse()
        raw = response.read()
        head = sum(len(k) + len(v) + 4 for k, v in response.getheaders()) + 19
        return response.status, raw.decode(), head + len(raw)
    finally:
        connection.close()
