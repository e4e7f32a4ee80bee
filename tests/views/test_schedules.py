"""The Reminder schedule screen (issue 19): every manager sees its company's
effective schedule and where it comes from; account managers edit their own and
their companies'; a bad step is named and changes nothing; nobody reaches another
tenant's schedule."""

import pytest
from sqlalchemy import func, select

from app.models import ReminderSchedule
from app.services import schedules


def save(client, pk, *rows):
    data = {"csrf_token": client.csrf}
    for i, (amount, unit, anchor) in enumerate(rows):
        data |= {f"amount-{i}": amount, f"unit-{i}": unit, f"anchor-{i}": anchor}
    return client.post(f"/schedules/{pk}", data=data, follow_redirects=True)


def test_an_account_manager_sets_its_subtree_default(tree, as_user, session):
    client = as_user(tree.users["partner"])
    page = client.get(f"/schedules/{tree.partner.id}").get_data(as_text=True)
    assert "uses the platform default" in page and "72 hours before" in page
    done = save(
        client,
        tree.partner.id,
        ("30", "days", "before"),
        ("72", "hours", "before"),
        ("0", "days", "after"),
    ).get_data(as_text=True)
    assert "Saved the reminder schedule of Partner P." in done
    below = client.get(f"/schedules/{tree.sub_customer.id}").get_data(as_text=True)
    assert "uses the schedule of <strong>Partner P</strong>" in below
    assert "30 days before" in below and "Licenses expire in 30 days" in below
    client.post(f"/schedules/{tree.partner.id}/clear", data={"csrf_token": client.csrf})
    assert schedules.effective(tree.sub_customer.id).source is None


def test_a_bad_step_is_named_and_changes_nothing(tree, as_user, session):
    client = as_user(tree.users["partner"])
    page = save(client, tree.partner.id, ("3", "days", "before"), ("72", "hours", "before"))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "are the same step" in text
    assert 'value="3"' in text  # the form keeps what was typed
    page = save(client, tree.partner.id, ("soon", "days", "before"))
    assert "whole number of days or hours" in page.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ReminderSchedule)) == 0


def test_a_customer_manager_sees_its_schedule_and_cannot_change_it(tree, as_user, session):
    schedules.set_schedule(
        tree.actor("partner"), tree.partner.id, [("after-0", "company_managers")]
    )
    session.commit()
    client = as_user(tree.users["customer"])
    page = client.get(f"/schedules/{tree.customer.id}").get_data(as_text=True)
    assert "uses the schedule of <strong>Partner P</strong>" in page and "Save schedule" not in page
    assert "Reminder schedule" in client.get("/emails/list/").get_data(as_text=True)
    response = client.post(
        f"/schedules/{tree.customer.id}",
        data={"csrf_token": client.csrf, "amount-0": "7", "unit-0": "days", "anchor-0": "before"},
    )
    assert response.status_code == 403
    assert schedules.effective(tree.customer.id).keys == ["after-0"]


@pytest.mark.parametrize("attacker", ["other_partner", "sub", "customer", "sub_customer"])
def test_nobody_reaches_another_tenants_schedule(tree, as_user, session, attacker):
    foreign = {
        "other_partner": tree.customer,
        "sub": tree.customer,
        "customer": tree.sub_customer,
        "sub_customer": tree.customer,
    }[attacker]
    client = as_user(tree.users[attacker])
    assert client.get(f"/schedules/{foreign.id}").status_code == 404
    # An account manager gets 404 (out of scope); a customer manager 403 (no editing).
    expected = 403 if attacker in ("customer", "sub_customer") else 404
    assert save(client, foreign.id, ("7", "days", "before")).status_code == expected
    clear = client.post(f"/schedules/{foreign.id}/clear", data={"csrf_token": client.csrf})
    assert clear.status_code == expected
    assert session.scalar(select(func.count()).select_from(ReminderSchedule)) == 0


def test_the_screen_says_when_and_by_whom_it_last_changed(tree, as_user, session):
    client = as_user(tree.users["partner"])
    save(client, tree.partner.id, ("30", "days", "before"))
    page = client.get(f"/schedules/{tree.partner.id}").get_data(as_text=True)
    assert "Last changed" in page and tree.users["partner"].full_name in page
    assert "Use the schedule above instead" in page


def test_a_step_may_go_to_the_account_managers_above(tree, as_user, session):
    client = as_user(tree.users["partner"])
    page = client.post(
        f"/schedules/{tree.partner.id}",
        data={
            "csrf_token": client.csrf,
            "amount-0": "30",
            "unit-0": "days",
            "anchor-0": "before",
            "audience-0": "account_managers",
            "amount-1": "0",
            "unit-1": "days",
            "anchor-1": "after",
            "audience-1": "both",
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Saved the reminder schedule" in page
    found = schedules.effective(tree.customer.id)
    assert [(schedules.key_of(s), s.audience.value) for s in found.steps] == [
        ("before-30d", "account_managers"),
        ("after-0", "both"),
    ]
    assert "The account managers above it" in page
