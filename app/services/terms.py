"""The license term: calendar months (a Free Trial: days) from the assignment
instant, counted in the company's time zone, stored as a UTC instant plus the local
expiry day. The term of each license type is a setting (`TERM_SETTINGS`)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

from app.models.order import LicenseType

# Each type's term: (setting, unit). Premium keeps the historical LICENSE_TERM_MONTHS.
TERM_SETTINGS = {
    LicenseType.PREMIUM: ("LICENSE_TERM_MONTHS", "months"),
    LicenseType.MANAGED: ("MANAGED_TERM_MONTHS", "months"),
    LicenseType.NFR: ("NFR_TERM_MONTHS", "months"),
    LicenseType.TRIAL: ("TRIAL_TERM_DAYS", "days"),
}


def term_expiry(assigned_at: datetime, time_zone: str, license_type: str) -> tuple[datetime, date]:
    """The expiry of a pool of `license_type` assigned at `assigned_at` (its setting)."""
    setting, unit = TERM_SETTINGS[LicenseType(license_type)]
    length = current_app.config[setting]
    if unit == "days":
        return license_expiry(assigned_at, time_zone, 0, days=length)
    return license_expiry(assigned_at, time_zone, length)


def add_months(moment: datetime, months: int) -> datetime:
    """Same wall-clock time `months` later; a day the target month lacks clamps to its
    last day (31 January + 1 month = 28/29 February, 29 February + 12 = 28 February)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def license_expiry(
    assigned_at: datetime, time_zone: str, months: int, days: int = 0
) -> tuple[datetime, date]:
    """(expiry instant in UTC, expiry day in the company's time zone): `months`
    calendar months and `days` days on, at the same wall-clock time.

    A wall-clock time that does not exist on the target day (a spring-forward gap)
    is read with the offset before the change, as zoneinfo does (fold=0).
    """
    zone = ZoneInfo(time_zone)
    local = assigned_at.astimezone(zone).replace(tzinfo=None)
    target = (add_months(local, months) + timedelta(days=days)).replace(tzinfo=zone)
    return target.astimezone(UTC), target.date()
