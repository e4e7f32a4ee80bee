"""The application's one clock.

Outside production an offset stored in the database (`app_settings`) shifts "now"
for every process at once — web, worker, scheduler — so tests, the browser suite
and the demo can show "three days later" on screen. In production it is ignored.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from flask import current_app, g, has_app_context

OFFSET_KEY = "clock_offset_seconds"
_CACHE_SECONDS = 1.0


def real_now() -> datetime:
    return datetime.now(UTC)


def now() -> datetime:
    """The current instant (aware UTC), shifted by the offset outside production."""
    return real_now() + offset()


def offset() -> timedelta:
    if not has_app_context() or current_app.config.get("APP_ENV") == "production":
        return timedelta(0)
    cached = g.get("_clock_offset")
    if cached and time.monotonic() - cached[0] < _CACHE_SECONDS:
        return cached[1]
    value = timedelta(seconds=_read_offset_seconds())
    g._clock_offset = (time.monotonic(), value)
    return value


def set_offset(delta: timedelta) -> None:
    """Shift the clock for every process (refused in production). Caller commits."""
    from app.models.setting import AppSetting

    if current_app.config.get("APP_ENV") == "production":
        raise RuntimeError("the clock cannot be shifted in production")
    AppSetting.put(OFFSET_KEY, str(int(delta.total_seconds())))
    g.pop("_clock_offset", None)


def _read_offset_seconds() -> float:
    from app.models.setting import AppSetting

    return float(AppSetting.get(OFFSET_KEY) or 0)
