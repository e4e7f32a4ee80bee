"""Pages as people read them (issue 16, points 6 and 7): times in the company's
time zone with the zone shown, "Days left" in words, an order past its term reads
Expired, and names and order numbers open their page."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import cells, sign_in, sign_out

pytestmark = pytest.mark.browser

# Initech Accounting (customer2's company) keeps its time in Los Angeles.
PACIFIC = re.compile(r"^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d P[SD]T$")


def tab(page, name: str, path: str) -> None:
    page.get_by_role("tab", name=name).click()
    expect(page).to_have_url(re.compile(path))


def test_times_read_in_the_companys_zone_and_days_left_in_words(page, live_server):
    sign_in(page, live_server, "customer2")
    page.get_by_role("link", name="Licenses").first.click()
    tab(page, "Expired Licenses", "/licenses/expired/")
    days_left = cells(page, "Days left").all_inner_texts()
    assert days_left and all(re.fullmatch(r"expired \d+ days? ago", d) for d in days_left)
    assert all(PACIFIC.match(e) for e in cells(page, "Expiry").all_inner_texts())

    tab(page, "Unlicensed", "/licenses/unlicensed/")
    days_left = cells(page, "Days left").all_inner_texts()
    assert days_left and set(days_left) == {"never licensed"}

    # An order past its term reads Expired (not Assigned); its number opens it.
    tab(page, "Orders", "/orders/")
    page.get_by_role("link", name="All", exact=True).click()
    expect(page).to_have_url(re.compile("/orders/list/"))
    expired = page.locator("table.table-bordered tbody tr", has_text="Expired").first
    number = expired.get_attribute("data-pk")
    expired.get_by_role("link", name=f"#{number}").click()
    expect(page).to_have_url(re.compile(rf"/orders/show/{number}$"))
    expect(page.locator("body")).to_contain_text("Expired")
    expires = page.locator("th", has_text="Expires").locator("xpath=following-sibling::td")
    assert PACIFIC.match(expires.inner_text().strip())
    history = page.locator("table.order-history tbody tr td:first-child").all_inner_texts()
    assert history and all(PACIFIC.match(h) for h in history)


def test_names_open_their_page(page, live_server):
    sign_in(page, live_server, "customer2")
    page.get_by_role("link", name="Licenses").first.click()
    tab(page, "Unlicensed", "/licenses/unlicensed/")
    last_name = cells(page, "Last Name").first
    name = last_name.inner_text()
    last_name.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/learners/show/\d+$"))
    expect(page.locator("body")).to_contain_text(name)

    sign_out(page)
    sign_in(page, live_server, "partner")
    page.get_by_role("link", name="Company").first.click()
    page.get_by_role("link", name="Acme Dental", exact=True).click()
    expect(page).to_have_url(re.compile(r"/companies/show/\d+$"))
    expect(page.locator("h1, h2").first).to_be_visible()
    page.get_by_role("link", name="Licenses").first.click()
    page.get_by_role("link", name="All", exact=True).click()
    row = page.locator("table.table-bordered tbody tr", has_text="Globex Legal").first
    row.get_by_role("link", name="Globex Legal").click()
    expect(page).to_have_url(re.compile(r"/companies/show/\d+$"))
    expect(page.locator("body")).to_contain_text("Europe/Dublin")
