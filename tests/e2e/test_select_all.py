"""Select All at a customer with 20,000 expired learners: selection mode and the
list's filters survive each other, and Select All says and takes exactly what the
filter matches."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import BIG_CLINIC_NURSES, sign_in
from tests.e2e.test_manage_mode import manage

pytestmark = pytest.mark.browser


def search(page) -> None:
    """Apply the filters as they are (the search form's Search button)."""
    form = page.locator("#filter_form")
    if not form.get_by_role("button", name="Search").is_visible():
        page.locator("a[data-toggle=collapse]", has_text="Search").click()
    form.get_by_role("button", name="Search").click()


def test_select_all_keeps_the_filter_and_takes_exactly_what_it_matches(
    page, live_server, big_clinic
):
    sign_in(page, live_server, "partner2")
    manage(page, big_clinic)
    page.goto(f"{live_server}/licenses/expired/list/?_flt_0_department=Nursing")
    page.get_by_role("link", name="Select users Manually").click()
    expect(page).to_have_url(re.compile(r"_flt_0_department=Nursing"))  # the filter kept
    expect(page).to_have_url(re.compile(r"select=manual"))
    nurses = f"{BIG_CLINIC_NURSES:,}"
    expect(page.get_by_role("button", name=re.compile("Select All"))).to_contain_text(
        f"all {nurses} matching"
    )

    search(page)  # a filter applied in selection mode keeps the mode
    expect(page).to_have_url(re.compile(r"select=manual"))
    expect(page).to_have_url(re.compile(r"_flt_0_department=Nursing"))
    page.get_by_role("button", name=re.compile("Select All")).click()
    expect(page.locator('[data-plan="size"]')).to_have_text(nurses)
    page.get_by_role("button", name=re.compile("Confirm: allocate")).click()
    expect(page.locator("body")).to_contain_text(f"Allocated {nurses:,} licenses")
