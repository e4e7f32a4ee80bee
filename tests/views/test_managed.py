"""Managed companies (issue 18): while Customer C1's plan is Managed, its customer
manager sees no license buttons, and every changing route answers 403 with the one
message and changes nothing; Learners and reads stay; the account manager above, in
Manage Company mode, keeps every right."""

import io
from dataclasses import replace

import pytest
from sqlalchemy import func, select, text

from app.models import ImportBatch, Learner, License, Order, Selection
from app.services.allocation import select_people
from app.services.orders import assign_orders, request_order
from app.tenancy import system_actor
from tests import factories

REFUSAL = "Your account manager at Partner P manages licenses for this company."
TABLES = ["orders", "licenses", "learners", "selections", "import_batches", "order_people"]


@pytest.fixture
def managed(tree, session):
    """C1: 4 expired people, 2 holding seats, an open request, a staged selection —
    then a Managed pool: its plan is Managed."""
    c1 = tree.customer
    expired = factories.expired_people(c1, 4)
    holders = factories.learners(c1, 2)
    premium = factories.assigned_order(c1, 5)
    actor = factories.replace_actor_in(c1)
    from app.services.allocation import allocate

    allocate(actor, select_people(actor, c1.id, [p.id for p in holders]).id, premium.id)
    pending = request_order(tree.actor("customer"), c1.id, 3)
    staged = select_people(tree.actor("customer"), c1.id, [expired[0].id])
    partner = replace(tree.actor("partner"), managing_company_id=c1.id)
    order = request_order(partner, c1.id, 10, "managed")
    assign_orders(system_actor("cli"), [order.id])
    session.commit()
    return {"expired": expired, "holders": holders, "pending": pending, "staged": staged}


def snapshot(session):
    session.expire_all()
    return [session.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all() for t in TABLES]


def test_the_customer_manager_sees_no_license_buttons(tree, managed, as_user):
    client = as_user(tree.users["customer"])
    orders = client.get("/orders/list/").get_data(as_text=True)
    assert REFUSAL in orders and 'id="request-licenses"' not in orders
    assert "Cancel request" not in orders
    expired = client.get("/licenses/expired/list/?select=manual").get_data(as_text=True)
    assert REFUSAL in expired
    for hidden in ("Select users Manually", "Import Licence Renewal", "Allocate Licenses"):
        assert hidden not in expired
    assert "Request renewal" not in expired
    allocated = client.get("/licenses/allocated/list/").get_data(as_text=True)
    assert "Deallocate" not in allocated
    shown = client.get(f"/orders/show/{managed['pending'].id}").get_data(as_text=True)
    assert "Cancel request" not in shown


def test_every_changing_route_answers_403_and_changes_nothing(tree, managed, as_user, session):
    client = as_user(tree.users["customer"])
    expired, holders = managed["expired"], managed["holders"]
    forged = [
        ("/orders/request", {"quantity": "5", "license_type": "premium"}),
        (f"/orders/cancel/{managed['pending'].id}", {"reason": "No"}),
        ("/licenses/expired/action_post", {"action": "allocate", "rowid": [expired[1].id]}),
        ("/licenses/expired/select-all", {}),
        (f"/licenses/selection/{managed['staged'].id}", {}),
        (f"/licenses/selection/{managed['staged'].id}/first", {}),
        (f"/licenses/selection/{managed['staged'].id}/remainder", {}),
        ("/licenses/allocated/action_post", {"action": "deallocate", "rowid": [holders[0].id]}),
        ("/licenses/expired/request-renewal-all", {}),
        ("/licenses/expired/action_post", {"action": "request_renewal", "rowid": [expired[1].id]}),
    ]
    before = snapshot(session)
    for url, form in forged:
        response = client.post(url, data={**form, "csrf_token": client.csrf})
        assert response.status_code == 403, (url, response.status_code)
        assert REFUSAL in response.get_data(as_text=True), url
        assert snapshot(session) == before, url
    upload = client.post(
        "/imports/renewal/upload",
        data={
            "file": (io.BytesIO(b"Email\na@b.example.com\n"), "a.csv"),
            "csrf_token": client.csrf,
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 403 and REFUSAL in upload.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ImportBatch)) == 0
    assert snapshot(session) == before


def test_learners_stay_and_are_licensed_as_set(tree, managed, as_user, session):
    client = as_user(tree.users["customer"])
    response = client.post(
        "/learners/add",
        data={
            "company": tree.customer.id,
            "first_name": "Nia",
            "last_name": "Newcomer",
            "email": "nia@c1.example.com",
            "csrf_token": client.csrf,
        },
    )
    assert response.status_code == 302
    nia = session.scalar(select(Learner).where(Learner.email == "nia@c1.example.com"))
    assert nia.license_type == "managed"  # automatic licensing, from the Managed pool


def test_the_account_manager_above_keeps_every_right(tree, managed, as_user, session):
    client = as_user(tree.users["partner"])
    with client.session_transaction() as sess:
        sess["managing_company_id"] = tree.customer.id
    page = client.get("/licenses/expired/list/?select=manual").get_data(as_text=True)
    assert "Allocate Licenses" in page and REFUSAL not in page
    response = client.post(
        "/licenses/expired/action_post",
        data={"action": "allocate", "rowid": [managed["expired"][1].id], "csrf_token": client.csrf},
    )
    assert response.status_code == 302
    confirm = response.headers["Location"].split("?")[0]
    client.post(confirm, data={"csrf_token": client.csrf})
    held = session.scalar(
        select(License).where(
            License.learner_id == managed["expired"][1].id,
            License.ended_at.is_(None),
            License.license_type == "managed",
        )
    )
    assert held is not None
    assert session.scalar(select(func.count()).select_from(Selection)) >= 2
    assert session.scalar(select(func.count()).where(Order.license_type == "managed")) == 1


def test_import_learners_licenses_them_automatically_in_a_managed_company(
    tree, managed, as_user, session
):
    """Import Learners is the customer managers' own; its automatic licensing too."""
    from tests.views.test_imports import upload

    client = as_user(tree.users["customer"])
    data = b"First name,Last name,Email\nIda,Import,ida@c1.example.com\n"
    response = upload(client, data, "people.csv", kind="learners")
    assert response.status_code == 302, response.get_data(as_text=True)
    columns_url = response.headers["Location"]
    page = client.get(columns_url).get_data(as_text=True)
    import re

    form = {"csrf_token": client.csrf, "auto_license": "on"}
    form["header_row"] = re.search(r'name="header_row" value="(\d+)"', page).group(1)
    for name in ("email_column", "first_name_column", "last_name_column"):
        chosen = re.search(rf'id="{name}".*?<option value="(\d+)" selected>', page, re.S)
        if chosen:
            form[name] = chosen.group(1)
    response = client.post(columns_url, data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    review = response.headers["Location"]
    commit = client.post(review.replace("/review", "/commit"), data={"csrf_token": client.csrf})
    assert commit.status_code == 302, commit.get_data(as_text=True)
    ida = session.scalar(select(Learner).where(Learner.email == "ida@c1.example.com"))
    assert ida is not None and ida.license_type == "managed"
