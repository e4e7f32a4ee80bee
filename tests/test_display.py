"""How days and instants read on every page and in emails (app/display.py)."""

from datetime import UTC, date, datetime

from app import display


def test_an_instant_reads_in_the_zone_with_its_letters_or_its_offset():
    moment = datetime(2026, 12, 1, 23, 15, tzinfo=UTC)
    assert display.when(moment, "Europe/London") == "1 Dec 2026, 23:15 GMT"
    assert display.when(moment, "Asia/Dubai") == "2 Dec 2026, 03:15 UTC+04"
    assert display.when(moment.replace(tzinfo=None), "Pacific/Auckland") == (
        "2 Dec 2026, 12:15 NZDT"
    )
    assert display.time_of_day(moment, "America/New_York") == "18:15 EST"
    assert display.when(None, "Europe/London") == "—"


def test_a_day_reads_the_same_as_the_c_locale_names_it_in_every_month():
    for month in range(1, 13):
        day = date(2027, month, 9)
        assert display.day(day) == f"9 {day:%b} 2027"
    # An instant is a day of the zone it is read in.
    assert display.day(datetime(2026, 7, 31, 23, 30, tzinfo=UTC), "Europe/Berlin") == "1 Aug 2026"
    assert display.day(None) == "—"
