"""The API keys screen: a manager's keys, shown once, revoked by any manager of the
company; in Manage Company mode limited to the managed company."""

import re

from sqlalchemy import select

from app.models import ApiKey
from tests.views.test_manage import enter, post


def signed_in(app, user):
    """A second browser, signed in as `user`."""
    from tests.conftest import csrf_token, login

    client = app.test_client()
    login(client, user)
    client.csrf = csrf_token(client)
    return client


def key_text(html: str) -> str:
    found = re.search(r'value="(lr_[^"]+)"', html)
    assert found, html
    return found.group(1)


def test_a_manager_creates_a_key_shown_once_and_it_opens_the_api(tree, as_user, client, session):
    browser = as_user(tree.users["customer"])
    page = post(browser, "/api-keys/", {"name": "HaloPSA sync", "read_only": "1"})
    html = page.get_data(as_text=True)
    assert "shown this once" in html
    text = key_text(html)
    assert text not in browser.get("/api-keys/").get_data(as_text=True)  # never again
    key = session.scalar(select(ApiKey).where(ApiKey.name == "HaloPSA sync"))
    assert key.read_only and key.user_id == tree.users["customer"].id
    answer = client.get("/api/v1/companies", headers={"Authorization": f"Bearer {text}"})
    assert answer.status_code == 200


def test_every_manager_of_the_company_sees_and_revokes_its_keys(tree, as_user, app, session):
    from tests import factories

    colleague = factories.manager(tree.customer, "colleague_cm")
    session.commit()
    first = as_user(tree.users["customer"])
    text = key_text(post(first, "/api-keys/", {"name": "Shared sync"}).get_data(as_text=True))
    key = session.scalar(select(ApiKey).where(ApiKey.name == "Shared sync"))
    other = signed_in(app, colleague)
    assert "Shared sync" in other.get("/api-keys/").get_data(as_text=True)
    page = post(other, f"/api-keys/{key.id}/revoke").get_data(as_text=True)
    assert "revoked" in page
    answer = app.test_client().get("/api/v1/companies", headers={"Authorization": f"Bearer {text}"})
    assert answer.status_code == 401


def test_another_companys_manager_neither_sees_nor_revokes_the_key(tree, as_user, app, session):
    first = as_user(tree.users["customer"])
    post(first, "/api-keys/", {"name": "Private"})
    key = session.scalar(select(ApiKey).where(ApiKey.name == "Private"))
    other = signed_in(app, tree.users["other_customer"])
    assert "Private" not in other.get("/api-keys/").get_data(as_text=True)
    answer = other.post(f"/api-keys/{key.id}/revoke", data={"csrf_token": other.csrf})
    assert answer.status_code == 404
    session.refresh(key)
    assert key.revoked_at is None


def test_in_manage_mode_the_key_is_limited_to_the_managed_company(tree, as_user, session):
    browser = as_user(tree.users["partner"])
    enter(browser, tree.customer)
    html = post(browser, "/api-keys/", {"name": "C1 sync"}).get_data(as_text=True)
    key = session.scalar(select(ApiKey).where(ApiKey.name == "C1 sync"))
    assert key.limited_to_id == tree.customer.id and key.user_id == tree.users["partner"].id
    assert "Customer C1 only" in html


def test_a_key_without_a_name_or_with_a_bad_expiry_is_refused(tree, as_user, session):
    browser = as_user(tree.users["customer"])
    html = post(browser, "/api-keys/", {"name": " "}).get_data(as_text=True)
    assert "Name is required." in html
    html = post(browser, "/api-keys/", {"name": "X", "expires": "soon"}).get_data(as_text=True)
    assert "YYYY-MM-DD" in html
    assert session.scalar(select(ApiKey)) is None
