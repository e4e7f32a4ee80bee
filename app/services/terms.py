"""The license term: calendar months from the assignment instant, counted in the
company's time zone, stored as a UTC instant plus the local expiry day."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def add_months(moment: datetime, months: int) -> datetime:
    """Same wall-clock time `months` later; a day the target month lacks clamps to its
    last day (31 January + 1 month = 28/29 February, 29 February + 12 = 28 February)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def license_expiry(assigned_at: datetime, time_zone: str, months: int) -> tuple[datetime, date]:
    """(expiry instant in UTC, expiry day in the company's time zone).

    A wall-clock time that does not exist on the target day (a spring-forward gap)
    is read with the offset before the change, as zoneinfo does (fold=0).
    """
    zone = ZoneInfo(time_zone)
    local = assigned_at.astimezone(zone).replace(tzinfo=None)
    target = add_months(local, months).replace(tzinfo=zone)
    return target.astimezone(UTC), target.date()
