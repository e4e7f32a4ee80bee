"""The XLSX review through the browser on `make run` (issue 21's goal), against the
limit of the same work measured in the same run: python-calamine's bare in-process
parse of the file plus the raw SQL of the review's writes: its rows staged by the
driver's bulk path and matched to the company's learners (bench/import.py).

`make run` on a SQLite file of its own (its embedded queue and worker, its demo
data), plus a customer ("Big Co") with 50,000 expired learners and a manager; a
100,000-row XLSX holding their addresses and 50,000 strangers'. Chromium signs in
as that manager and clicks Expired Licenses → Select Users by CSV → Upload →
Review, timed from the Upload click to the review's counts on screen (the upload,
the file's inspection, the column page, the review). Medians of 3.

    .venv/bin/python -m bench.browser_import [--rows N]
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench.harness import seed_expired_company
from tests.e2e.conftest import CHROMIUM_FLAGS
from tests.servers import free_port, wait_until_up
from tests.smtp import SmtpServer
from tests.stack import stack_environment, start

IMPORT = importlib.import_module("bench.import")  # (a keyword: not importable by name)
PASSWORD = "bench-browser-pw1"


@contextmanager
def app_on(url: str):
    """An app context on `make run`'s database (already migrated)."""
    from app import create_app
    from app.extensions import db
    from tests.settings import make_config

    app = create_app(make_config(url, TESTING=False))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def seed(url: str, people: int) -> None:
    """Big Co, its expired people and its manager, in `make run`'s database. The
    stack's worker starts its first jobs as the web server comes up (the demo's
    catch-up), which can hold SQLite's write lock past the busy timeout: a seed that
    meets it starts again."""
    from sqlalchemy.exc import OperationalError

    for attempt in range(5):
        try:
            return _seed(url, people)
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == 4:
                raise
            time.sleep(5)


def _seed(url: str, people: int) -> None:
    from app.extensions import db
    from app.services.managers import create_manager
    from app.tenancy import system_actor

    with app_on(url):
        company = seed_expired_company(people, email_step=2)
        create_manager(
            system_actor("cli"),
            company.id,
            username="bigco",
            first_name="Big",
            last_name="Manager",
            email="bigco@managers.example.com",
            password=PASSWORD,
        )
        db.session.commit()


def review_in_browser(base: str, path: Path, repeat: int) -> list[float]:
    from playwright.sync_api import expect, sync_playwright

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=CHROMIUM_FLAGS,  # headless by default
        )
        page = browser.new_page()
        page.set_default_timeout(300_000)
        page.goto(f"{base}/login/")
        page.fill("input[name=username]", "bigco")
        page.fill("input[name=password]", PASSWORD)
        page.locator("input[type=submit], button[type=submit]").first.click()
        page.wait_for_load_state()
        for _ in range(repeat):
            page.goto(f"{base}/licenses/expired/list/")
            page.get_by_role("link", name="Select Users by CSV").click()
            page.get_by_label("Add your User spreadsheet file").set_input_files(str(path))
            started = time.perf_counter()
            page.get_by_role("button", name="Upload").click()
            review = page.get_by_role("button", name="Review")
            review.wait_for()
            columns = time.perf_counter()
            review.click()
            expect(page.locator('[data-review="taken"]')).to_be_visible()
            times.append(time.perf_counter() - started)
            print(f"  upload → column page {columns - started:.2f} s, review {times[-1]:.2f} s")
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name, SmtpServer() as smtp:
        tmp = Path(tmp_name)
        url = f"sqlite:///{tmp / 'panel.db'}"
        port = free_port()
        env = stack_environment(url, port, smtp.port, tmp)
        log = tmp / "make-run.log"
        make = start(["make", "--no-print-directory", "run"], env, log)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base, make, seconds=300, log=log)
            seed(url, args.rows // 2)
            xlsx = IMPORT.make_files(tmp, args.rows)["xlsx"]
            ours = statistics.median(review_in_browser(base, xlsx, args.repeat))
            with app_on(url):
                from sqlalchemy import select

                from app.extensions import db
                from app.imports.reader import inspect, rows
                from app.models import Company

                company = db.session.scalar(select(Company).where(Company.name == "Big Co"))
                info = inspect(xlsx)
                emails = [{"email": r[1].strip().lower()} for r in list(rows(xlsx, info))[1:]]
                parse = statistics.median(
                    _timed(lambda: IMPORT.parse_calamine(xlsx)) for _ in range(args.repeat)
                )
                match = statistics.median(
                    _timed(lambda: IMPORT.match_with_sql(company, emails))
                    for _ in range(args.repeat)
                )
        finally:
            os.killpg(make.pid, signal.SIGINT)
            make.wait(timeout=60)
    base_s = parse + match
    print(f"\nXLSX review through the browser on make run (SQLite), {args.rows:,} rows:")
    print(f"  ours (Upload click → review counts shown): {ours:.2f} s")
    print(f"  baseline: calamine's bare parse {parse:.2f} s + the SQL match {match:.2f} s")
    print(f"  ratio: {ours / base_s:.2f} (of {base_s:.2f} s)")


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
