"""The main screens, photographed: Admin Dashboard, Company, Requested Orders,
Expired Licenses, the import review, the Emails page, Renewals, and Expired
Licenses on a phone. `make screenshots` runs this with `--screenshots-dir docs/screenshots` (the
pictures the README shows); in the suite it walks the same screens, checks each
shows its content and writes the pictures under test-artifacts/screenshots/."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, expired_emails, sign_in, sign_out
from tests.e2e.test_import import upload
from tests.imports import corpus

pytestmark = pytest.mark.browser


@pytest.fixture
def shoot(page, request):
    chosen = request.config.getoption("--screenshots-dir")
    folder = Path(chosen) if chosen else ROOT / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    def take(name: str) -> None:
        # The page, its images and its fonts, drawn (not "networkidle": a quiet
        # network is not a property of the page, and Playwright advises against it).
        page.wait_for_load_state("load")
        page.evaluate("document.fonts.ready.then(() => true)")
        page.screenshot(path=str(folder / f"{name}.png"))

    return take


def test_the_main_screens(page, live_server, shoot, tmp_path):
    sign_in(page, live_server, "partner")
    expect(page.locator("h1")).to_contain_text("Admin Dashboard")
    shoot("1-admin-dashboard")

    page.locator("ul.nav.navbar-nav > li > a", has_text="Company").first.click()
    expect(page.locator("table.table-bordered")).to_contain_text("Acme Dental")
    shoot("2-company")

    page.get_by_role("link", name="Licenses").first.click()
    page.get_by_role("link", name="Requested Orders").click()
    expect(page).to_have_url(re.compile(r"/orders/section/requested"))
    expect(page.locator("table.table-bordered tbody tr").first).to_contain_text("Requested")
    shoot("3-requested-orders")

    page.locator(".navbar a", has_text="Emails").first.click()
    expect(page.locator("table.table-bordered")).to_contain_text("License")
    shoot("6-emails")

    page.locator("ul.navbar-nav a", has_text="Renewals").first.click()
    expect(page.locator("table.renewals")).to_contain_text("Acme Dental")
    shoot("8-renewals")

    sign_out(page)
    sign_in(page, live_server, "customer2")
    emails = expired_emails(page, 4)
    shoot("4-expired-licenses")

    rows = [
        ["Initech staff to renew"],
        ["Full name", "Work Email"],
        *[[f"Person {i}", e] for i, e in enumerate(emails)],
        ["Nobody", "nobody@initech.example"],
    ]
    path = corpus.write(tmp_path, "renew.xlsx", corpus.xlsx_bytes({"Staff": rows}))
    upload(page, path, email_column="1")
    page.get_by_role("button", name="Review").click()
    expect(page.locator('[data-review="taken"]')).to_have_text(str(len(emails)))
    shoot("5-import-review")

    # A phone (390 px wide): Expired Licenses, the renewal work list.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/licenses/expired/list/")
    expect(page.locator("h1")).to_contain_text("Licenses")
    shoot("7-phone-expired-licenses")
