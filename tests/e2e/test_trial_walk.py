"""The Free Trial's walk (issue 18), in Chromium against the live stack: an account
manager creates a customer with a trial (and, separately, one with a PO-numbered
order), adds its manager and learners (licensed by the trial as they are added);
time passes (the clock moved for every process) and the worker sends the *Free
Trial Expiry* email; its manager opens Upgrade Now (no login) and presses it; the
request appears in Requested Orders; the account manager assigns it; the same
people now hold Premium seats. (Runs after test_time_passes: it moves the clock
27 days.)"""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    cells,
    clock_offset_hours,
    shift_clock,
    sign_in,
    sign_out,
    wait_for_mail,
)
from tests.e2e.test_manage_mode import assign_requested, manage

pytestmark = pytest.mark.browser

COMPANY = "Trial Walk Gym"
MANAGER = "gym.manager@trialwalk.example"
PEOPLE = [("Cora", "Abbott"), ("Dan", "Baxter"), ("Eve", "Carver")]


def add_company(page, live_server, name: str, **fields) -> None:
    page.goto(f"{live_server}/companies/add")
    page.fill("#name", name)
    page.select_option("#kind", "customer", force=True)
    page.select_option("#parent", label="Northwind MSP", force=True)
    for field, value in fields.items():
        page.fill(f"#{field}", value)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".alert-success")).to_contain_text("Saved")


def test_a_trial_customer_upgrades_and_keeps_its_people(page, live_server, live_env, mail):
    sign_in(page, live_server, "partner")
    add_company(page, live_server, "PO Walk Dental", quantity="12", po_number="PO-WALK-7")
    page.goto(f"{live_server}/orders/section/requested?q=PO-WALK-7")
    expect(page.locator("table.table-bordered tbody tr")).to_have_count(1)
    expect(page.locator("table.table-bordered tbody")).to_contain_text("PO Walk Dental")
    add_company(page, live_server, COMPANY, trial_seats="5")
    page.goto(f"{live_server}/companies/list/?q=Trial+Walk")
    expect(cells(page, "Plan")).to_have_text(["Free Trial"])

    manage(page, COMPANY)
    page.goto(f"{live_server}/managers/add")
    page.select_option("#company", label=COMPANY, force=True)
    page.fill("#username", "gymmanager")
    page.fill("#first_name", "Gina")
    page.fill("#last_name", "Manager")
    page.fill("#email", MANAGER)
    page.fill("#password", "a long walk password 2026")
    page.fill("#conf_password", "a long walk password 2026")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".alert-success")).to_be_visible()
    for first, last in PEOPLE:
        page.goto(f"{live_server}/learners/add")
        page.select_option("#company", label=COMPANY, force=True)
        page.fill("#email", f"{first.lower()}@trialwalk.example")
        page.fill("#first_name", first)
        page.fill("#last_name", last)
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".alert-success")).to_be_visible()
    page.goto(f"{live_server}/licenses/allocated/list/")
    expect(page.locator("table.table-bordered tbody tr")).to_have_count(3)
    expect(cells(page, "Type")).to_have_text(["Free Trial"] * 3)
    sign_out(page)

    # Three days before the trial ends (whatever the clock said when it started).
    shift_clock(live_env, clock_offset_hours(live_env) + 27 * 24 + 1)
    expiry = wait_for_mail(
        mail.mailbox,
        lambda box: [
            m
            for m in box.to(MANAGER)
            if m["Subject"] == "Security Awareness Training – Free Trial Expiry"
        ],
        what="the Free Trial Expiry email",
    )
    body = expiry[0].get_payload(decode=True).decode()
    link = re.search(r"Upgrade Now: (\S+)", body).group(1)
    assert "Abbott" in body and "Carver" in body

    page.goto(link)  # no login
    expect(page.locator("h1")).to_have_text(f"Upgrade {COMPANY} to Premium")
    expect(page.locator("body")).to_contain_text("covers 3 people")
    page.get_by_role("button", name="Upgrade Now").click()
    expect(page.locator("[data-upgrade=requested]")).to_contain_text("3 Premium licenses")
    number = re.search(r"order #(\d+)", page.content()).group(1)
    page.goto(link)  # once only
    expect(page.locator("[data-upgrade=refused]")).to_contain_text("awaits")

    sign_in(page, live_server, "partner")
    assign_requested(page, number)
    manage(page, COMPANY)
    page.goto(f"{live_server}/licenses/allocated/list/")
    expect(cells(page, "Type")).to_have_text(["Premium"] * 3)
    expect(page.locator("table.table-bordered tbody")).to_contain_text("Abbott")
    expect(page.locator("table.table-bordered tbody")).to_contain_text("Carver")
    # Many scheduler rounds later: the step went once.
    subjects = [m["Subject"] for m in mail.mailbox.to(MANAGER)]
    assert subjects.count("Security Awareness Training – Free Trial Expiry") == 1, subjects
