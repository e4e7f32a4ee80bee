"""The main list pages at MSP scale, through the test client with the real templates,
each against its baseline measured in the same run (issue 21's honest baseline):
the same app's page over an empty scope (an account manager of a partner with
nothing under it, in its own application context) plus the physical limit of the
page's SQL — its rows read by Core as plain tuples in the page's index order, with
the Company list's per-row figures and an exact count as columns of the same
statement (as the app reads them), and the logs' capped count (none past their
cap, which the app remembers: `REMEMBERED`). A lean
page (the same SQL into a plain Jinja table, no layout) is reported beside it.
Medians of 11.

Renewals and the Admin Dashboard are measured against their services' own
statements alone (the figures are the work; an empty partner's page beside them
would count the page's fixed cost twice): their ratio is the whole page over its
SQL.

The data is `flask demo scale` (2,000 customers under 20 sub-partners, 200,000
learners, 1,000,000 licenses, the orders' emails, an audit trail) plus one
50,000-person customer for the license tabs, whose rows belong to the company in
view (the account manager manages it, as the guide does).

    .venv/bin/python -m bench.list_pages [sqlite|postgresql ...] [--small]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text

from bench.harness import Row, bench_app, measure_interleaved, print_table, settle, trace

PAGE = 25
BIG = 50_000


def add_big_customer(partner_id: int, people: int) -> int:
    """A customer of `people` learners, half allocated and half expired (set-based)."""
    from app import clock
    from app.extensions import db
    from app.models import Company
    from app.scale import SERIES
    from tests import factories

    big = factories.company(db.session.get(Company, partner_id), "customer", "Big Co")
    big.auto_license = False
    db.session.flush()
    now = clock.now()
    true = "true" if db.session.get_bind().dialect.name == "postgresql" else "1"
    db.session.execute(
        text(
            f"""INSERT INTO learners (company_id, email, first_name, last_name, department,
                                      active, created_at, license_expires_at, license_type)
            {SERIES.format(limit=":people")}
            SELECT :company, 'big' || i || '@bigco.example.com', 'Big', 'No' || i, NULL,
                   {true}, :now, CASE WHEN i % 2 = 0 THEN :past ELSE :future END, 'premium'
            FROM n"""
        ),
        {
            "people": people,
            "company": big.id,
            "now": _stamp(now),
            "past": _stamp(now.replace(year=now.year - 1)),
            "future": _stamp(now.replace(year=now.year + 1)),
        },
    )
    return big.id


def _stamp(moment):
    from app.extensions import db

    sqlite = db.session.get_bind().dialect.name == "sqlite"
    return moment.replace(tzinfo=None) if sqlite else moment


def bare_queries(partner_id: int, big_id: int, now) -> dict:
    """The physical limit of each page's SQL: its rows read by Core as plain tuples
    (the columns the page reads, and the related company's name where the page shows it),
    in the page's order with the key as tie-breaker (as the app orders), and its
    count — capped as the app caps it on the logs that grow without end. As the app
    reads them, an exact count is the last column of the rows' statement, and the
    Company page's per-row figures are columns of it too (issue 21); the logs' count
    is a statement of its own, which their pages past the cap skip."""
    from app.models import AuditEvent, Company, CompanyTree, Email, Learner, Order
    from app.views.audit import AuditLogView
    from app.views.base import LOG_COUNT_CAP
    from app.views.companies import CompanyView
    from app.views.emails import EmailView
    from app.views.licenses import AllocatedView, ExpiredView
    from app.views.orders import OrderView
    from app.views.page_rows import PageReader

    subtree = text("SELECT descendant_id FROM company_tree WHERE ancestor_id = :a").bindparams(
        a=partner_id
    )
    named = Company.__table__.alias("named")

    def page(view, where, order, with_company=False, cap=None, index=None, count=None):
        model = view.datamodel.obj
        table = model.__table__
        # The columns the page reads: those it shows and the table's light ones (an
        # email's body and an event's before and after are left out, as the app does),
        # and what it computes per row (the Company figures).
        reader = PageReader.for_columns(model, view.list_columns, view.computed_columns)
        columns = [*reader.columns, *reader.computed.columns.values()]
        rows = select(*columns)
        if with_company:  # a scalar subquery: a join would change the driving table
            name = select(named.c.name).where(named.c.id == table.c.company_id)
            rows = select(*columns, name.scalar_subquery())
        # The key breaks ties in the order's direction, as FAB's list adds it.
        tie = table.c.id.desc() if getattr(order, "modifier", None) is not None else table.c.id
        rows = rows.where(*where).order_by(order, tie)
        if index:  # the app reads a wide log in its order's index (sql.read_in_index_order)
            rows = rows.with_hint(table, f"INDEXED BY {index}", "sqlite")
        if cap is None:
            if count is None:
                count = select(func.count()).select_from(table).where(*where)
            rows = rows.add_columns(count.scalar_subquery())
        else:
            capped = select(table.c.id).where(*where).limit(cap + 1).subquery()
            count = select(func.count()).select_from(capped)
        return rows.params(reader.values()), count

    def log(view, at):
        """A log that grows without end: newest first over the tree, count capped,
        read in its order's index as the app reads it past the cap."""
        where = [view.datamodel.obj.company_id.in_(subtree)]
        index = view.datamodel.wide_order[1]
        return page(view, where, at.desc(), with_company=True, cap=LOG_COUNT_CAP, index=index)

    allocated = [Learner.company_id == big_id, Learner.license_expires_at > now]
    expired = [Learner.company_id == big_id, Learner.license_expires_at <= now, Learner.active]
    # The Company list counts its subtree's closure rows (`tenancy.scope_count`).
    closure = select(func.count()).where(CompanyTree.ancestor_id == partner_id)
    return {
        "Company": page(CompanyView, [Company.id.in_(subtree)], Company.name, count=closure),
        "Requested Orders": page(
            OrderView,
            [Order.company_id.in_(subtree), Order.status == "requested"],
            Order.requested_at.desc(),
            with_company=True,
        ),
        "Allocated": page(AllocatedView, allocated, Learner.last_name),
        "Expired Licenses": page(ExpiredView, expired, Learner.last_name),
        "Emails": log(EmailView, Email.created_at),
        "Audit Log": log(AuditLogView, AuditEvent.at),
    }


PAGES = [
    # (name, url, managing the big customer?, page size)
    ("Company", "/companies/list/", False, PAGE),
    ("Company", "/companies/list/?psize_CompanyView=100", False, 100),
    ("Requested Orders", "/orders/section/requested", False, PAGE),
    ("Allocated", "/licenses/allocated/list/", True, PAGE),
    ("Expired Licenses", "/licenses/expired/list/", True, PAGE),
    ("Emails", "/emails/list/", False, PAGE),
    ("Audit Log", "/audit/list/", False, PAGE),
    ("Renewals", "/renewals/", False, PAGE),
    ("Renewals", "/renewals/?psize=100", False, 100),
    ("Admin Dashboard", "/", False, None),
]


def service_queries(user) -> dict:
    """Pages whose bare work is the services' own statements (their figures are the
    work): Renewals' grid (its rows, one page, and its count) and the dashboard's
    figures, charts and Needs action — as the page runs them, without the page."""
    from app import clock, tenancy
    from app.services import dashboard, renewals
    from app.services.licenses import seat_position
    from app.services.stats import dashboard_counts

    actor = tenancy.actor_for(user, "web")

    def grid(page_size):
        renewals.page(actor, renewals.Query(page_size=page_size))

    def figures(_page_size):
        dashboard_counts(actor)
        seat_position(lambda column: tenancy.screen_scope(actor, column))
        dashboard.expiring_by_month(actor, clock.now(), "UTC")
        dashboard.needs_action(actor)

    return {"Renewals": grid, "Admin Dashboard": figures}


# The logs past their cap: the app remembers so for a minute (`OVER_CAP_SECONDS`), so
# their pages run no count after the first; nor does their baseline.
REMEMBERED = {"Emails", "Audit Log"}
REPEAT = 11  # medians of 11: a 20 ms page's median of 5 moved by 2-3 ms from run to run
LEAN_URL = "/bench/lean"
LEAN = """<!doctype html><html lang="en"><head><title>{{ name }}</title></head><body>
<table>{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table><p>Record Count: {{ count }}</p></body></html>"""


def add_lean_page(app, queries: dict) -> None:
    """The lean page reported beside each list (not its goal): a bare Flask view that
    runs the baseline's SQL (and the figures) into a plain Jinja table, no sign-in,
    layout, filters or actions."""
    from flask import render_template_string

    from app.extensions import db
    from app.views.base import LOG_COUNT_CAP

    def lean(name: str, size: int):
        rows_query, _ = queries[name]
        rows = db.session.execute(rows_query.limit(size)).all()
        # An exact count is the rows' last column (`bare_queries`).
        count = LOG_COUNT_CAP + 1 if name in REMEMBERED else rows[0][-1]
        return render_template_string(LEAN, name=name, rows=rows, count=count)

    app.add_url_rule(f"{LEAN_URL}/<name>/<int:size>", "bench_lean", lean)


def run(db_kind: str, small: bool) -> tuple[list[Row], list[Row]]:
    from app import clock
    from app.extensions import db
    from app.models import Company
    from app.scale import Scale, generate, summary
    from app.services.stats import dashboard_counts
    from app.tenancy import actor_for
    from app.views.context import MANAGING_KEY
    from tests import factories
    from tests.conftest import IsolatedClient, login

    scale = Scale(4, 200, 20_000, 100_000) if small else Scale()
    people = 5_000 if small else BIG
    with tempfile.TemporaryDirectory() as tmp, bench_app(db_kind, Path(tmp)) as app:
        # Each request in an application context of its own (its own `g`, user and
        # database session), as under gunicorn: one outer context would carry the
        # first request's user and actor into every later one.
        app.test_client_class = IsolatedClient
        started = time.perf_counter()
        partner_id = generate(scale)
        big_id = add_big_customer(partner_id, people)
        empty = factories.company(None, "partner", "Empty MSP")
        empty_customer = factories.company(empty, "customer", "Empty Co")
        am = factories.manager(db.session.get(Company, partner_id), "scale_am")
        empty_am = factories.manager(empty, "empty_am")
        settle()
        print(f"{db_kind}: generated in {time.perf_counter() - started:.0f}s: {summary()}")
        queries = bare_queries(partner_id, big_id, clock.now())
        services = service_queries(am)
        add_lean_page(app, queries)

        def client_for(user, managing: int | None):
            """A signed-in client (the sign-in outside the timing)."""
            client = app.test_client()
            login(client, user)
            if managing:
                with client.session_transaction() as sess:
                    sess[MANAGING_KEY] = managing
            return client

        def get(client, url):
            return lambda: _ok(client.get(url))

        rows, leans = [], []
        for name, url, managed, page_size in PAGES:
            ours_client = client_for(am, big_id if managed else None)
            empty_client = client_for(empty_am, empty_customer.id if managed else None)
            ours_page = get(ours_client, url)
            # The page, its baseline's parts and the lean page timed in turn, round
            # after round (`measure_interleaved`): timed one after the other, a
            # page's ratio moved by half from run to run with the machine's speed.
            timed = {"ours": ours_page}
            if name in services:

                def bare(work=services[name], page_size=page_size):
                    work(page_size)
                    db.session.rollback()

                size = dashboard_counts(actor_for(am, "web"))["customers"]
            else:
                rows_query, count_query = queries[name]

                def bare(rows_query=rows_query, page_size=page_size):
                    # With the figures and an exact count; the logs past their cap
                    # run no count (REMEMBERED).
                    db.session.execute(rows_query.limit(page_size)).all()
                    db.session.rollback()

                size = _count(count_query)
                # The empty page: the services' rows have their statements alone (docstring).
                timed["empty"] = get(empty_client, url)
                timed["lean"] = get(app.test_client(), f"{LEAN_URL}/{name}/{page_size}")
            timed["sql"] = bare
            medians = measure_interleaved(timed, REPEAT)
            ours, sql = medians["ours"], medians["sql"]
            empty_page = medians.get("empty", 0.0)
            peak, statements = trace(ours_page)
            if "lean" in medians:
                leans.append(
                    Row(f"{name} list, page of {page_size}", "", ours, medians["lean"], 0, 0)
                )
            rows.append(
                Row(
                    f"{name} list, page of {page_size}" if page_size else name,
                    f"{size:,}",
                    ours,
                    empty_page + sql,
                    peak,
                    statements,
                )
            )
        return rows, leans


def _ok(response) -> int:
    assert response.status_code == 200, response.status_code
    return response.status_code


def _count(query) -> int:
    from app.extensions import db

    return db.session.scalar(query)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("databases", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument(
        "--small", action="store_true", help="a tenth of the scale, for a quick look"
    )
    args = parser.parse_args()
    for kind in args.databases:
        rows, leans = run(kind, args.small)
        print_table(kind, rows)
        print_table(f"{kind}, against the lean page (reported, not the goal)", leans)


if __name__ == "__main__":
    main()
