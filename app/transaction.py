"""Commit once, at the boundary (a view, a job, a CLI command)."""

from __future__ import annotations

from contextlib import contextmanager

from app.extensions import db


@contextmanager
def transaction():
    """Run a unit of work: commit if it completes, roll back on any error."""
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
