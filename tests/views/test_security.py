"""Security defaults: CSRF, safe redirects, size limit, closed API, headers (sign-in,
sessions and passwords: test_signin.py)."""

import re

import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import AppUser, Learner
from tests.settings import make_config


def login_form_token(client) -> str:
    page = client.get("/login/").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_a_post_without_csrf_token_is_refused_and_changes_nothing(tree, as_user, session):
    client = as_user(tree.users["customer"])
    learner = tree.people[tree.customer.name][0]
    response = client.post(
        "/learners/action_post", data={"action": "deactivate", "rowid": learner.id}
    )
    assert response.status_code == 400
    assert "did not come from this panel, so nothing was changed" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Learner, learner.id).active


def test_login_does_not_redirect_to_another_site(tree, client):
    response = client.post(
        "/login/?next=https://evil.example.com/phish",
        data={
            "username": "partner_am",
            "password": "test-password-1",
            "csrf_token": login_form_token(client),
        },
    )
    assert response.status_code == 302
    assert "evil.example.com" not in response.headers["Location"]


def test_a_wrong_password_does_not_sign_in(tree, client):
    response = client.post(
        "/login/",
        data={
            "username": "partner_am",
            "password": "wrong",
            "csrf_token": login_form_token(client),
        },
        follow_redirects=True,
    )
    assert "Invalid login" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_the_token_api_login_is_closed(tree, client):
    response = client.post(
        "/api/v1/security/login",
        json={"username": "partner_am", "password": "test-password-1", "provider": "db"},
    )
    assert response.status_code == 404


def test_an_inactive_manager_sees_nothing(tree, as_user, session):
    user = tree.users["customer"]
    client = as_user(user)
    session.get(AppUser, user.id).active = False
    session.commit()
    assert client.get("/learners/list/").status_code in (302, 403)


def test_a_manager_edits_only_its_own_profile(tree, as_user, session):
    me, other = tree.users["customer"], tree.users["sub_customer"]
    client = as_user(me)
    client.post(
        f"/userinfoeditview/form?pk={other.id}",
        data={"first_name": "Changed", "last_name": "Name", "csrf_token": client.csrf},
    )
    session.expire_all()
    assert session.get(AppUser, other.id).first_name != "Changed"
    assert session.get(AppUser, me.id).first_name == "Changed"


def test_session_cookie_is_samesite_lax(app):
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


@pytest.fixture
def small_limits_app(database_url):
    app = create_app(make_config(database_url, MAX_CONTENT_LENGTH=1024))
    yield app
    with app.app_context():
        db.engine.dispose()


def test_an_oversized_request_gets_a_friendly_413_page(small_limits_app):
    client = small_limits_app.test_client()
    response = client.post("/login/", data={"username": "x" * 5000, "password": "y"})
    assert response.status_code == 413
    assert "larger than the limit" in response.get_data(as_text=True)


def test_no_user_is_created_by_a_blocked_add(tree, as_user, session):
    client = as_user(tree.users["customer"])
    client.post(
        "/managers/add",
        data={
            "company": tree.partner.id,
            "username": "x",
            "first_name": "x",
            "last_name": "x",
            "email": "x@example.com",
            "password": "long-enough-password",
            "conf_password": "long-enough-password",
            "csrf_token": client.csrf,
        },
    )
    assert session.scalar(select(AppUser).where(AppUser.username == "x")) is None


def test_every_page_forbids_framing_sniffing_and_foreign_referrers(tree, as_user):
    for response in (
        as_user(tree.users["customer"]).get("/licenses/allocated/list/"),
        as_user(tree.users["customer"]).get("/nowhere"),
    ):
        headers = response.headers
        assert headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers  # not production: no TLS here


def test_static_files_are_reused_for_an_hour_and_nothing_else_is_cached(tree, as_user):
    """A page's scripts and style sheets come from the browser's cache for an hour
    (no round trip before each page can run); pages and downloads are never kept."""
    client = as_user(tree.users["customer"])
    for url in ("/static/panel.css", "/static/appbuilder/js/select2/select2.min.js"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "max-age=3600"
    for url in ("/licenses/allocated/list/", "/audit/export/xlsx"):
        response = client.get(url)
        assert response.status_code == 200
        assert "max-age" not in response.headers.get("Cache-Control", "")


def test_production_answers_with_hsts_and_secure_session_cookies(committed_app):
    production, _url = committed_app(
        APP_ENV="production", SESSION_COOKIE_SECURE=True, STRICT_TRANSPORT_SECURITY=True
    )
    response = production.test_client().get("/login/")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Secure" in response.headers["Set-Cookie"]


@pytest.mark.parametrize("who", ["partner", "customer"])
def test_every_manager_opens_its_profile_from_the_navbar(tree, as_user, who):
    page = as_user(tree.users[who]).get("/users/userinfo/")
    assert page.status_code == 200
    assert tree.users[who].email in page.get_data(as_text=True)


@pytest.mark.parametrize(
    "url, data",
    [
        ("/users/action/resetpasswords/{victim}", {}),
        ("/roles/action/copyrole/1", {}),
        ("/users/action_post", {"action": "resetpasswords", "rowid": "{victim}"}),
    ],
)
def test_managers_get_403_on_the_security_actions(tree, as_user, url, data):
    client = as_user(tree.users["partner"])
    victim = str(tree.users["customer"].id)
    form = {k: v.format(victim=victim) for k, v in data.items()}
    response = client.post(url.format(victim=victim), data={**form, "csrf_token": client.csrf})
    assert response.status_code == 403
