"""SQL helpers, and every difference between SQLite and PostgreSQL in one place.

The rest of the code writes portable SQLAlchemy; where the two databases need
different SQL (or different settings) to be correct or fast, it calls a helper
here, so a third database — or a change of mind — touches this module only.
"""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Table, and_, case, event, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import Engine

from app.extensions import db


def like_any(term: str, *columns):
    """Any of `columns` contains `term` (case-insensitive; %, _ taken literally)."""
    pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))


def read(statement, params: dict | None = None):
    """A read of plain columns run by Core on the session's connection (its
    transaction): without the ORM's execution context, which on the API's every
    call (the key, the path's scope, a list page) costs more than the SQL. The
    session is not flushed first: for reads before any change of the request."""
    return db.session.connection().execute(statement, params or {})


def count_if(condition):
    """COUNT of the rows meeting `condition`, inside a grouped SELECT."""
    return func.sum(case((condition, 1), else_=0))


def dialect() -> str:
    """ "sqlite" or "postgresql": the database this session talks to."""
    return db.session.get_bind().dialect.name


def insert_ignore(model, key: str | None = None):
    """INSERT … ON CONFLICT (key) DO NOTHING (no key: on any unique conflict, as for
    a composite primary key), in the session's dialect."""
    insert = pg_insert if dialect() == "postgresql" else sqlite_insert
    return insert(model).on_conflict_do_nothing(index_elements=[key] if key else None)


def upsert(model, keys: list[str], rows: list[dict]) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE the other columns, for many rows."""
    if not rows:
        return
    # On the table, not the entity: the ORM's bulk path costs more than the SQL.
    insert = (pg_insert if dialect() == "postgresql" else sqlite_insert)(model.__table__)
    changed = {c: insert.excluded[c] for c in rows[0] if c not in keys}
    db.session.execute(insert.on_conflict_do_update(index_elements=keys, set_=changed), rows)


def json_object(**fields):
    """A JSON object built by the database from column values (an audit row's
    `after` written by INSERT … SELECT)."""
    arguments = [part for name, value in fields.items() for part in (literal(name), value)]
    if dialect() == "postgresql":
        return func.json_build_object(*arguments)
    return func.json_object(*arguments)


def iso_instant(column):
    """An instant column as ISO 8601 text in UTC, the same on both databases:
    `2026-12-04T10:00:00.000000+00:00` (microseconds always written)."""
    if dialect() == "postgresql":
        utc = func.timezone(literal("UTC"), column)  # column AT TIME ZONE 'UTC'
        return func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS.US') + "+00:00"
    # SQLite keeps `YYYY-MM-DD HH:MM:SS.ffffff` (SQLAlchemy's storage format), in UTC.
    return func.replace(column, " ", "T") + "+00:00"


def read_in_index_order(query, model, index: str):
    """`query` reading `model`'s table through `index` on SQLite (`INDEXED BY`), for a
    list ordered by that index's leading column over a wide scope: SQLite otherwise
    seeks the scope's index and sorts every matching row in a temporary B-tree (the
    Audit Log over a partner's 222,000 events: 5.6 ms, 0.7 ms in index order). Only
    for wide scopes: a small company's few rows are found faster by its own index.
    PostgreSQL's planner weighs both with its statistics: no hint."""
    return query.with_hint(model, f"INDEXED BY {index}", "sqlite")


# SQLAlchemy's SQLite compiler drops table hints; SQLite's one is INDEXED BY.
SQLiteCompiler.get_from_hint_text = lambda self, table, text: text


def joined_or_in(id_column, other_id_column, *conditions):
    """The WHERE clause of an UPDATE of `id_column`'s table limited to the rows
    `other_id_column` names where `conditions` hold. PostgreSQL joins them (UPDATE …
    FROM): it walks them in the other table's order, where `IN (subquery)` hashes
    them into random order first and scatters the writes over the indexes. SQLite
    materialises an UPDATE … FROM before writing, and reads `IN (subquery)` in
    order anyway."""
    if dialect() == "postgresql":
        return and_(id_column == other_id_column, *conditions)
    return id_column.in_(select(other_id_column).where(*conditions))


