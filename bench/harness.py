"""Shared benchmark plumbing: an app on a throwaway database, timing with a
baseline measured in the same run, peak memory and SQL statement counts.

Benchmarks are reports, not pass/fail tests: they print one table.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-secret")

from tests.settings import create_pg_database, drop_pg_database, make_config  # noqa: E402


@dataclass
class Row:
    operation: str
    size: str
    ours: float
    baseline: float
    peak_mb: float
    statements: int

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("inf")


@dataclass(frozen=True)
class Reading:
    """A figure with no baseline (a peak memory, a reader's bare time): printed on its
    own, never as a ratio."""

    operation: str
    size: str
    value: float
    unit: str


@contextmanager
def bench_app(db_kind: str, tmp_dir: Path):
    """An app migrated from empty on a throwaway SQLite file or PostgreSQL database."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    pg_name = None
    if db_kind == "sqlite":
        url = f"sqlite:///{tmp_dir / 'bench.db'}"
    else:
        pg_name, url = create_pg_database("licpanel_bench")
    app = create_app(make_config(url, TESTING=False))
    try:
        with app.app_context():
            upgrade()
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        if pg_name:
            drop_pg_database(pg_name)


def seed_expired_company(people: int, pools: int = 5, email_step: int = 1):
    """One customer ("Big Co") with `people` learners whose licenses expired yesterday
    (addresses p0, p{step}, p{2·step}… @bigco.example.com) and `pools` assigned orders
    sharing `people` seats, expiring in about a year (set-based). Commits."""
    from datetime import timedelta

    from sqlalchemy import insert

    from app import clock
    from app.extensions import db
    from app.models import Order
    from tests import factories

    company = factories.company(factories.company(None, "partner", "MSP"), "customer", "Big Co")
    company.auto_license = False
    now = clock.now()
    factories.insert_expired_learners(
        company.id,
        people,
        now - timedelta(days=1),
        email=lambda i: f"p{email_step * i}@bigco.example.com",
        last_name=lambda i: f"L{i:06d}",
    )
    db.session.execute(
        insert(Order),
        [
            {
                "company_id": company.id,
                "quantity": people // pools,
                "allocated": 0,
                "status": "assigned",
                "requested_at": now,
                "assigned_at": now,
                "expires_at": now + timedelta(days=365 - k),
                "expires_on": None,
            }
            for k in range(pools)
        ],
    )
    db.session.commit()
    return company


def settle(tables: str = "") -> None:
    """What a live database's upkeep would have done after a bulk load: PostgreSQL's
    autovacuum (VACUUM ANALYZE: statistics and the visibility map index-only scans
    need), the hourly planner-statistics job on SQLite. Commits."""
    from app.extensions import db
    from app.sql import refresh_statistics

    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                f"VACUUM ANALYZE {tables}"
            )
    else:
        refresh_statistics(db.session)
        db.session.commit()


@contextmanager
def counting_statements():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def measure(fn: Callable[[], object], repeat: int = 5) -> tuple[float, float, int]:
    """Median seconds over `repeat` runs, peak traced memory (MB) and statements of one run."""
    return (measure_interleaved({"fn": fn}, repeat)["fn"], *trace(fn))


def measure_interleaved(fns: dict[str, Callable[[], object]], repeat: int = 5) -> dict[str, float]:
    """The median seconds of each of `fns` over `repeat` rounds, each round running
    every one in turn after one warm-up each (template compilation, connection pool,
    caches): this machine's speed moves from one second to the next, so work timed
    against its baseline is timed interleaved with it."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(spent) for name, spent in times.items()}


def trace(fn: Callable[[], object]) -> tuple[float, int]:
    """Peak traced memory (MB) and statements of one run of `fn`."""
    tracemalloc.start()
    with counting_statements() as statements:
        fn()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return peak, len(statements)


def print_table(db_kind: str, rows: list[Row]) -> None:
    print(f"\n{db_kind}:")
    header = (
        f"{'operation':<44} {'size':>10} {'ours ms':>9} {'base ms':>9} "
        f"{'ratio':>6} {'peak MB':>8} {'SQL':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.operation:<44} {r.size:>10} {r.ours * 1000:>9.1f} {r.baseline * 1000:>9.1f} "
            f"{r.ratio:>6.2f} {r.peak_mb:>8.1f} {r.statements:>5}"
        )


def print_readings(db_kind: str, readings: list[Reading]) -> None:
    print(f"\n{db_kind}, readings (no baseline):")
    header = f"{'reading':<44} {'size':>10} {'value':>10}"
    print(header)
    print("-" * len(header))
    for r in readings:
        print(f"{r.operation:<44} {r.size:>10} {r.value:>7.1f} {r.unit}")
