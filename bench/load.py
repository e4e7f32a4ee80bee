"""List pages under concurrent load: gunicorn with 4 workers (`gunicorn.conf.py`) on
loopback, driven by wrk for 30 seconds per page, as the account manager of an MSP-sized partner (the
scale generator's tree: 2,000 customers, 200,000 learners, 1,000,000 licenses),
against a ceiling served by the same server in the same run: a page with the same
layout (menus, signed-in user, permission check, template) and no queries of its
own (`bench/ceiling.py`, served only by `bench/load_app.py`). The goal: every list
page at least 50 % of the ceiling's requests per second.

    .venv/bin/python -m bench.load [sqlite|postgresql ...] [--small] [--seconds 30]

Needs Debian's wrk (`apt-get install -y wrk`). Expired Licenses belongs to one
company, so it is measured in Manager Mode of the customer with the most expired
learners (the generator makes every fifth customer's people expired; should it make
none, a customer with half its people expired is added), against the ceiling in the
same mode (the banner costs queries too). gunicorn serves the panel as production
does (`APP_ENV=production`: no clock offset read per request), over plain HTTP on
loopback (`bench/live.py`); the in-process timings run as production too.
Each page is checked before and after its run (200, its Record Count), and wrk's
bytes per response must match it: wrk counts a redirect to the login page as a
success. Each page's statements are also timed in-process, one request, each
statement re-run with its rows fetched (SQLite does its work while rows are
fetched, after the cursor's execute returns).
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from bench import ceiling, live, wrk
from bench.harness import bench_app, settle

WORKERS = 4
# Two wrk threads, one per core; eight connections, two per worker process, so no worker
# idles between requests while the queue in front of it (and the latency) stays short.
THREADS, CONNECTIONS = 2, 8
GOAL = 0.5
USERNAME = "scale_am"
EXPIRED_CUSTOMER = 200  # people, half expired, should the generator make none expired


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    managing: bool = False  # in Manager Mode of one customer


CEILING = Page("Ceiling (layout, no queries)", ceiling.URL)
CEILING_MANAGING = Page("Ceiling, managing a customer", ceiling.URL, managing=True)
PAGES = [
    Page("Company list", "/companies/list/"),
    # The Orders tab's section, as its menu opens it (until 2026-12-07 this measured
    # the address older emails link to, `/orders/list/?_flt_3_status=requested`: an
    # Add Filter filter, whose statements are built per request).
    Page("Requested Orders", "/orders/section/requested"),
    Page("Emails", "/emails/list/"),
    Page("Audit Log", "/audit/list/"),
    # Aggregates the whole subtree: held to < 300 ms in-process, reported under load.
    Page("Renewals", "/renewals/"),
]
# The license tabs: Expired (the customer with the most expired people has nobody
# left on its Allocated tab).
MANAGED_PAGES = [Page("Expired Licenses (managing)", "/licenses/expired/list/", managing=True)]


def schedule() -> list[Page]:
    """Every page between two runs of the ceiling in its mode: the machine's other work
    moves the numbers over minutes, so a page is compared with the ceiling around it."""
    order = []
    for top, pages in ((CEILING, PAGES), (CEILING_MANAGING, MANAGED_PAGES)):
        order.append(top)
        for page in pages:
            order += [page, top]
    return order


@dataclass
class Result:
    page: Page
    rows: int | None
    size: int
    load: wrk.Load
    request: float  # in-process, the median of five requests, seconds
    statements: list[tuple[float, str]]  # its statements, re-run: (seconds, SQL)
    ceiling: float | None = None  # rps of the ceiling runs around it (pages only)


def seed(scale) -> tuple[int, int]:
    """The scale tree and its partner's account manager, committed. Returns the
    manager's id and the customer with the most expired learners (to manage): one of
    the generator's, or, should it make none expired, a customer of EXPIRED_CUSTOMER
    people, half of them expired (as `bench/list_pages.py` adds its big one) — the
    served app runs as production does, whose clock cannot be moved."""
    from app.extensions import db
    from app.models import Company
    from app.scale import generate
    from bench.list_pages import add_big_customer
    from tests import factories

    partner_id = generate(scale)
    manager = factories.manager(db.session.get(Company, partner_id), USERNAME)
    customer = _most_expired() or add_big_customer(partner_id, EXPIRED_CUSTOMER)
    db.session.commit()
    return manager.id, customer


def _most_expired() -> int | None:
    from app import clock
    from app.extensions import db
    from app.models import Learner
    from app.services.states import TABS

    return db.session.execute(
        select(Learner.company_id)
        .where(TABS["expired"](clock.now()))
        .group_by(Learner.company_id)
        .order_by(func.count().desc(), Learner.company_id)
        .limit(1)
    ).scalar()


@contextmanager
def captured_statements():
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        yield captured
    finally:
        event.remove(Engine, "before_cursor_execute", capture)


def profile(app, user_id: int, customer_id: int, page: Page) -> tuple[float, list]:
    """`page` in-process, after a warm-up: the median time of five requests, and each
    SELECT of one of them re-run with its rows fetched (the best of three). In a
    thread of its own, so each request gets a fresh app context, session and `g`, as
    under gunicorn."""
    from app.extensions import db
    from app.models import AppUser
    from app.views.context import MANAGING_KEY
    from tests.conftest import login

    client = app.test_client()
    login(client, db.session.get(AppUser, user_id))
    if page.managing:
        with client.session_transaction() as session:
            session[MANAGING_KEY] = customer_id

    def get() -> tuple[float, list]:
        with captured_statements() as captured:
            start = time.perf_counter()
            status = client.get(page.path).status_code
            spent = time.perf_counter() - start
        if status != 200:
            raise RuntimeError(f"{page.name}: {status} in-process")
        return spent, captured

    with ThreadPoolExecutor(1) as thread:
        runs = [thread.submit(get).result() for _ in range(6)][1:]
    spent, captured = statistics.median(t for t, _ in runs), runs[-1][1]
    timed = []
    with db.engine.connect() as connection:
        for statement, parameters in captured:
            if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                timed.append((_best_of(3, connection, statement, parameters), statement))
        connection.rollback()
    return spent, timed


def _best_of(times: int, connection, statement: str, parameters) -> float:
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        connection.exec_driver_sql(statement, parameters).fetchall()
        best = min(best, time.perf_counter() - start)
    return best


def check(url: str, page: Page, cookie: str) -> tuple[int | None, int]:
    """The page answers 200 with its content; returns (Record Count, bytes)."""
    status, body, size = live.fetch(url, page.path, cookie)
    if status != 200:
        raise RuntimeError(f"{page.name}: {status}")
    if page.managing and live.MANAGER_MODE not in body:
        raise RuntimeError(f"{page.name}: not in Manager Mode")
    if page.path == ceiling.URL:
        if "Ceiling</h1>" not in body:
            raise RuntimeError("the ceiling page lacks its content")
        return None, size
    count = re.search(r"Record Count:</strong>\s*([\d,]+)", body) or re.search(
        r'data-total="(\d+)"',
        body,  # Renewals: "Companies 1–25 of 2,001"
    )
    if not count:
        raise RuntimeError(f"{page.name}: no Record Count on the page")
    return int(count.group(1).replace(",", "")), size


def measure(url: str, page: Page, cookie: str, seconds: int, server: int, warm: bool):
    """Check the page, warm every worker up, load it; returns (rows, bytes, Load)."""
    rows, size = check(url, page, cookie)
    if warm:
        wrk.run(url + page.path, cookie, min(3, seconds), THREADS, CONNECTIONS, server)
    load = wrk.run(url + page.path, cookie, seconds, THREADS, CONNECTIONS, server)
    if load.requests and load.bytes_read / load.requests < 0.9 * size:
        load.errors += load.requests  # short answers: redirects, not the page
    if check(url, page, cookie)[0] != rows:
        raise RuntimeError(f"{page.name}: the row count changed under load")
    return rows, size, load


def run(db_kind: str, scale, seconds: int) -> list[Result]:
    from app.extensions import db
    from tests.factories import PASSWORD

    with tempfile.TemporaryDirectory() as tmp, bench_app(db_kind, Path(tmp)) as app:
        ceiling.add_ceiling(app)
        started = time.monotonic()
        user_id, customer_id = seed(scale)
        app.config["APP_ENV"] = "production"  # as served: no demo clock offset to read
        # As a live database's upkeep would have after a bulk load (autovacuum's
        # visibility map: index-only scans), as bench/list_pages.py does.
        settle()
        print(f"{db_kind}: data generated in {time.monotonic() - started:.0f} s", flush=True)
        order = schedule()
        profiles = {page: profile(app, user_id, customer_id, page) for page in set(order)}
        db.session.remove()
        results = []
        with live.served(app.config["SQLALCHEMY_DATABASE_URI"], Path(tmp), WORKERS) as served:
            url, server = served
            cookies = {
                False: live.sign_in(url, USERNAME, PASSWORD),
                True: live.sign_in(url, USERNAME, PASSWORD, manage=customer_id),
            }
            for i, page in enumerate(order):
                print(f"  {page.name} ...", flush=True)
                cookie, warm = cookies[page.managing], page not in order[:i]
                rows, size, load = measure(url, page, cookie, seconds, server, warm)
                results.append(Result(page, rows, size, load, *profiles[page]))
    for before, result, after in zip(results, results[1:], results[2:], strict=False):
        if result.page.path != ceiling.URL:
            result.ceiling = statistics.mean([before.load.rps, after.load.rps])
    return results


def print_results(db_kind: str, scale, seconds: int, results: list[Result]) -> None:
    print(
        f"\n{db_kind}: {scale.customers:,} customers, {scale.learners:,} learners, "
        f"{scale.licenses:,} licenses; gunicorn -w {WORKERS} (app/serial.py worker), "
        f"wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s"
    )
    header = (
        f"{'page':<30} {'rows':>7} {'KB':>5} {'rps':>6} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'ceiling':>7} {'ratio':>5} {'req ms':>6} {'SQL':>3} {'SQL ms':>6} "
        f"{'srv':>4} {'wrk':>4} {'busy':>4}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        load = r.load
        rows = "" if r.rows is None else f"{r.rows:,}"
        top = f"{r.ceiling:>7.1f} {load.rps / r.ceiling:>5.2f}" if r.ceiling else " " * 13
        print(
            f"{r.page.name:<30} {rows:>7} {r.size / 1024:>5.1f} {load.rps:>6.1f} "
            f"{load.p50 * 1000:>7.1f} {load.p99 * 1000:>7.1f} {load.errors:>6} {top} "
            f"{r.request * 1000:>6.1f} {len(r.statements):>3} "
            f"{sum(t for t, _ in r.statements) * 1000:>6.1f} "
            f"{load.server_cores:>4.2f} {load.wrk_cores:>4.2f} {load.busy_cores:>4.2f}"
        )
    print(LEGEND)
    for page in (CEILING, CEILING_MANAGING):
        for spent, sql in next(r for r in results if r.page == page).statements:
            print(f"  {page.name[:28]:<28} {spent * 1000:6.2f} ms  {_short(sql)}")
    for r in (r for r in results if r.ceiling and r.load.rps < GOAL * r.ceiling):
        sql = sum(t for t, _ in r.statements)
        print(
            f"{r.page.name}: below {GOAL:.0%} of the ceiling; in-process its SQL takes "
            f"{sql * 1000:.1f} ms of {r.request * 1000:.1f} ms; the slowest statements:"
        )
        for spent, statement in sorted(r.statements, reverse=True)[:3]:
            print(f"  {spent * 1000:8.2f} ms  {_short(statement, 160)}")


LEGEND = """\
ceiling: the mean of the ceiling runs just before and after the page, in its mode.
req ms: a request in-process (median of 5); SQL, SQL ms: its SELECTs, re-run with rows.
srv, wrk, busy: CPU cores used by gunicorn, by wrk, by the whole machine (others too).
Every request, the ceiling's too, loads the signed-in user through Flask-Login (the
user with its company, its roles, its groups); the ceiling's statements:"""


def _short(sql: str, width: int = 90) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def main() -> None:
    from app.scale import Scale

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("databases", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--seconds", type=int, default=30, help="wrk run per page")
    parser.add_argument("--small", action="store_true", help="a tenth of the scale")
    args = parser.parse_args()
    scale = Scale(customers=200, learners=20_000, licenses=100_000) if args.small else Scale()
    # SIGTERM unwinds like Ctrl-C: gunicorn and the throwaway database go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    for kind in args.databases:
        print_results(kind, scale, args.seconds, run(kind, scale, args.seconds))


if __name__ == "__main__":
    main()
