"""How values read on screen and in emails: one format for every date and time (in
a stated time zone), thousands separators, plurals, and days left.

Exports (CSV/XLSX) do not use this module: they keep plain numbers and ISO 8601
UTC times for the tools that read them (`app/exports.py`).

One format everywhere: a day reads "1 Dec 2026"; an instant reads
"1 Dec 2026, 23:15 GMT" — in the company's zone, with the zone's abbreviation
(a zone without a lettered one reads as its offset: "UTC+04").
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=512)
def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# Month names as "%b" gives them in the C locale, without strftime's cost (a list
# page formats two instants a row).
MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day(value: date | datetime | None, zone_name: str | None = None) -> str:
    """A day ("1 Dec 2026"); an instant is first moved into `zone_name`."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = local(value, zone_name)
    return f"{value.day} {MONTHS[value.month]} {value.year}"


def when(value: datetime | None, zone_name: str | None = None) -> str:
    """An instant in `zone_name`: "1 Dec 2026, 23:15 GMT"."""
    if value is None:
        return "—"
    moment = local(value, zone_name)
    return (
        f"{moment.day} {MONTHS[moment.month]} {moment.year}, "
        f"{moment.hour:02d}:{moment.minute:02d} {zone_label(moment)}"
    )


def time_of_day(value: datetime, zone_name: str | None = None) -> str:
    """The clock time of an instant in `zone_name`: "23:15 GMT"."""
    moment = local(value, zone_name)
    return f"{moment.hour:02d}:{moment.minute:02d} {zone_label(moment)}"


def local(value: datetime, zone_name: str | None) -> datetime:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(zone(zone_name))


def zone_label(moment: datetime) -> str:
    name = moment.tzname() or "UTC"
    return name if name[:1].isalpha() else f"UTC{name}"


def number(value: int | None) -> str:
    """119955 reads "119,955"."""
    return "—" if value is None else f"{value:,}"


def count(value: int, singular: str, plural: str | None = None) -> str:
    """ "1 order", "3 licenses", "20,000 people"."""
    word = singular if value == 1 else (plural or singular + "s")
    return f"{value:,} {word}"


def days_left(expires_at: datetime | None, now: datetime, zone_name: str | None = None) -> str:
    """A license's time left as a person reads it, in calendar days of `zone_name`:
    "12 days", "ends today", "expired today", "expired 10 days ago", "never
    licensed"."""
    if expires_at is None:
        return "never licensed"
    days = (local(expires_at, zone_name).date() - local(now, zone_name).date()).days
    if expires_at > now:
        return "ends today" if days == 0 else count(days, "day")
    return "expired today" if days == 0 else f"expired {count(-days, 'day')} ago"


def time_left(until: datetime, now: datetime) -> str:
    """The real time from `now` to an instant ahead, as an email says it: "in 45
    minutes", "in 5 hours", "in 3 days" (whole units, rounded down; a reminder sent
    late after an outage says what is left, never its nominal lead)."""
    seconds = max(0, int((until - now).total_seconds()))
    if seconds >= 2 * 86400:
        return f"in {count(seconds // 86400, 'day')}"
    if seconds >= 3600:
        return f"in {count(seconds // 3600, 'hour')}"
    return f"in {count(max(1, seconds // 60), 'minute')}"


FILTERS = {
    "day": day,
    "when": when,
    "time_of_day": time_of_day,
    "number": number,
    "plural": count,  # not "count": Jinja's own count is a length
    "days_left": days_left,
}


def register(app) -> None:
    """The formats as Jinja filters, for pages and emails alike."""
    app.jinja_env.filters.update(FILTERS)
