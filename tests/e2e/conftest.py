"""The production-shaped stack for the browser: gunicorn on a free loopback port,
on a database of its own (migrated, demo data loaded), a real `worker.py` (RQ
worker + scheduler) on the machine's Redis, a loopback SMTP server capturing the
mail, all driven by Debian's Chromium.

Every page visited is checked by axe-core (critical, serious and moderate fail
the test; tests/e2e/axe.py) and for accessibility basics (a title; a name for every
input, select and button), and the run for console errors and failed requests; a
failing test leaves a screenshot and the page's HTML under test-artifacts/."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e import axe
from tests.servers import free_port, wait_until_up
from tests.settings import REDIS_URL, create_pg_database, drop_pg_database, drop_queue, new_queue
from tests.smtp import SmtpServer
from tests.stack import gunicorn_command

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "browser-demo-pw"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM", "/usr/bin/chromium"),
        "args": CHROMIUM_FLAGS,
    }


@pytest.fixture(scope="session")
def live_database(db_kind, tmp_path_factory):
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.db'}"
        return
    name, url = create_pg_database("licpanel_live")
    yield url
    drop_pg_database(name)


@pytest.fixture(scope="session")
def mail():
    """The loopback SMTP server every live process sends to (a Mailbox)."""
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="session")
def live_env(live_database, mail):
    queue = new_queue("e2e")
    yield {
        **os.environ,
        "DATABASE_URL": live_database,
        "SECRET_KEY": "live-server-secret",
        "DEMO_PASSWORD": DEMO_PASSWORD,
        "FLASK_APP": "run.py",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "LOGIN_THROTTLE": "0",
        "APP_ENV": "test",
        "REDIS_URL": REDIS_URL,
        "RQ_QUEUE": queue,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(mail.port),
        "SCHEDULER_TICK_SECONDS": "0.5",
        "SCHEDULE_EVERY_SECONDS": "2",
        "WEBHOOKS_ALLOW_PRIVATE": "1",  # the receiver listens on loopback
    }
    drop_queue(queue)


@pytest.fixture(scope="session")
def live_server(live_env):
    """The panel served by gunicorn, with the demo data loaded by `flask setup --demo`."""
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [str(bin_dir / "flask"), "setup", "--demo"],
        cwd=ROOT,
        env=live_env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**live_env, "BASE_URL": url}
    quiet = {"cwd": ROOT, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    server = subprocess.Popen(gunicorn_command(port), **quiet)
    worker = subprocess.Popen([sys.executable, str(ROOT / "worker.py")], **quiet)
    try:
        wait_until_up(url, server)
        yield url
    finally:
        # A warm shutdown: the worker finishes its job in hand and joins its
        # heartbeat and scheduler threads (up to 10 s each) before it exits. Then,
        # as `make run` stops its children, RQ's second signal (a cold shutdown)
        # and a kill: nothing is left running behind the tests (a worker.py once
        # stayed in RQ's blocking dequeue after its SIGTERM).
        for process in (server, worker):
            process.terminate()
        for process in (server, worker):
            stop(process)


def stop(process: subprocess.Popen) -> None:
    """`process`, already sent SIGTERM, ended: asked again after 60 s, killed 10 s later."""
    for seconds, then in ((60, process.terminate), (10, process.kill)):
        try:
            process.wait(timeout=seconds)
            return
        except subprocess.TimeoutExpired:
            then()
    process.wait(timeout=10)


BIG_CLINIC = "Big Clinic"
BIG_CLINIC_PEOPLE, BIG_CLINIC_NURSES, BIG_CLINIC_SEATS = 20_000, 12_345, 15_000


@pytest.fixture(scope="session")
def big_clinic(live_server, live_database):
    """A customer of Bluewave IT (partner2's) with 20,000 learners whose licenses
    expired a month ago — 12,345 of them in Nursing — and an assigned pool of
    15,000 seats (enough for the nurses, not for everyone), written into the live
    database set-based (no reminder is due for it, before or after the clock moves)."""
    from datetime import timedelta

    from sqlalchemy import select

    from app import clock, create_app
    from app.extensions import db
    from app.models import Company, Order
    from app.services.companies import create_company
    from app.tenancy import system_actor
    from app.transaction import transaction
    from tests import factories
    from tests.settings import make_config

    app = create_app(make_config(live_database))
    with app.app_context(), transaction():  # the live stack writes too: BEGIN IMMEDIATE
        partner = db.session.scalar(select(Company).where(Company.name == "Bluewave IT"))
        company = create_company(
            system_actor("cli"), name=BIG_CLINIC, kind="customer", parent_id=partner.id
        )
        company.auto_license = False
        now = clock.now()
        factories.insert_expired_learners(
            company.id,
            BIG_CLINIC_PEOPLE,
            now - timedelta(days=30),
            email=lambda i: f"person{i}@bigclinic.example.com",
            last_name=lambda i: f"No{i:05d}",
            department=lambda i: "Nursing" if i < BIG_CLINIC_NURSES else "Front desk",
        )
        expires = now + timedelta(days=365)
        db.session.add(
            Order(
                company_id=company.id,
                quantity=BIG_CLINIC_SEATS,
                allocated=0,
                status="assigned",
                requested_at=now,
                assigned_at=now,
                expires_at=expires,
                expires_on=expires.date(),
            )
        )
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return BIG_CLINIC


def shift_clock(live_env, hours: float) -> None:
    """Move the live stack's clock (web, worker, scheduler) `hours` ahead."""
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [str(bin_dir / "flask"), "clock", "shift", str(hours)],
        cwd=ROOT,
        env=live_env,
        check=True,
        capture_output=True,
    )


