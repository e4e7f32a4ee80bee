"""Each demo user signs in through the login page and sees its role's menus."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in, sign_out

pytestmark = pytest.mark.browser

PARTNER_MENU = {"Admin Dashboard", "Company", "Renewals", "Users", "Learners"}
CUSTOMER_HIDDEN = {"Company", "Renewals", "Security"}
MENUS = {
    "admin": ({*PARTNER_MENU, "Security"}, set()),
    "partner": (PARTNER_MENU, {"Security"}),
    "subpartner": (PARTNER_MENU, {"Security"}),
    "customer": ({"Admin Dashboard", "Users", "Learners"}, CUSTOMER_HIDDEN),
    "customer2": ({"Admin Dashboard", "Users", "Learners"}, CUSTOMER_HIDDEN),
}


@pytest.mark.parametrize("username", list(MENUS))
def test_each_demo_user_lands_on_the_dashboard_with_its_menus(page, live_server, username):
    shown, hidden = MENUS[username]
    sign_in(page, live_server, username)
    assert page.locator("h1").inner_text() == "Admin Dashboard"
    menu = {
        t.strip()
        for t in page.locator("ul.nav.navbar-nav").first.locator("> li > a").all_inner_texts()
    }
    assert shown <= menu, menu
    assert not hidden & menu, menu
    # A laptop's 1366 px: the whole menu on one line, beside the brand (no wrap).
    page.set_viewport_size({"width": 1366, "height": 768})
    tops = page.evaluate(
        """() => [...document.querySelectorAll('.navbar .navbar-brand, .navbar-nav > li')]
             .filter(e => e.offsetParent).map(e => e.getBoundingClientRect().top)"""
    )
    assert max(tops) - min(tops) < 10, tops


def test_a_customer_manager_is_refused_the_company_screen(page, live_server):
    sign_in(page, live_server, "customer")
    response = page.goto(f"{live_server}/companies/list/")
    assert response.status == 403
    assert "Not allowed" in page.content()


def test_the_panels_address_signed_out_opens_the_sign_in_page_quietly(page, live_server):
    page.goto(f"{live_server}/")
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_role("button", name="Sign In")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Access is Denied")


def test_the_dashboards_figures_open_the_lists_they_count(page, live_server):
    sign_in(page, live_server, "partner")
    tile = page.locator('[data-count="customers"]')
    customers = int(tile.inner_text().replace(",", ""))
    tile.click()
    expect(page).to_have_url(re.compile(r"/companies/list/\?_flt_\d+_kind=customer"))
    expect(page.locator("table.table-bordered tbody tr")).to_have_count(customers)

    sign_out(page)
    sign_in(page, live_server, "customer")
    expired = page.locator('[data-seats="expired"]').inner_text()
    page.locator('[data-seats="expired"]').click()
    expect(page).to_have_url(re.compile(r"/licenses/expired/list/"))
    expect(page.locator('[data-seats="expired"]')).to_have_text(expired)
