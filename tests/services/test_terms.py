"""The 12-month term: calendar months from assignment, in the company's time zone."""

from datetime import UTC, date, datetime

import pytest

from app.services.terms import add_months, license_expiry


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "assigned_utc, zone, months, expires_utc, local_day",
    [
        # Plain: same wall-clock time a year later.
        (utc(2026, 3, 10, 9, 30), "UTC", 12, utc(2027, 3, 10, 9, 30), date(2027, 3, 10)),
        # Leap day clamps to 28 February of a common year.
        (utc(2028, 2, 29, 12, 0), "UTC", 12, utc(2029, 2, 28, 12, 0), date(2029, 2, 28)),
        # Month ends: 31 January + 1 month is the last day of February.
        (utc(2027, 1, 31, 8, 0), "UTC", 1, utc(2027, 2, 28, 8, 0), date(2027, 2, 28)),
        (utc(2028, 1, 31, 8, 0), "UTC", 1, utc(2028, 2, 29, 8, 0), date(2028, 2, 29)),
        (utc(2026, 8, 31, 8, 0), "UTC", 1, utc(2026, 9, 30, 8, 0), date(2026, 9, 30)),
        # Auckland (UTC+13 in January, +12 in winter): 20:00 UTC on 31 Dec is already
        # 1 January there, so the licenses expire on 1 January, 09:00 local.
        (
            utc(2026, 12, 31, 20, 0),
            "Pacific/Auckland",
            12,
            utc(2027, 12, 31, 20, 0),
            date(2028, 1, 1),
        ),
        # Kiritimati (UTC+14) and Pago Pago (UTC-11): either side of the date line.
        (
            utc(2026, 6, 30, 12, 0),
            "Pacific/Kiritimati",
            12,
            utc(2027, 6, 30, 12, 0),
            date(2027, 7, 1),
        ),
        (utc(2026, 7, 1, 5, 0), "Pacific/Pago_Pago", 12, utc(2027, 7, 1, 5, 0), date(2027, 6, 30)),
        # Los Angeles: assigned in summer (UTC-7), expires in summer: same UTC time.
        (
            utc(2026, 7, 4, 16, 0),
            "America/Los_Angeles",
            12,
            utc(2027, 7, 4, 16, 0),
            date(2027, 7, 4),
        ),
        # Assigned in winter (UTC-8) with a 6-month term ending in summer (UTC-7): the
        # local wall time is kept, so the UTC instant is an hour earlier.
        (
            utc(2026, 1, 15, 17, 0),
            "America/Los_Angeles",
            6,
            utc(2026, 7, 15, 16, 0),
            date(2026, 7, 15),
        ),
        # Leap day in a time zone ahead of UTC: local 29 Feb 2028 -> 28 Feb 2029.
        (
            utc(2028, 2, 28, 23, 30),
            "Europe/Berlin",
            12,
            utc(2029, 2, 27, 23, 30),
            date(2029, 2, 28),
        ),
    ],
)
def test_license_expiry(assigned_utc, zone, months, expires_utc, local_day):
    assert license_expiry(assigned_utc, zone, months) == (expires_utc, local_day)


def test_add_months_keeps_the_time_and_crosses_years():
    assert add_months(datetime(2026, 11, 30, 23, 59), 3) == datetime(2027, 2, 28, 23, 59)
    assert add_months(datetime(2026, 12, 15), 12) == datetime(2027, 12, 15)


def test_the_expiry_is_an_aware_utc_instant():
    expires, _ = license_expiry(utc(2026, 5, 1, 10, 0), "Asia/Kolkata", 12)
    assert expires.utcoffset().total_seconds() == 0
