"""One wrk run against a URL, and the CPU the server, wrk and the machine used
meanwhile (2 cores: wrk and gunicorn compete for them, and so does everything else
running on the machine)."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
BYTE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


@dataclass
class Load:
    """One wrk run; CPU in cores (CPU seconds per second of the run)."""

    rps: float
    p50: float
    p99: float
    requests: int
    bytes_read: float
    errors: int  # non-2xx/3xx answers and socket errors
    server_cores: float = 0.0
    wrk_cores: float = 0.0
    busy_cores: float = 0.0


def run(url: str, cookie: str, seconds: int, threads: int, connections: int, server: int):
    """wrk with `--latency` and a 60 s timeout (a slow page is measured, not dropped);
    `server` is the gunicorn master's pid."""
    command = [
        *("wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s"),
        *("--latency", "-H", f"Cookie: {cookie}", url),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    ticks, busy, start = server_ticks(server), machine_busy_ticks(), time.monotonic()
    output = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 120
    ).stdout
    elapsed = time.monotonic() - start
    ticks, busy = server_ticks(server) - ticks, machine_busy_ticks() - busy
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = parse(output)
    load.server_cores = ticks / CLK_TCK / elapsed
    load.wrk_cores = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / elapsed
    load.busy_cores = busy / CLK_TCK / elapsed
    return load


def parse(output: str) -> Load:
    def find(pattern: str):
        match = re.search(pattern, output, re.M)
        if not match:
            raise RuntimeError(f"unexpected wrk output ({pattern}):\n{output}")
        return match

    done = find(r"(\d+) requests in \S+, ([\d.]+)([KMGT]?B) read")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return Load(
        rps=float(find(r"Requests/sec:\s+([\d.]+)").group(1)),
        p50=_seconds(find(r"^\s+50%\s+(\S+)\s*$").group(1)),
        p99=_seconds(find(r"^\s+99%\s+(\S+)\s*$").group(1)),
        requests=int(done.group(1)),
        bytes_read=float(done.group(2)) * BYTE_UNITS[done.group(3)],
        errors=(int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(int(n) for n in sockets.groups()) if sockets else 0),
    )


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()
    return float(number) * TIME_UNITS[unit]


def _process(pid: int) -> tuple[int, int]:
    """(parent pid, user + system clock ticks) of a process; (0, 0) once gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0, 0
    return int(fields[1]), int(fields[11]) + int(fields[12])


def server_ticks(master: int) -> int:
    """CPU ticks of the gunicorn master and its workers so far."""
    total = _process(master)[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent, ticks = _process(int(entry.name))
            total += ticks if parent == master else 0
    return total


def machine_busy_ticks() -> int:
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]  # all but idle and iowait
