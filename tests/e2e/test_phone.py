"""The panel on a phone (390 × 844): no page scrolls sideways — Dashboard, Company,
Requested Orders, Expired Licenses, the upload and the import review; wide tables
scroll inside their own box, their row menus still reachable."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in
from tests.e2e.test_manage_mode import manage

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


# What sticks out, for the failure message (a wide table's own scroll box aside).
WIDER = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 391 && !e.closest('div.table-responsive'))
  .slice(0, 6).map(e => e.tagName + '.' + e.className)"""


def test_no_page_scrolls_sideways_on_a_phone(page, live_server, tmp_path):
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "partner")
    walked = {}
    for path in ("/", "/companies/list/", "/orders/section/requested"):
        page.goto(f"{live_server}{path}")
        walked[path] = (page_width(page), page.evaluate(WIDER))
    page.set_viewport_size({"width": 1280, "height": 900})  # the Actions menu, then back
    manage(page, "Acme Dental")
    page.set_viewport_size(PHONE)
    for path in ("/licenses/expired/list/", "/imports/renewal/upload"):
        page.goto(f"{live_server}{path}")
        walked[path] = (page_width(page), page.evaluate(WIDER))
    # The import review, from a file with a long address (reviewed, not renewed).
    sheet = tmp_path / "renew.csv"
    sheet.write_text("Email\nsomebody.with.a.rather.long.address@acme-dental.example.com\n")
    page.get_by_label("Add your User spreadsheet file").set_input_files(str(sheet))
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("button", name="Review").click()
    expect(page.locator('[data-review="not_taken"]')).to_have_text("1")
    walked["import review"] = (page_width(page), page.evaluate(WIDER))
    expect(page.get_by_role("button", name="Exit Manager Mode")).to_be_in_viewport()
    page.goto(f"{live_server}/licenses/allocated/list/")
    row = page.locator("table.table-bordered tbody tr").first
    row.scroll_into_view_if_needed()
    expect(row.locator("input.action_check")).to_be_visible()  # rows reachable in their box
    wide = {path: seen for path, seen in walked.items() if seen[0] > PHONE["width"]}
    assert not wide, wide
