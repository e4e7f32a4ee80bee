"""Scenario 6 and 7 of the guide's walk: time passes through the application's
clock — the 72-hour reminder and the expiry-day notice arrive once each and the
learners appear under Expired Licenses — and another company's manager sees none
of it. (Runs after the other browser tests: it moves the live stack's clock.)"""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shift_clock, sign_in, sign_out, wait_for_mail

pytestmark = pytest.mark.browser

CUSTOMER = "customer@demo.example"


def expiry_mail(box, word):
    return [m for m in box.to(CUSTOMER) if f"licenses for Acme Dental {word} on" in m["Subject"]]


def test_the_reminder_and_the_notice_arrive_once_and_learners_expire_on_screen(
    page, live_server, live_env, mail
):
    # Acme Dental's demo licenses expiring within 72 hours: the scheduler's reminders.
    reminders = wait_for_mail(
        mail.mailbox, lambda box: expiry_mail(box, "expire"), what="the 72-hour reminder"
    )
    assert "/licenses/expired/list/" in reminders[0].get_payload()
    sign_in(page, live_server, "customer")
    page.get_by_role("link", name="Licenses").first.click()
    page.get_by_role("tab", name="Expired Licenses").click()
    before = int(page.locator('[data-seats="expired"]').inner_text())

    shift_clock(live_env, 80)  # three days and more later, for every process
    wait_for_mail(
        mail.mailbox, lambda box: len(expiry_mail(box, "expired")) >= 2, what="the expiry notices"
    )
    time.sleep(5)  # more scheduler rounds: nothing may arrive twice
    subjects = [m["Subject"] for m in mail.mailbox.to(CUSTOMER)]
    assert len(subjects) == len(set(subjects)), subjects
    page.reload()
    expect(page).to_have_url(re.compile(r"/licenses/expired/"))
    after = int(page.locator('[data-seats="expired"]').inner_text())
    assert after >= before + 20  # the 12 + 8 licenses that expired in those 72 hours
    notice = expiry_mail(mail.mailbox, "expired")[0].get_payload()
    first_person = re.search(r"  - (.+?) <", notice).group(1)
    expect(page.locator("table.table-bordered")).to_contain_text(first_person.split()[0])


def test_another_companys_manager_sees_none_of_it(page, live_server):
    sign_in(page, live_server, "customer")
    page.get_by_role("link", name="Learners").first.click()
    learner_url = page.locator("a[href*='/learners/show/']").first.get_attribute("href")
    page.get_by_role("link", name="Licenses").first.click()
    order_url = page.locator("a[href*='/orders/show/']").first.get_attribute("href")
    sign_out(page)
    sign_in(page, live_server, "partner2")
    for url in (learner_url, order_url):
        response = page.goto(f"{live_server}{url}")
        assert response.status == 404
        expect(page.locator("h1")).to_have_text("Not found")
    page.get_by_role("link", name="Licenses").first.click()
    expect(page.locator("body")).not_to_contain_text("Acme Dental")
