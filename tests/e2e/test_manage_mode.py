"""The guide's round trip, clicked: Company → select the customer → Actions →
Manage Company → Licenses → Orders → Request Licenses → Save → Exit Manager Mode →
Licenses → Requested Orders → three dots → Assign → Manage Company again."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.browser


def manage(page, company: str) -> None:
    page.locator("ul.nav.navbar-nav > li > a", has_text="Company").first.click()
    page.wait_for_load_state()  # the Actions menu's script binds when the page is ready
    row = page.locator("tr", has_text=company)
    row.locator("input.action_check").check()
    page.get_by_role("button", name="Actions", exact=True).click()
    page.get_by_role("link", name="Manage Company").click()
    expect(page.locator(".manage-banner")).to_contain_text(company)


def assign_requested(page, number: str) -> None:
    """Licenses → Requested Orders → the order's three dots → Assign."""
    page.get_by_role("link", name="Licenses").first.click()
    page.get_by_role("link", name="Requested Orders").click()
    row = page.locator(f'tr[data-pk="{number}"]')
    row.get_by_role("button", name=f"Actions for row {number}").click()
    row.get_by_role("link", name="Assign").click()
    page.get_by_role("button", name="Assign 1 order").click()
    expect(page.locator("body")).to_contain_text(f"Assigned 1 order: #{number}")


def test_request_in_manage_mode_exit_assign_and_come_back(page, live_server):
    sign_in(page, live_server, "partner")
    manage(page, "Globex Legal")
    expect(page.locator(".manage-banner")).to_contain_text("Northwind MSP")
    page.get_by_role("link", name="Licenses").first.click()
    page.get_by_role("link", name="Request Licenses").click()
    page.get_by_label("Number of licenses").fill("44")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("body")).to_contain_text("Requested 44 Premium licenses")
    number = re.search(r"order #(\d+)", page.content()).group(1)
    row = page.locator(f'tr[data-pk="{number}"]')
    expect(row).to_contain_text("Globex Legal")
    expect(row.get_by_role("button", name=re.compile("Actions for row"))).to_have_count(1)

    page.get_by_role("button", name="Exit Manager Mode").click()
    expect(page.locator("body")).to_contain_text("You left Manager Mode.")
    expect(page.locator(".manage-banner")).to_have_count(0)
    assign_requested(page, number)

    manage(page, "Globex Legal")
    page.get_by_role("link", name="Licenses").first.click()
    expect(page.locator(f'tr[data-pk="{number}"]')).to_contain_text("Assigned")


def test_the_trash_button_asks_then_explains_why_a_company_stays(page, live_server):
    sign_in(page, live_server, "partner")
    page.locator("ul.nav.navbar-nav > li > a", has_text="Company").first.click()
    page.wait_for_load_state()
    row = page.locator("tr", has_text="Umbrella Clinics")
    row.get_by_role("link", name="Delete").click()
    expect(page.locator("#modal-confirm")).to_contain_text("Are you sure")
    page.locator("#modal-confirm-ok").click()
    expect(page.locator("body")).to_contain_text("'Umbrella Clinics' cannot be deleted while")
    expect(page.locator("tr", has_text="Umbrella Clinics")).to_have_count(1)  # on the list


def test_a_refused_bulk_action_comes_back_to_the_list_with_the_reason(page, live_server):
    sign_in(page, live_server, "partner")
    page.goto(f"{live_server}/companies/list/?_flt_2_name=l")  # a filter (contains), kept
    page.wait_for_load_state()
    page.get_by_role("button", name="Actions", exact=True).click()
    page.get_by_role("link", name="Manage Company").click()  # nothing ticked
    expect(page.locator("#modal-alert")).to_contain_text("Select at least one company first.")
    page.locator("#modal-alert").get_by_role("button", name="OK").click()
    for company in ("Acme Dental", "Globex Legal"):
        page.locator("tr", has_text=company).locator("input.action_check").check()
    page.get_by_role("button", name="Actions", exact=True).click()
    page.get_by_role("link", name="Manage Company").click()
    expect(page.locator("body")).to_contain_text("Choose one company to manage.")
    expect(page).to_have_url(re.compile(r"/companies/list/\?_flt_2_name=l$"))
    expect(page.locator(".manage-banner")).to_have_count(0)
