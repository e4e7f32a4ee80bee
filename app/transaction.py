"""Commit once, at the boundary (a view, a job, a CLI command).

`transaction()` is the unit of work. Work already in the session when it starts
becomes part of it, on SQLite and PostgreSQL alike: committed with it, rolled back
with it. A `transaction()` inside another is part of the outer one (it never
commits it); the outermost commits.
"""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from app.errors import Conflict
from app.extensions import db
from app.sql import begin_writing

DEPTH = "unit_of_work_depth"
WROTE = "unit_of_work_wrote"


@contextmanager
def transaction():
    """Run a unit of work: commit if it completes, roll back on any error.

    Losing a write race at the database (SQLite's "database is locked" when another
    process wrote first, PostgreSQL's serialization or lock failures) becomes a
    Conflict the user can read; nothing was changed.
    """
    session = db.session()
    depth = session.info.get(DEPTH, 0)
    if depth:  # inside another unit of work: the outer one commits or rolls back
        session.info[DEPTH] = depth + 1
        try:
            yield db.session
        finally:
            session.info[DEPTH] = depth
        return
    _begin(session)
    session.info[DEPTH] = 1
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
    finally:
        session.info.pop(DEPTH, None)


def register_unit_of_work() -> None:
    """Note in the session when its transaction writes (a flush, or an UPDATE, INSERT
    or DELETE executed through it), so a unit of work can tell read-only work from
    writes already made."""
    factory = db.session.session_factory
    if not event.contains(factory, "after_flush", _flushed):
        event.listen(factory, "after_flush", _flushed)
        event.listen(factory, "do_orm_execute", _executed)
        event.listen(factory, "after_commit", _ended)
        event.listen(factory, "after_rollback", _ended)


def _begin(session) -> None:
    """Begin the unit of work. On SQLite it must hold the write lock from its start
    (`sql.begin_writing`), which means ending the deferred transaction a request may
    have opened: only when that transaction merely read (loading the user). One that
    wrote already holds SQLite's write lock, and is kept, so its work commits or
    rolls back with the unit of work — as on PostgreSQL."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    if not session.info.get(WROTE):
        begin_writing()


def _flushed(session, context) -> None:
    session.info[WROTE] = True


def _executed(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[WROTE] = True


def _ended(session) -> None:
    session.info.pop(WROTE, None)


def _lost_a_race(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "database is locked" in text or "could not serialize" in text or "lock" in text
