"""Free Trial screens (issue 18): Company → Actions → Start Free Trial, Create
Company with a trial, and the Upgrade Now page (no login; opening it creates
nothing; only its button's POST, with CSRF, requests once)."""

import re

import pytest
from sqlalchemy import func, select

from app.models import Order
from app.services import companies, trials
from tests import factories


def requested(session, company) -> int:
    session.expire_all()
    return session.scalar(
        select(func.count()).where(Order.company_id == company.id, Order.status == "requested")
    )


@pytest.fixture
def trial_company(tree, session):
    company = companies.create_company(
        tree.actor("partner"), name="Trial Co", kind="customer", parent_id=tree.partner.id
    )
    manager = factories.manager(company, "trial_cm")
    trial = trials.start_trial(tree.actor("partner"), company.id, 4)
    factories.learners(company, 3)  # licensed as they are added
    session.commit()
    return company, trial, manager


def test_start_free_trial_from_company_actions(tree, as_user, session):
    client = as_user(tree.users["partner"])
    found = client.post(
        "/companies/action_post",
        data={"action": "start_trial", "rowid": [tree.customer.id], "csrf_token": client.csrf},
    )
    assert found.status_code == 302 and found.location.endswith(
        f"/companies/trial/{tree.customer.id}"
    )
    page = client.get(found.location).get_data(as_text=True)
    assert "Start a Free Trial for Customer C1" in page and "30-day Free Trial" in page
    refused = client.post(
        found.location, data={"trial_seats": "lots", "csrf_token": client.csrf}
    ).get_data(as_text=True)
    assert "whole number" in refused
    done = client.post(
        found.location, data={"trial_seats": "5", "csrf_token": client.csrf}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Started a Free Trial of 5 seats for Customer C1" in done
    # Its three people were licensed by it at once; the Company list shows the plan.
    listing = client.get("/companies/list/").get_data(as_text=True)
    assert "Free Trial" in listing
    again = client.post(
        found.location, data={"trial_seats": "5", "csrf_token": client.csrf}
    ).get_data(as_text=True)
    assert "has had its Free Trial: there is one per company" in again


def test_customer_managers_cannot_start_trials(tree, as_user, session):
    client = as_user(tree.users["customer"])
    response = client.post(
        f"/companies/trial/{tree.customer.id}",
        data={"trial_seats": "5", "csrf_token": client.csrf},
    )
    assert response.status_code in (302, 403, 404)
    assert session.scalar(select(func.count()).where(Order.license_type == "trial")) == 0


def test_create_company_with_a_trial(tree, as_user, session):
    client = as_user(tree.users["partner"])
    page = client.post(
        "/companies/add",
        data={
            "name": "New Trial Co",
            "kind": "customer",
            "parent": tree.partner.id,
            "timezone": "Europe/London",
            "trial_seats": "10",
            "csrf_token": client.csrf,
        },
        follow_redirects=True,
    )
    assert page.status_code == 200
    made = session.scalar(select(Order).where(Order.license_type == "trial"))
    assert made.quantity == 10 and made.company.name == "New Trial Co"


def test_the_upgrade_now_page(trial_company, client, session):
    company, trial, manager = trial_company
    url = f"/upgrade/{trials.upgrade_token(trial, manager)}"
    for _ in range(2):  # a mail scanner, then the person: nothing is created
        page = client.get(url)
        assert page.status_code == 200
        assert page.headers["Referrer-Policy"] == "no-referrer"
    html = page.get_data(as_text=True)
    assert "Upgrade Trial Co to Premium" in html and "covers 3 people" in html
    assert requested(session, company) == 0
    assert client.post(url).status_code == 400  # no CSRF token: refused
    assert requested(session, company) == 0
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    done = client.post(url, data={"csrf_token": token})
    assert done.status_code == 200
    assert "Requested: order #" in done.get_data(as_text=True)
    assert requested(session, company) == 1
    again = client.post(url, data={"csrf_token": token})
    assert again.status_code == 409
    assert "awaits your account manager" in again.get_data(as_text=True)
    assert requested(session, company) == 1
    assert client.get("/upgrade/forged-token").status_code == 404


def test_assign_says_whom_an_upgrade_moves_before_it_does(trial_company, tree, as_user, session):
    from dataclasses import replace

    from app.services.orders import request_order

    company, _, _ = trial_company
    behalf = replace(tree.actor("partner"), managing_company_id=company.id)
    order = request_order(behalf, company.id, 2)
    session.commit()
    client = as_user(tree.users["partner"])
    page = client.get(f"/orders/assign?order={order.id}").get_data(as_text=True)
    assert "Its seats go at once to <strong>2 people</strong> of Trial Co" in page
    assert "Free Trial (3) licenses" in page and "the Free Trial ends" in page


def test_the_upgrade_token_never_reaches_the_request_log(trial_company, client, caplog):
    import logging

    company, trial, manager = trial_company
    token = trials.upgrade_token(trial, manager)
    with caplog.at_level(logging.INFO, logger="app.request"):
        assert client.get(f"/upgrade/{token}").status_code == 200
    (record,) = [r for r in caplog.records if r.name == "app.request"]
    assert token not in record.getMessage() and token not in str(record.__dict__)
    assert "/upgrade/<token>" in record.getMessage()
