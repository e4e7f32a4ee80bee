"""app/sql.py's helpers that hold no database state."""

import gc

import pytest

from app.sql import collector_paused


def test_the_collector_waits_during_a_bulk_load_and_resumes_as_it_was():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("a refused file ends the load")
    assert gc.isenabled()  # back on, even after an error
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()
