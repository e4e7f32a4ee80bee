"""Commit once, at the boundary (a view, a job, a CLI command)."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy.exc import OperationalError

from app.errors import Conflict
from app.extensions import db
from app.sql import begin_writing


@contextmanager
def transaction():
    """Run a unit of work: commit if it completes, roll back on any error.

    Losing a write race at the database (SQLite's "database is locked" when another
    process wrote first, PostgreSQL's serialization or lock failures) becomes a
    Conflict the user can read; nothing was changed.
    """
    begin_writing()
    try:
        yield db.session
        db.session.commit()
    except OperationalError as exc:
        db.session.rollback()
        if _lost_a_race(exc):
            raise Conflict(
                "Someone else was changing the same data at that moment; nothing was "
                "changed. Please try again."
            ) from exc
        raise
    except BaseException:
        db.session.rollback()
        raise


def _lost_a_race(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "database is locked" in text or "could not serialize" in text or "lock" in text
