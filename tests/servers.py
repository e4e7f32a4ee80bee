"""Starting real servers for tests and benchmarks: a free loopback port, and waiting
until a freshly started panel answers its login page."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(
    url: str, process: subprocess.Popen, seconds: float = 30, log: Path | None = None
) -> None:
    """Return once `url`/login/ answers; fail at once if `process` exits (with its
    log, when it writes one) or after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = f":\n{log.read_text()}" if log else ""
            raise RuntimeError(f"the server exited with {process.returncode}{output}")
        try:
            urllib.request.urlopen(url + "/login/", timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server at {url} did not start")


class PanelSession:
    """A signed-in user of a live panel over plain HTTP (cookies kept), for tests
    that drive real processes without a browser."""

    def __init__(self, base_url: str):
        import http.cookiejar

        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base_url + path, timeout=30) as response:
            return response.read().decode()

    def submit(self, path: str, fields: dict[str, str]) -> str:
        """Fetch the form at `path`, then post `fields` with its CSRF token."""
        import re
        import urllib.parse

        page = self.get(path)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'name="csrf-token" content="([^"]+)"', page
        )
        data = urllib.parse.urlencode({**fields, "csrf_token": token.group(1)}).encode()
        with self.opener.open(self.base_url + path, data=data, timeout=30) as response:
            return response.read().decode()

    def sign_in(self, username: str, password: str) -> PanelSession:
        page = self.submit("/login/", {"username": username, "password": password})
        assert "Logout" in page or "logout" in page, "sign-in failed"
        return self