def bulk_load(connection, table: Table, chunks: Iterable[list[tuple]]) -> None:
    """Write row tuples, given in lists (a thousand or so each), into a (staging)
    table through the driver's own bulk path — COPY on PostgreSQL, one executemany
    per list on SQLite — since per-row parameter processing would cost more than
    producing the rows. The cyclic garbage collector waits meanwhile (see
    `collector_paused`)."""
    names = ", ".join(table.c.keys())
    with collector_paused():
        if connection.dialect.name == "postgresql":
            statement = f"COPY {table.name} ({names}) FROM STDIN"
            with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
                for chunk in chunks:
                    for row in chunk:
                        copy.write_row(row)
            return
        markers = ", ".join("?" * len(table.c))
        statement = f"INSERT INTO {table.name} ({names}) VALUES ({markers})"
        for chunk in chunks:
            if chunk:  # (an empty list would run the statement once, with no rows)
                connection.exec_driver_sql(statement, chunk)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: a bulk load's chunks of row tuples (no
    cycles among them) live long enough to reach the oldest generation, whose
    growth then sets off full collections of the whole process's heap — 0.14 s of a
    100,000-row review. Collection resumes afterwards (unless it was already off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# Fewer rows than this are read well without fresh statistics: no ANALYZE (which
# also queues concurrent loads behind one another).
ANALYZE_AFTER = 10_000


def analyze_loaded(connection, table_name: str, rows: int | None = None) -> None:
    """PostgreSQL: planner statistics for rows just loaded (`rows`, if counted),
    before they are read (a planner that takes 100,000 rows for none nests its
    loops). SQLite plans those reads well without."""
    if rows is not None and rows < ANALYZE_AFTER:
        return
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"ANALYZE {table_name}")


def builds_in_lists() -> bool:
    """Whether the database builds the list of an `IN (SELECT …)` on every statement:
    SQLite puts the subquery's rows into a temporary index first (a 2,000-company
    subtree: ~0.2 ms, and 0.36 ms for a Company page it reads 25 rows of), where a
    correlated EXISTS probes the closure table's key per row read (0.02 ms when the
    subtree is most of the table). PostgreSQL plans both as the same semi-join."""
    return dialect() == "sqlite"


def refresh_statistics(session) -> bool:
    """The query planner's statistics for the whole database: sampled on SQLite (cheap
    enough to run hourly; without them SQLite sorts a 50,000-person company's tab
    instead of reading it in index order); PostgreSQL's autovacuum keeps its own,
    so this is for after a bulk load there. Returns whether it ran on SQLite."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA analysis_limit = 1000"))
        session.execute(text("ANALYZE"))
        return True
    session.execute(text("ANALYZE"))
    return False


def aware(value: datetime | None) -> datetime | None:
    """An aggregate of an instant column (MIN, MAX): aware on PostgreSQL, naive UTC
    on SQLite (the column type's conversion does not apply to aggregates)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def bind_instant(moment: datetime) -> datetime:
    """An instant as raw SQL text parameters need it: naive UTC on SQLite."""
    return moment.replace(tzinfo=None) if dialect() == "sqlite" else moment


def begin_writing() -> None:
    """SQLite: start a unit of work holding the write lock (BEGIN IMMEDIATE): end the
    read-only transaction a request may have begun (loading the user), then begin.
    A deferred transaction that read and then writes after another process
    committed would fail at once ("database is locked"). PostgreSQL's row locks do
    this job: nothing to do there."""
    if dialect() != "sqlite":
        return
    if db.session().in_transaction():
        db.session.commit()
    db.session.connection(execution_options={"sqlite_immediate": True})


def configure_engine(engine: Engine) -> None:
    """The engine's per-connection settings (registered by create_app)."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgresql_connect)


def _postgresql_connect(dbapi_connection, connection_record) -> None:
    """PostgreSQL: no Parallel Append. The panel's only UNION ALLs are a page's figures
    (a seat position; the Company list's until they moved into its page's
    statement), small grouped reads each on its index, which the planner ran in
    parallel workers: ~10 ms of starting them for ~2 ms of work (the Company list's
    figures 11.4 ms, 3.3 ms without). The panel has no
    partitioned tables, the other use of Parallel Append; other parallel plans stay."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET enable_parallel_append = off")
    dbapi_connection.commit()


def _sqlite_connect(dbapi_connection, connection_record) -> None:
    """SQLite: enforce foreign keys, wait on locks, write-ahead logging, and let
    SQLAlchemy (not the driver) begin transactions so SAVEPOINTs work (SQLAlchemy's
    pysqlite recipe)."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 10000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _sqlite_begin(conn) -> None:
    """SQLite: reads begin deferred, so pages never wait on each other; a unit of work
    (`begin_writing`) begins IMMEDIATE."""
    immediate = conn.get_execution_options().get("sqlite_immediate")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
