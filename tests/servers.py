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
