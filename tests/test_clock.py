"""The one clock, shifted for every process outside production."""

from datetime import timedelta

import pytest

from app import clock
from app.models import AppSetting


def test_the_offset_shifts_now_and_is_read_from_the_database(app, session):
    before = clock.now()
    clock.set_offset(timedelta(hours=72))
    assert clock.now() - before >= timedelta(hours=72)
    assert AppSetting.get(clock.OFFSET_KEY) == str(72 * 3600)


def test_production_ignores_the_offset(app, session):
    clock.set_offset(timedelta(days=3))
    app.config["APP_ENV"] = "production"
    try:
        assert abs(clock.now() - clock.real_now()) < timedelta(seconds=5)
        with pytest.raises(RuntimeError):
            clock.set_offset(timedelta(days=1))
    finally:
        app.config["APP_ENV"] = "test"


def test_now_is_aware_utc(app, session):
    assert clock.now().utcoffset() == timedelta(0)
