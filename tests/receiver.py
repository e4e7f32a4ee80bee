"""A webhook receiver on loopback, as a PSA tool would run one: it checks each
signature with its own HMAC code (no project imports: this is the receiver's side),
dedupes by event id and records what it processed. Its answers can be scripted
(a status per call, a delay) to make deliveries fail, time out or be redirected."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret: str, header: str, body: bytes, tolerance: float = 300) -> bool:
    """The README's check: `t=<unix time>,v1=<hex HMAC-SHA256(secret, "t.body")>`,
    compared in constant time, refused when older than `tolerance` seconds."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    fresh = abs(time.time() - timestamp) <= tolerance
    return fresh and hmac.compare_digest(expected.hexdigest(), parts.get("v1", ""))


@dataclass
class Call:
    path: str
    headers: dict
    body: bytes
    valid: bool


@dataclass
class Receiver:
    secret: str = ""
    statuses: list = field(default_factory=list)  # answered in turn, then 200
    delay: float = 0.0  # seconds before answering
    location: str = ""  # sent with a 3xx
    calls: list[Call] = field(default_factory=list)
    processed: dict = field(default_factory=dict)  # event id -> event, each once
    duplicates: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def events(self, type_: str | None = None) -> list[dict]:
        with self.lock:
            return [e for e in self.processed.values() if type_ in (None, e["type"])]

    def handle(self, path: str, headers: dict, body: bytes) -> tuple[int, dict]:
        valid = verify(self.secret, headers.get("X-Signature", ""), body)
        with self.lock:
            self.calls.append(Call(path, headers, body, valid))
            status = self.statuses.pop(0) if self.statuses else 200
        if self.delay:
            time.sleep(self.delay)
        if status == 200 and valid:
            event = json.loads(body)
            with self.lock:
                if event["id"] in self.processed:
                    self.duplicates += 1
                else:
                    self.processed[event["id"]] = event
        elif status == 200:
            status = 401  # a bad signature is refused, as a receiver must
        extra = {"Location": self.location} if 300 <= status < 400 else {}
        return status, extra


class _Server(ThreadingHTTPServer):
    daemon_threads = True


@contextlib.contextmanager
def serve(receiver: Receiver):
    """`receiver` listening on a free loopback port (its `url`) inside the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, extra = receiver.handle(self.path, dict(self.headers), body)
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            with contextlib.suppress(OSError):  # the sender gave up (a timeout)
                self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
