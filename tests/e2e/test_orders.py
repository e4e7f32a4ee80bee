"""The guide's order steps, clicked in Chromium against the live panel.

Customer manager: Admin Dashboard → Licenses → Orders → Request Licenses → Save.
Account manager: Licenses → Orders → Requested Orders → three dots → Assign.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import add_filter, sign_in, sign_out, wait_for_mail

pytestmark = pytest.mark.browser
REQUESTED = "License Request Notification: 37 licenses for Acme Dental"
ASSIGNED = "License Assigned Notification: 37 licenses for Acme Dental"


def test_a_customer_requests_and_its_account_manager_assigns(page, live_server, mail):
    sign_in(page, live_server, "customer")
    page.get_by_role("link", name="Licenses").first.click()
    page.get_by_role("tab", name="Orders").click()
    page.get_by_role("link", name="Request Licenses").click()
    page.get_by_label("Number of licenses").fill("37")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("body")).to_contain_text("Requested 37 Premium licenses")
    order_number = re.search(r"order #(\d+)", page.content()).group(1)
    request_mail = wait_for_mail(
        mail.mailbox,
        lambda box: [m for m in box.to("partner@demo.example") if m["Subject"] == REQUESTED],
        what="the request email to the account manager",
    )
    assert f"/orders/show/{order_number}" in request_mail[0].get_payload()

    sign_out(page)
    sign_in(page, live_server, "partner")
    page.get_by_role("link", name="Licenses").first.click()
    page.get_by_role("link", name="Requested Orders").click()
    expect(page).to_have_url(re.compile(r"/orders/section/requested"))
    row = add_filter(page, "Company")  # in view, not folded away
    row.get_by_role("combobox", name="Type to search").click()  # the picker
    page.locator(".select2-search__field").fill("acme")
    page.get_by_role("option", name="Acme Dental").click()
    add_filter(page, "Quantity")
    page.get_by_label("Value for Quantity").fill("37")
    page.locator("#filter_form").get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"_flt_0_quantity=37"))
    expect(page).to_have_url(re.compile(r"_flt_0_company=\d+"))
    expect(page.locator("table.filters")).to_contain_text("Acme Dental")  # still chosen
    chips = page.locator(".filter-chip")
    expect(chips).to_have_text(["Company is Acme Dental", "Quantity is 37"], use_inner_text=True)
    expect(page.locator("table.table-bordered tbody tr")).to_have_count(1)
    row = page.locator(f'tr[data-pk="{order_number}"]')
    expect(row).to_contain_text("Acme Dental")
    expect(row).to_contain_text("37")
    row.get_by_role("button", name=f"Actions for row {order_number}").click()
    row.get_by_role("link", name="Assign").click()
    # What Assign will do, before it does it: quantity, company, expiry in its zone.
    preview = page.locator(f'table.assign-preview tr[data-order="{order_number}"]')
    expect(preview).to_contain_text("Acme Dental")
    expect(preview.locator('[data-assign="quantity"]')).to_have_text("37")
    expect(preview.locator('[data-assign="expires"]')).to_contain_text("Europe/London")
    page.get_by_role("button", name="Assign 1 order").click()
    expect(page.locator("body")).to_contain_text(f"Assigned 1 order: #{order_number}")
    expect(page).to_have_url(re.compile(r"_flt_0_quantity=37"))  # back on the filtered list
    wait_for_mail(
        mail.mailbox,
        lambda box: [m for m in box.to("customer@demo.example") if m["Subject"] == ASSIGNED],
        what="the assigned email to the customer's managers",
    )
    page.get_by_role("link", name="Assigned", exact=True).click()
    expect(page).to_have_url(re.compile(r"/orders/section/assigned"))
    expect(page.locator(f'tr[data-pk="{order_number}"]')).to_have_count(1)


def test_a_bad_quantity_is_explained_on_the_form(page, live_server):
    sign_in(page, live_server, "customer2")
    page.goto(f"{live_server}/orders/request")
    page.get_by_label("Number of licenses").fill("0")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("body")).to_contain_text(
        "Quantity must be a whole number from 1 to 10,000."
    )