def clock_offset_hours(live_env) -> float:
    """How far the live stack's clock is ahead of real time now, in hours (`flask
    clock shift` sets an offset from real time, not from the last shift)."""
    bin_dir = Path(sys.executable).parent
    shown = subprocess.run(
        [str(bin_dir / "flask"), "clock", "show"],
        cwd=ROOT,
        env=live_env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    now = datetime.fromisoformat(re.search(r"now=(\S+)", shown).group(1))
    return (now - datetime.now(UTC)).total_seconds() / 3600


def wait_for_mail(mailbox, condition, seconds: float = 60, what: str = "mail"):
    """Poll the captured mail until `condition(mailbox)` is true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition(mailbox)
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} arrived; subjects: {mailbox.subjects()}")


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("input[type=submit], button[type=submit]").first.click()
    page.wait_for_load_state()


def add_filter(page, column: str):
    """Add Filter, then `column`, as a user does; returns the new filter row.

    The page's scripts (FAB's filters, panel.js's pickers) must have run first: a
    click on a filter link before then adds nothing."""
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Add Filter").click()
    page.locator("a.filter", has_text=column).click()
    row = page.locator("#filter_form table.filters tr").filter(
        has=page.locator("a.remove-filter", has_text=column)
    )
    expect(row).to_be_visible()
    return row


def cells(page, column: str):
    """The cells of the list's column headed `column`."""
    expect(page.locator("table.table-bordered thead th").first).to_be_attached()
    headers = page.locator("table.table-bordered thead th").all_inner_texts()
    assert column in [h.strip() for h in headers], headers
    index = [h.strip() for h in headers].index(column)
    return page.locator(f"table.table-bordered tbody tr td:nth-child({index + 1})")


def sign_out(page) -> None:
    """The user menu's Logout (a POST with the CSRF token): back on the sign-in page."""
    page.locator(".navbar-right .dropdown-toggle").click()
    page.get_by_role("button", name="Logout").click()
    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def expired_emails(page, n: int) -> list[str]:
    """Licenses → Expired Licenses; the first `n` addresses listed."""
    page.get_by_role("link", name="Licenses").first.click()
    page.get_by_role("tab", name="Expired Licenses").click()
    expect(page).to_have_url(re.compile(r"/licenses/expired/"))
    page.wait_for_load_state()
    cells = page.locator("table.table-bordered tbody tr td").all_inner_texts()
    emails = [c.strip() for c in cells if "@" in c][:n]
    assert len(emails) == n
    return emails


# Runs on every page: the problems a screen-reader user or a tester would hit.
A11Y_SCRIPT = """
window.addEventListener('DOMContentLoaded', () => {
  const problems = [];
  if (!document.title.trim()) problems.push('the page has no title');
  const named = (el) => {
    if ((el.getAttribute('aria-label') || '').trim()) return true;
    const by = el.getAttribute('aria-labelledby');
    if (by && by.split(' ').some(id => (document.getElementById(id)?.textContent || '').trim()))
      return true;
    if ((el.getAttribute('title') || '').trim()) return true;
    if (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)) return true;
    if (el.closest('label')) return true;
    if (el.tagName === 'BUTTON') return !!el.textContent.trim();
    if (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type))
      return !!(el.value || '').trim();
    return !!(el.getAttribute('placeholder') || '').trim();
  };
  for (const el of document.querySelectorAll('input, select, textarea, button')) {
    if (el.type === 'hidden' || el.closest('[hidden]')) continue;
    if (!named(el)) problems.push(`${el.tagName.toLowerCase()}[name=${el.name || ''}]` +
                                  `#${el.id || ''} has no accessible name`);
  }
  for (const p of problems) console.error('A11Y ' + location.pathname + ': ' + p);
});
"""


@pytest.fixture
def page(page, request):
    """The browser page, watched: accessibility problems and console errors fail the
    test; a failed test leaves test-artifacts/<test>.png and .html (pytest-playwright
    empties test-results/ at every start)."""
    problems: list[str] = []
    page.add_init_script(A11Y_SCRIPT)
    for script in axe.scripts():
        page.add_init_script(script)
    page.on("console", lambda msg: _console(problems, msg))
    page.on("requestfailed", lambda req: _note_failed(problems, req))
    yield page
    axe.finish(page)
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        out = ROOT / "test-artifacts"
        out.mkdir(exist_ok=True)
        name = request.node.name.replace("/", "_")
        page.screenshot(path=str(out / f"{name}.png"), full_page=True)
        (out / f"{name}.html").write_text(page.content())
    assert not problems, "\n".join(problems)


def _console(problems: list[str], msg) -> None:
    if msg.type == "info" and msg.text.startswith(axe.PREFIX):
        problems.extend(axe.take(msg.text))
    elif msg.type == "error":
        _note(problems, msg.text)


def _note(problems: list[str], text: str) -> None:
    # A 403/404 page asked for on purpose logs its status as a console error.
    if "status of 403" in text or "status of 404" in text:
        return
    problems.append(text)


def _note_failed(problems: list[str], request) -> None:
    # A click that navigates away cancels what the old page was still loading
    # (net::ERR_ABORTED); the user sees the new page, nothing failed for them.
    if "ERR_ABORTED" in (request.failure or ""):
        return
    problems.append(f"request failed: {request.url} ({request.failure})")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
