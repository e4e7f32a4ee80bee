"""Renewals, clicked (issue 17, first part): from the dashboard's Expired tile to
Renewals (the companies it sums, largest first), sorting, a range, the menu entry,
and a figure opening that company's tab in Manager Mode."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.browser


def expired_figures(page) -> list[int]:
    cells = page.locator('table.renewals tbody [data-figure="expired"]').all_inner_texts()
    return [int(t.replace(",", "")) for t in cells]


def test_the_dashboard_draws_its_charts_and_lists_what_needs_action(page, live_server):
    sign_in(page, live_server, "partner")
    for chart in ("expiring-chart", "position-chart"):
        drawn = page.evaluate(f"() => !!Chart.getChart(document.getElementById('{chart}'))")
        assert drawn, chart  # drawn by the shipped Chart.js, no console error (conftest)
    page.get_by_text("The numbers").first.click()
    months = page.locator('[data-table="expiring"] tbody tr')
    expect(months).to_have_count(12)
    position = page.locator('[data-table="position"] tbody tr')
    expect(position.filter(has_text="Expired")).to_contain_text(
        page.locator('[data-seats="expired"]').inner_text()
    )
    needs = page.locator("ul.needs-action")
    expect(needs.locator("[data-needs]").first).to_be_visible()
    needs.locator('[data-needs="unrequested"] a').click()  # the demo's Globex Legal, at least
    expect(page).to_have_url(
        re.compile(r"min_expiring_30=1.*max_open_requests=0|max_open_requests=0.*min_expiring_30=1")
    )


def test_from_the_dashboard_tile_to_the_companys_expired_licenses(page, live_server):
    sign_in(page, live_server, "partner")
    total = int(page.locator('[data-seats="expired"]').inner_text().replace(",", ""))
    page.locator('[data-seats="expired"]').click()
    expect(page).to_have_url(re.compile(r"/renewals/\?.*min_expired=1"))
    expect(page.locator("h1")).to_have_text("Renewals")
    shown = expired_figures(page)
    assert shown == sorted(shown, reverse=True) and all(n >= 1 for n in shown)
    assert sum(shown) == total  # the tile's sum, company by company

    page.get_by_role("link", name="Expired", exact=True).click()  # the other way round
    expect(page).to_have_url(re.compile(r"dir=asc"))
    shown = expired_figures(page)
    assert shown == sorted(shown)

    page.locator("ul.navbar-nav a", has_text="Renewals").first.click()  # the menu entry
    page.get_by_label("Search by company name").fill("initech")
    page.get_by_label("Search by company name").press("Enter")
    row = page.locator("table.renewals tbody tr").filter(has_text="Initech Accounting")
    expect(page.locator("table.renewals tbody tr")).to_have_count(1)
    expired = row.locator('[data-figure="expired"]').inner_text()
    row.get_by_role("button", name=re.compile(r"^Expired at Initech Accounting")).click()
    expect(page).to_have_url(re.compile(r"/licenses/expired/list/"))
    expect(page.locator(".manage-banner")).to_contain_text("Initech Accounting")
    expect(page.locator('[data-seats="expired"]')).to_have_text(expired)
