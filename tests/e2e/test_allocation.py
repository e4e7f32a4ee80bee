"""The guide's "Allocate Expired Licenses" step, clicked: Manage Company →
Licenses → Expired Licenses → Select users Manually → one by one → Allocate
Licenses; then Select All with too few seats (the numbers named, nothing changed),
a request and its assignment, and Select All with enough."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in
from tests.e2e.test_manage_mode import assign_requested, manage

pytestmark = pytest.mark.browser


def expired_tab(page):
    page.get_by_role("link", name="Licenses").first.click()
    page.get_by_role("tab", name="Expired Licenses").click()
    expect(page).to_have_url(re.compile(r"/licenses/expired/"))


def test_allocate_one_by_one_then_select_all(page, live_server):
    sign_in(page, live_server, "partner")
    manage(page, "Acme Dental")
    expired_tab(page)
    expired_before = int(page.locator('[data-seats="expired"]').inner_text())
    page.get_by_role("link", name="Select users Manually").click()
    rows = page.locator("table.table-bordered tbody tr")
    first, second = (rows.nth(i).locator("td").nth(3).inner_text() for i in (0, 1))
    rows.nth(0).locator("input.action_check").check()
    rows.nth(1).locator("input.action_check").check()
    page.get_by_role("button", name="Actions", exact=True).click()
    page.get_by_role("link", name="Allocate Licenses").click()
    expect(page.locator('[data-plan="size"]')).to_have_text("2")
    page.get_by_role("button", name=re.compile("Confirm: allocate 2 licenses")).click()
    expect(page.locator("body")).to_contain_text("Allocated 2 licenses")
    expect(page.locator("table.table-bordered")).to_contain_text(first)
    expect(page.locator("table.table-bordered")).to_contain_text(second)

    expired_tab(page)
    expect(page.locator('[data-seats="expired"]')).to_have_text(str(expired_before - 2))
    page.get_by_role("link", name="Select users Manually").click()
    page.get_by_role("button", name=re.compile("Select All")).click()
    expect(page.locator('[data-plan="size"]')).to_have_text(str(expired_before - 2))
    page.get_by_role("button", name=re.compile("Confirm: allocate")).click()
    expect(page.locator("body")).to_contain_text(f"Allocated {expired_before - 2:,} licenses")


def test_select_all_with_too_few_seats_names_the_numbers(page, live_server):
    sign_in(page, live_server, "partner2")
    manage(page, "Hooli Retail")
    expired_tab(page)
    expired = int(page.locator('[data-seats="expired"]').inner_text())
    page.get_by_role("link", name="Select users Manually").click()
    page.get_by_role("button", name=re.compile("Select All")).click()
    expect(page.locator('[data-plan="problem"]')).to_contain_text(
        f"{expired:,} selected, 0 seats free: request {expired:,} more licenses."
    )
    expect(page.locator("#allocate-first")).to_have_count(0)  # no seat to allocate now
    page.get_by_role("link", name="Back").click()
    expect(page).to_have_url(re.compile(r"/licenses/expired/list/\?.*select=manual"))
    expect(page.locator('[data-seats="expired"]')).to_have_text(str(expired))

    # Enough seats: Request N more (the number filled in), assign it, Select All again.
    page.get_by_role("button", name=re.compile("Select All")).click()
    page.get_by_role("link", name=f"Request {expired:,} more").click()
    expect(page.get_by_label("Number of licenses")).to_have_value(str(expired))
    page.get_by_role("button", name="Save").click()
    expect(page.locator("body")).to_contain_text(f"Requested {expired} Premium licenses")
    number = re.search(r"order #(\d+)", page.content()).group(1)
    page.get_by_role("button", name="Exit Manager Mode").click()  # assigning is a partner screen
    assign_requested(page, number)
    manage(page, "Hooli Retail")
    expired_tab(page)
    page.get_by_role("link", name="Select users Manually").click()
    page.get_by_role("button", name=re.compile("Select All")).click()
    expect(page.locator('[data-plan="size"]')).to_have_text(str(expired))
    page.get_by_role("button", name=re.compile("Confirm: allocate")).click()
    expect(page.locator("body")).to_contain_text(f"Allocated {expired:,} licenses")
    expired_tab(page)
    expect(page.locator('[data-seats="expired"]')).to_have_text("0")
