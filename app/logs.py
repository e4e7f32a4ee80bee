"""Logs: one line per event on stderr, as text or, with LOG_FORMAT=json, as one
JSON object per line (for a log shipper). Every process logs the same way — the
web (one line per request, with its request id), the worker (RQ's own lines
included), the scheduler and run.py's supervisor — tagged with its role.

Each request gets an id: the caller's `X-Request-ID` when it is a sane token (a
load balancer's), else a new one. It is echoed in the response's `X-Request-ID`
header and on error pages, so a user's report leads to the log line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, request
from flask import session as web_session

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
request_log = logging.getLogger("app.request")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, role, pid, message, and the
    record's `fields` (passed as `extra={"fields": {...}}`)."""

    def __init__(self, role: str):
        super().__init__()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            **getattr(record, "fields", {}),  # never in place of the keys below
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "role": self.role,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self, role: str):
        super().__init__(f"%(asctime)s {role}[%(process)d] %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        return f"{line} {' '.join(f'{k}={v}' for k, v in fields.items())}" if fields else line


def log_format(environ=None) -> str:
    """LOG_FORMAT: "json", or "text" (the default)."""
    environ = os.environ if environ is None else environ
    return "json" if environ.get("LOG_FORMAT", "").strip().lower() == "json" else "text"


def configure_logging(role: str, environ=None) -> None:
    """Send every logger's INFO and above to stderr in LOG_FORMAT, tagged with this
    process's role. RQ then adds no handler of its own (it only does when none is
    in effect)."""
    handler = logging.StreamHandler(sys.stderr)
    json_lines = log_format(environ) == "json"
    handler.setFormatter(JsonFormatter(role) if json_lines else TextFormatter(role))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)


def register_request_logging(app: Flask) -> None:
    app.before_request(_start_request)
    app.after_request(_finish_request)


def request_id() -> str:
    """This request's id (a new one outside a request that began through Flask)."""
    if "request_id" not in g:
        incoming = request.headers.get(REQUEST_ID_HEADER, "") if request else ""
        g.request_id = incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex
    return g.request_id


def _start_request() -> None:
    g.request_started = time.perf_counter()
    request_id()


def _finish_request(response):
    response.headers[REQUEST_ID_HEADER] = request_id()
    started = g.get("request_started", time.perf_counter())
    user = g.get("user")
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    path = _loggable_path()
    request_log.info(
        "%s %s %s",
        request.method,
        path,
        response.status_code,
        extra={
            "fields": {
                "request_id": request_id(),
                "user_id": user.id if signed_in else None,
                "company_in_view": _company_in_view(user) if signed_in else None,
                "method": request.method,
                "route": request.url_rule.rule if request.url_rule else None,
                "path": path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
        },
    )
    return response


# Routes whose address carries a secret (Upgrade Now's token): logged as their rule.
SECRET_PATHS = ("upgrade.",)


def _loggable_path() -> str:
    endpoint = request.endpoint or ""
    if request.url_rule is not None and endpoint.startswith(SECRET_PATHS):
        return request.url_rule.rule
    return request.path


def _company_in_view(user) -> int | None:
    from app.views.context import MANAGING_KEY

    return web_session.get(MANAGING_KEY) or getattr(user, "company_id", None)
