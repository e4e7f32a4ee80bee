"""The unit of work: one commit at the boundary, the same on SQLite and PostgreSQL."""

import pytest

from app.models import AppSetting
from app.transaction import transaction


def test_a_nested_unit_of_work_never_commits_the_outer_one(session):
    with pytest.raises(RuntimeError), transaction():
        AppSetting.put("outer", "1")
        with transaction():
            AppSetting.put("inner", "1")
        raise RuntimeError("the outer work fails after the inner block")
    assert AppSetting.get("outer") is None
    assert AppSetting.get("inner") is None


def test_work_already_in_the_session_rolls_back_with_the_unit_of_work(session):
    AppSetting.put("before", "1")  # flushed, not committed
    with pytest.raises(RuntimeError), transaction():
        AppSetting.put("during", "1")
        raise RuntimeError("the unit of work fails")
    assert AppSetting.get("before") is None
    assert AppSetting.get("during") is None


def test_work_already_in_the_session_commits_with_the_unit_of_work(session):
    session.add(AppSetting(key="pending", value="1"))  # not even flushed
    with transaction():
        AppSetting.put("during", "1")
    session.rollback()  # nothing left open: both were committed
    assert AppSetting.get("pending") == "1"
    assert AppSetting.get("during") == "1"


def test_a_unit_of_work_after_reads_only_commits_its_own_work(session):
    assert AppSetting.get("anything") is None  # a read opens a transaction
    with transaction():
        AppSetting.put("written", "1")
    session.rollback()
    assert AppSetting.get("written") == "1"
