"""Reminder schedules in the browser (issue 19), against the live stack: a
sub-partner's account manager gives its subtree a 30-day step; the clock moves
(`flask clock shift`, every process) and the 30-day reminder reaches the customer
under it once; the demo's skipped step (everyone renewed by an assigned renewal
request) shows on the Emails page with its reason and was never sent; a reminder
whose company has a request waiting names it. (Runs last: it moves the clock
months ahead.)"""

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from tests.e2e.conftest import shift_clock, sign_in, sign_out, wait_for_mail

pytestmark = pytest.mark.browser

INITECH = "customer2@demo.example"


def initech_expiry(live_env) -> datetime:
    """The latest expiry of Initech Accounting's running licenses (its 20 people)."""
    engine = create_engine(live_env["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            value = connection.execute(
                text(
                    "SELECT MAX(l.expires_at) FROM licenses l JOIN companies c "
                    "ON c.id = l.company_id WHERE c.name = 'Initech Accounting' "
                    "AND l.ended_at IS NULL"
                )
            ).scalar()
    finally:
        engine.dispose()
    value = datetime.fromisoformat(value) if isinstance(value, str) else value
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_a_30_day_step_arrives_once_and_skips_show_why(page, live_server, live_env, mail):
    sign_in(page, live_server, "subpartner")
    page.goto(f"{live_server}/companies/list/?q=Northwind+West")  # its own row only
    row = page.locator("table.table-bordered tbody tr", has_text="Northwind West")
    row.get_by_role("button", name=re.compile("Actions for row")).click()
    row.get_by_role("link", name="Reminder schedule").click()
    expect(page.locator("[data-schedule-source]")).to_contain_text(
        "uses the schedule of Northwind MSP"
    )
    for i, (amount, unit, anchor) in enumerate(
        [("30", "days", "before"), ("0", "days", "after"), ("", "days", "before")]
    ):
        page.get_by_label(f"Step {i + 1}: amount (0: on the day)").fill(amount)
        page.get_by_label(f"Step {i + 1}: unit").select_option(unit)
        page.get_by_label(f"Step {i + 1}: before or after").select_option(anchor)
    page.get_by_role("button", name="Save schedule").click()
    expect(page.locator(".alert-success")).to_contain_text(
        "Saved the reminder schedule of Northwind West."
    )
    expect(page.locator("[data-schedule-steps]")).to_contain_text("30 days before")
    sign_out(page)

    due = initech_expiry(live_env) - timedelta(days=30) + timedelta(minutes=30)
    shift_clock(live_env, (due - datetime.now(UTC)).total_seconds() / 3600)

    def thirty_days(box):
        return [
            m
            for m in box.to(INITECH)
            if re.fullmatch(r"\d+ licenses for Initech Accounting expire on .+", m["Subject"])
            and "expire in 29 days" in m.get_content()
        ]

    wait_for_mail(mail.mailbox, thirty_days, what="Initech's 30-day reminder")
    time.sleep(5)  # more scheduler rounds: it may not come twice
    assert len(thirty_days(mail.mailbox)) == 1

    # The demo's Globex Legal step: skipped, with why, and never sent to anyone.
    sign_in(page, live_server, "partner")
    page.goto(f"{live_server}/emails/list/?q=Globex")
    skipped = page.locator("table.table-bordered tbody tr", has_text="Skipped").first
    expect(skipped).to_contain_text("hold a license beyond")
    expect(skipped).to_contain_text("Globex Legal")
    assert not [m for m in mail.mailbox.messages if "Globex Legal expire" in m["Subject"]]
    # Acme Dental's reminders name its request waiting for approval.
    acme = [
        m
        for m in mail.mailbox.to("customer@demo.example")
        if "licenses for Acme Dental expire on" in m["Subject"]
    ]
    assert acme and all("awaits approval" in m.get_content() for m in acme)
