"""Select All → Allocate for 50,000 expired people in one company with five assigned
10,000-seat orders, through the service, against the raw SQL baseline in the same
run, writing what the app must write, the way the app writes it: the selection
staged (one INSERT … SELECT numbering its members), one conditional UPDATE of the
orders checked by row count, one INSERT … SELECT spreading the staged members over
the five orders, and one UPDATE of the staged people's `license_expires_at` and
`license_type` (the tabs and the guard against licensing a person twice read them).
Medians of 5.

    .venv/bin/python -m bench.allocate [sqlite|postgresql ...] [--people N]

Each run happens inside a savepoint that is rolled back, so every run starts alike.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select, text

from bench.harness import Row, bench_app, measure, print_table, seed_expired_company

POOLS = 5


def seed(people: int):
    """One customer, `people` learners whose licenses expired yesterday, and five
    assigned orders with people/5 seats each expiring in a year (set-based)."""
    from app.extensions import db
    from app.models import Order

    company = seed_expired_company(people, POOLS)
    orders = list(db.session.scalars(select(Order.id).where(Order.company_id == company.id)))
    return company, orders


def ours(company):
    from app.extensions import db
    from app.models import Learner
    from app.services.allocation import allocate, select_matching
    from app.tenancy import system_actor

    actor = replace(system_actor("cli"), managing_company_id=company.id)

    def run():
        with db.session.begin_nested() as savepoint:
            selection = select_matching(actor, company.id, select(Learner.id))
            allocate(actor, selection.id)
            savepoint.rollback()

    return run


def baseline(company, orders: list[int], people: int):
    from app.extensions import db
    from app.models import Order

    per_pool = people // POOLS
    expires, kind = db.session.execute(
        select(Order.expires_at, Order.license_type).where(Order.id == orders[0])
    ).one()
    ids = ", ".join(str(o) for o in orders)
    buckets = " ".join(f"WHEN {k} THEN {o}" for k, o in enumerate(orders))
    due = "company_id = :company AND license_expires_at <= :now"
    stage = text(
        "INSERT INTO selections (id, company_id, created_at, source, size) "
        "VALUES (:selection, :company, :now, 'all', 0)"
    )
    members = text(
        "INSERT INTO selection_members (selection_id, position, learner_id) "
        f"SELECT :selection, row_number() OVER (ORDER BY id), id FROM learners WHERE {due}"
    )
    take = text(f"UPDATE orders SET allocated = quantity WHERE id IN ({ids}) AND allocated = 0")
    # The learners are numbered once, when staged; the spread and the people's
    # update read the staged members, as the app does (UPDATE … FROM on PostgreSQL,
    # `id IN (…)` on SQLite: app/sql.py's joined_or_in).
    spread = text(
        "INSERT INTO licenses (learner_id, order_id, company_id, allocated_at, expires_at) "
        f"SELECT learner_id, CASE (position - 1) / {per_pool} {buckets} END, :company, :now, :now "
        "FROM selection_members WHERE selection_id = :selection"
    )
    point_set = "UPDATE learners SET license_expires_at = :expires, license_type = :kind"
    point = text(
        f"{point_set} FROM selection_members m "
        "WHERE m.selection_id = :selection AND learners.id = m.learner_id"
        if db.engine.dialect.name == "postgresql"
        else f"{point_set} WHERE id IN "
        "(SELECT learner_id FROM selection_members WHERE selection_id = :selection)"
    )

    def run():
        from app import clock

        now = clock.now().replace(tzinfo=None) if db.engine.dialect.name == "sqlite" else None
        at = {"company": company.id, "now": now or clock.now(), "selection": 10**9}
        with db.session.begin_nested() as savepoint:
            db.session.execute(stage, at)
            db.session.execute(members, at)
            assert db.session.execute(take).rowcount == len(orders)
            db.session.execute(spread, at)
            stamp = expires.replace(tzinfo=None) if now else expires
            db.session.execute(point, {**at, "expires": stamp, "kind": kind})
            savepoint.rollback()

    return run


def run(db_kind: str, people: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp, bench_app(db_kind, Path(tmp)):
        company, orders = seed(people)
        ours_s, peak, statements = measure(ours(company), repeat=5)
        base_s, _, _ = measure(baseline(company, orders, people), repeat=5)
        return [Row("Select All -> Allocate", f"{people:,}", ours_s, base_s, peak, statements)]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("databases", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--people", type=int, default=50_000)
    args = parser.parse_args()
    for kind in args.databases:
        print_table(kind, run(kind, args.people))
