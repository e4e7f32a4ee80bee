"""Select All at a customer with 20,000 expired learners: selection mode and the
list's filters survive each other, and Select All says and takes exactly what the
filter matches; then too few seats for everyone left, which is not a dead end."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    BIG_CLINIC_NURSES,
    BIG_CLINIC_PEOPLE,
    BIG_CLINIC_SEATS,
    sign_in,
)
from tests.e2e.test_manage_mode import manage

pytestmark = pytest.mark.browser


def search(page) -> None:
    """Apply the filters as they are (the search form's Search button)."""
    page.locator("#filter_form").get_by_role("button", name="Search").click()


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
    expect(page.locator("body")).to_contain_text(f"Allocated {nurses} licenses")


def test_too_few_seats_allocates_the_free_ones_to_the_first_as_listed(
    page, live_server, big_clinic
):
    """After the nurses (previous test): the other people, more than the free seats."""
    sign_in(page, live_server, "partner2")
    manage(page, big_clinic)
    page.goto(f"{live_server}/licenses/expired/list/?select=manual")
    left = BIG_CLINIC_PEOPLE - BIG_CLINIC_NURSES
    free = BIG_CLINIC_SEATS - BIG_CLINIC_NURSES
    page.get_by_role("button", name=re.compile("Select All")).click()
    expect(page.locator('[data-plan="size"]')).to_have_text(f"{left:,}")
    expect(page.locator('[data-plan="problem"]')).to_have_text(
        f"{left:,} selected, {free:,} seats free: request {left - free:,} more licenses."
    )
    expect(page.locator('[data-plan="first"]')).to_contain_text(
        f"the first {free:,} people as listed below (by last name, then first name)"
    )
    members = page.locator("table.selection-members tbody tr")
    first_listed = members.first.locator("td").nth(1).inner_text()  # an email

    page.get_by_role("link", name=f"Request {left - free:,} more").click()
    expect(page.get_by_label("Number of licenses")).to_have_value(str(left - free))
    page.go_back()

    page.get_by_role("button", name=f"Allocate {free:,} now").click()
    expect(page.locator("body")).to_contain_text(f"Allocated {free:,} licenses")
    page.goto(f"{live_server}/licenses/allocated/list/?q={first_listed}")
    expect(page.locator("table.table-bordered tbody tr")).to_have_count(1)
    last_listed = f"person{BIG_CLINIC_PEOPLE - 1}@"  # No19999: last by last name, still expired
    page.goto(f"{live_server}/licenses/expired/list/?q={last_listed}")
    expect(page.locator("table.table-bordered tbody tr")).to_have_count(1)
    expect(page.locator('[data-seats="expired"]')).to_have_text(f"{left - free:,}")
    expect(page.locator('[data-seats="free"]')).to_have_text("0")
