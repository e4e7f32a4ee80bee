"""The REST API's list endpoints at MSP scale, in-process through the test client,
each against its baseline measured in the same run: a bare Flask JSON view on the
same app that reads the key's hash (one column by the key's prefix, a statement
built once, SHA-256 compared) and runs the same SQL (the page and its count, the
columns the API answers) by Core into plain rows, serialised with `jsonify`: no
validation, actor, roles, scope check of the path, problem documents, ETag, rate
limit or schema. Pages of 25 and 200: the statements must not grow with the page.

The data is `flask demo scale` (2,000 customers, 200,000 learners, 1,000,000
licenses, emails, an audit trail) plus one 50,000-person customer.

    .venv/bin/python -m bench.api [sqlite|postgresql ...] [--small]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import bindparam, func, select

from bench.harness import Row, bench_app, measure, print_table, settle
from bench.list_pages import BIG, add_big_customer

SIZES = (25, 200)
REPEAT = 51  # requests of a few ms: a median of 51 is steady, of 5 is not


def endpoints(big_id: int) -> list[tuple[str, str]]:
    """(name, path) of the list endpoints measured."""
    return [
        ("companies", "/companies"),
        ("orders (requested)", "/orders?status=requested"),
        ("learners of Big Co", f"/companies/{big_id}/learners"),
        ("Expired tab of Big Co", f"/companies/{big_id}/licenses?tab=expired"),
        ("emails", "/emails"),
        ("audit log", "/audit"),
        ("renewals", "/renewals"),
    ]


def bare_statements(actor, big_id: int, now):
    """The same rows and counts as each endpoint, by name: (select, count) or a
    callable returning rows (Renewals: its service is the SQL)."""
    from app.api import schemas as s
    from app.api.resources import row_columns
    from app.models import AuditEvent, Company, Email, Learner, Order
    from app.services import renewals, states

    ITEMS = {
        Company: s.Company,
        Order: s.Order,
        Learner: s.Learner,
        Email: s.Email,
        AuditEvent: s.AuditEvent,
    }
    from app.tenancy import Screen, audience, screen_scope

    def listed(model, where, order):
        # The columns the API answers (its item schema's), as the API reads them.
        columns = row_columns(model, ITEMS[model])
        return (
            select(*columns).where(*where).order_by(*order),
            select(func.count()).select_from(model).where(*where),
        )

    def grid(size):
        found = renewals.page(actor, renewals.Query(page_size=size))
        return [
            {"company_id": r.company_id, "name": r.name, "kind": r.kind, **r.figures}
            for r in found.rows
        ], found.total

    return {
        "companies": listed(
            Company, [screen_scope(actor, Company.id, Screen.PARTNER)], [Company.id]
        ),
        "orders (requested)": listed(
            Order,
            [screen_scope(actor, Order.company_id), Order.status == "requested"],
            [Order.requested_at.desc(), Order.id.desc()],
        ),
        "learners of Big Co": listed(
            Learner, [Learner.company_id == big_id], [Learner.last_name, Learner.id]
        ),
        "Expired tab of Big Co": listed(
            Learner,
            [Learner.company_id == big_id, states.TABS["expired"](now)],
            [Learner.last_name, Learner.id],
        ),
        "emails": listed(
            Email,
            [screen_scope(actor, Email.company_id), audience(actor, Email)],
            [Email.created_at.desc(), Email.id.desc()],
        ),
        "audit log": listed(
            AuditEvent,
            [screen_scope(actor, AuditEvent.company_id)],
            [AuditEvent.at.desc(), AuditEvent.id.desc()],
        ),
        "renewals": grid,
    }


def add_bare_view(app, work: dict) -> None:
    """GET /bench-bare/<name>?page_size=N: the key looked up, the SQL run, jsonify."""
    from flask import abort, jsonify, request

    from app.models import ApiKey
    from app.sql import read

    # The key's hash by its prefix: one column, a statement built once, run by Core.
    key_hash = select(ApiKey.secret_hash).where(ApiKey.prefix == bindparam("prefix"))

    def bare(name):
        text = request.headers.get("Authorization", "").removeprefix("Bearer ")
        _, prefix, _ = text.split("_", 2)
        stored = read(key_hash, {"prefix": prefix}).scalar()
        digest = hashlib.sha256(text.encode()).hexdigest()
        if stored is None or not hmac.compare_digest(stored, digest):
            abort(401)
        size = int(request.args.get("page_size", 25))
        found = work[name]
        if callable(found):
            items, total = found(size)
        else:
            rows, counted = found
            total = read(counted).scalar()
            items = [dict(row) for row in read(rows.limit(size)).mappings()]
        return jsonify({"items": items, "total": total, "next": None})

    app.add_url_rule("/bench-bare/<name>", "bench_bare", bare)


def run(db_kind: str, small: bool) -> list[Row]:
    from app import clock
    from app.extensions import db
    from app.models import Company
    from app.scale import Scale, generate, summary
    from app.services import api_keys
    from app.tenancy import actor_for, system_actor
    from tests import factories
    from tests.conftest import IsolatedClient

    scale = Scale(4, 200, 20_000, 100_000) if small else Scale()
    os.environ["API_RATE_LIMIT"] = "1000000 per minute"  # read when the app is made
    with tempfile.TemporaryDirectory() as tmp, bench_app(db_kind, Path(tmp)) as app:
        app.test_client_class = IsolatedClient
        app.config["APP_ENV"] = "production"  # as deployed: no demo clock offset to read
        started = time.perf_counter()
        partner_id = generate(scale)
        big_id = add_big_customer(partner_id, 5_000 if small else BIG)
        am = factories.manager(db.session.get(Company, partner_id), "api_am")
        _, key = api_keys.create(system_actor("cli"), am, "bench")
        settle()
        print(f"{db_kind}: generated in {time.perf_counter() - started:.0f}s: {summary()}")
        work = bare_statements(actor_for(am, "api"), big_id, clock.now())
        add_bare_view(app, work)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {key}"}

        def get(url):
            def call():
                answer = client.get(url, headers=headers)
                assert answer.status_code == 200, (url, answer.status_code, answer.data[:300])
                db.session.rollback()

            return call

        rows = []
        for name, path in endpoints(big_id):
            joiner = "&" if "?" in path else "?"
            for size in SIZES:
                ours, peak, statements = measure(
                    get(f"/api/v1{path}{joiner}page_size={size}"), repeat=REPEAT
                )
                base, _, _ = measure(get(f"/bench-bare/{name}?page_size={size}"), repeat=REPEAT)
                rows.append(Row(f"GET {name}", f"page {size}", ours, base, peak, statements))
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("databases", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--small", action="store_true", help="a tenth of the scale")
    args = parser.parse_args()
    for kind in args.databases:
        print_table(kind, run(kind, args.small))


if __name__ == "__main__":
    main()
