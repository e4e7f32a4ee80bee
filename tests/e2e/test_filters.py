"""Add Filter as the guide says (issue 16, point 2), clicked: the quick search, a
status chosen from a dropdown, the active filters as chips, one removed."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import add_filter, cells, sign_in

pytestmark = pytest.mark.browser


def test_quick_search_a_status_dropdown_and_removable_chips(page, live_server):
    sign_in(page, live_server, "partner")
    page.get_by_role("link", name="Licenses").first.click()
    page.get_by_role("link", name="All", exact=True).click()
    expect(page).to_have_url(re.compile("/orders/list/"))

    page.get_by_label("Search by order number, PO number or company").fill("acme")
    page.get_by_label("Search by order number, PO number or company").press("Enter")
    expect(page).to_have_url(re.compile(r"q=acme"))
    rows = page.locator("table.table-bordered tbody tr")
    expect(rows.first).to_be_visible()
    for company in cells(page, "Company").all_inner_texts():
        assert company == "Acme Dental"

    add_filter(page, "Status")
    page.get_by_label("Value for Status").select_option(label="Assigned")
    page.locator("#filter_form").get_by_role("button", name="Search").click()
    chips = page.locator(".filter-chip")
    expect(chips).to_have_text(["Search: acme", "Status is Assigned"], use_inner_text=True)
    for status in cells(page, "Status").all_inner_texts():
        assert status in ("Assigned", "Expired")  # an assigned order past its term

    page.get_by_role("link", name="Remove filter: Search: acme").click()
    expect(chips).to_have_text(["Status is Assigned"], use_inner_text=True)
    expect(page).not_to_have_url(re.compile(r"q=acme"))
    expect(page.locator("table.table-bordered")).to_contain_text("Globex Legal")
