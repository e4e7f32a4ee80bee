"""Signing in and out: failed sign-ins throttled per username and per address (never
correct ones), sessions that end on the server, and one's own password changed only
with the current one."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app import clock, create_app
from app.extensions import db
from app.models import AppUser, AuditEvent, UserSession
from app.services import managers, sessions
from app.tenancy import actor_for
from tests.factories import PASSWORD
from tests.servers import free_port
from tests.settings import REDIS_URL, make_config

GOOD = "correct horse battery staple"


def login_form_token(client) -> str:
    page = client.get("/login/").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def sign_in(client, username, password=PASSWORD, address="198.51.100.7", **headers):
    """POST the sign-in form from `address`; the response (not followed)."""
    return client.post(
        "/login/",
        data={"username": username, "password": password, "csrf_token": login_form_token(client)},
        environ_base={"REMOTE_ADDR": address},
        headers=headers,
    )


def signed_in(client) -> bool:
    return client.get("/learners/list/").status_code == 200


def page_token(client) -> str:
    html = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


@pytest.fixture
def throttled(app, session, database_url, tree):
    """`throttled(limit, storage)`: an app whose sign-in throttle is on, as another
    web process would be, on this test's rolled-back connection."""
    connection = db._app_engines[app][None]
    made = []

    def build(limit="3 per 1 minute", storage="memory://", **config):
        other = create_app(
            make_config(
                database_url,
                LOGIN_THROTTLE=True,
                LOGIN_RATE_LIMIT=limit,
                LOGIN_THROTTLE_STORAGE=storage,
                **config,
            )
        )
        engines = db._app_engines[other]
        made.append((engines, engines[None]))
        engines[None] = connection
        return other.test_client()

    yield build
    for engines, engine in made:
        engines[None] = engine
        engine.dispose()


def test_correct_sign_ins_are_never_counted(throttled):
    client = throttled("10 per 20 second")
    for _ in range(14):
        response = sign_in(client, "partner_am")
        assert response.status_code == 302
        assert "/login" not in response.headers["Location"]
        client.post("/logout/", data={"csrf_token": page_token(client)})


def test_failed_sign_ins_of_one_username_are_throttled_from_any_address(throttled):
    client = throttled("3 per 1 minute")
    for n in range(3):
        assert sign_in(client, "partner_am", "wrong", address=f"203.0.113.{n}").status_code == 302
    refused = sign_in(client, "partner_am", PASSWORD, address="203.0.113.99")
    assert refused.status_code == 429
    assert re.search(r"Try again in \d+ seconds", refused.get_data(as_text=True))
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "Too many attempts" in refused.get_data(as_text=True)  # the panel's own page
    assert sign_in(client, "customer_cm", address="203.0.113.99").status_code == 302


def test_failed_sign_ins_from_one_address_are_throttled_for_any_username(throttled):
    client = throttled("3 per 1 minute")
    for name in ("alice", "bob", "carol"):
        sign_in(client, name, "wrong", address="203.0.113.5")
    assert sign_in(client, "partner_am", address="203.0.113.5").status_code == 429
    assert sign_in(client, "partner_am", address="203.0.113.6").status_code == 302


def test_a_correct_sign_in_clears_its_usernames_failures(throttled):
    client = throttled("3 per 1 minute")
    for n in range(2):
        sign_in(client, "partner_am", "wrong", address=f"203.0.113.{n}")
    assert sign_in(client, "partner_am", address="203.0.113.10").status_code == 302
    client.post("/logout/", data={"csrf_token": page_token(client)})
    for n in range(2):
        sign_in(client, "partner_am", "wrong", address=f"203.0.113.{20 + n}")
    assert sign_in(client, "partner_am", address="203.0.113.30").status_code == 302


def test_x_forwarded_for_is_believed_only_through_trusted_proxies(throttled):
    direct = throttled("3 per 1 minute")
    for n in range(3):  # a client naming itself in X-Forwarded-For is still one address
        sign_in(direct, f"guess{n}", "wrong", **{"X-Forwarded-For": f"192.0.2.{n}"})
    assert sign_in(direct, "partner_am", **{"X-Forwarded-For": "192.0.2.50"}).status_code == 429

    proxied = throttled("3 per 1 minute", TRUSTED_PROXIES=1)
    for n in range(3):  # behind one trusted proxy, each client is its own address
        sign_in(proxied, f"guess{n}", "wrong", **{"X-Forwarded-For": f"192.0.2.{n}"})
    assert sign_in(proxied, "partner_am", **{"X-Forwarded-For": "192.0.2.50"}).status_code == 302


def test_with_redis_down_sign_in_still_works_and_failures_are_still_counted(throttled):
    down = f"redis://127.0.0.1:{free_port()}/0"
    client = throttled("3 per 1 minute", down)
    assert sign_in(client, "partner_am").status_code == 302
    assert signed_in(client)
    other = throttled("3 per 1 minute", down)
    for _ in range(3):
        sign_in(other, "customer_cm", "wrong")
    assert sign_in(other, "customer_cm").status_code == 429


def test_failures_are_counted_across_web_processes_in_redis(throttled):
    limit = "3 per 1 minute"
    first = throttled(limit, REDIS_URL)
    second = throttled(limit, REDIS_URL)
    username = f"nobody-{free_port()}"  # counts of earlier runs never apply
    for _ in range(3):
        sign_in(first, username, "wrong", address=f"203.0.113.{free_port() % 250}")
    assert sign_in(second, username, address="203.0.113.251").status_code == 429


# Sessions --------------------------------------------------------------------


def copy_session_cookie(source, target) -> None:
    target.set_cookie("session", source.get_cookie("session").value)


def test_signing_out_ends_the_session_on_the_server(app, client, tree):
    assert sign_in(client, "customer_cm").status_code == 302
    thief = app.test_client()
    copy_session_cookie(client, thief)
    assert signed_in(thief)
    client.post("/logout/", data={"csrf_token": page_token(client)})
    assert not signed_in(client)
    assert not signed_in(thief)  # the copied cookie opens nothing any more


def test_a_get_of_logout_only_asks(client, tree):
    sign_in(client, "customer_cm")
    page = client.get("/logout/")
    assert page.status_code == 200
    assert "Sign out everywhere" in page.get_data(as_text=True)
    assert signed_in(client)


def test_logout_needs_the_csrf_token(client, tree):
    sign_in(client, "customer_cm")
    assert client.post("/logout/").status_code == 400
    assert signed_in(client)


def test_sign_out_everywhere_ends_every_session_of_that_user_only(app, client, tree, session):
    sign_in(client, "customer_cm")
    laptop, colleague = app.test_client(), app.test_client()
    sign_in(laptop, "customer_cm")
    sign_in(colleague, "partner_am")
    client.post("/logout/everywhere/", data={"csrf_token": page_token(client)})
    assert not signed_in(client)
    assert not signed_in(laptop)
    assert signed_in(colleague)
    assert session.scalar(
        select(AuditEvent).where(AuditEvent.action == "manager.signed_out_everywhere")
    )


def test_deactivating_a_manager_signs_it_out_for_good(app, client, tree, session):
    user = tree.users["customer"]
    sign_in(client, "customer_cm")
    managers.set_managers_active(actor_for(tree.users["partner"]), [user.id], False)
    session.commit()
    assert not signed_in(client)
    managers.set_managers_active(actor_for(tree.users["partner"]), [user.id], True)
    session.commit()
    assert not signed_in(client)  # reactivated: it signs in again, the old cookie is dead
    assert sign_in(app.test_client(), "customer_cm").status_code == 302


def test_a_session_older_than_session_hours_opens_nothing(client, tree, session):
    sign_in(client, "customer_cm")
    session.execute(
        update(UserSession).values(started_at=clock.real_now() - timedelta(hours=12, seconds=1))
    )
    session.commit()
    assert not signed_in(client)


def test_a_cookie_naming_a_user_id_opens_nothing(client, tree):
    with client.session_transaction() as cookie:
        cookie["_user_id"] = str(tree.users["customer"].id)
        cookie["_fresh"] = True
    assert not signed_in(client)


def test_ended_and_expired_sessions_are_cleaned_up(app, tree, session):
    user = tree.users["customer"]
    open_now, ended, old = (sessions.start(user) for _ in range(3))
    sessions.end(ended)
    long_ago = clock.real_now() - timedelta(days=3)
    for token, column in ((ended, UserSession.ended_at), (old, UserSession.started_at)):
        session.execute(
            update(UserSession)
            .where(UserSession.token_hash == sessions._digest(token))
            .values({column: long_ago})
        )
    assert sessions.discard_stale(clock.real_now()) == 2
    assert sessions.user_for(open_now) is not None


# One's own password ------------------------------------------------------------


def change_password(client, current, new, confirm=None):
    return client.post(
        "/resetmypassword/form",
        data={
            "current_password": current,
            "password": new,
            "conf_password": new if confirm is None else confirm,
            "csrf_token": page_token(client),
        },
    )


def test_changing_my_password_needs_the_current_one(client, tree, session):
    sign_in(client, "customer_cm")
    page = change_password(client, "not my password", GOOD)
    assert "The current password is not right." in page.get_data(as_text=True)
    session.expire_all()
    assert sign_in(client.application.test_client(), "customer_cm").status_code == 302


def test_a_weak_new_password_is_refused_with_the_reason(client, tree):
    sign_in(client, "customer_cm")
    for weak, reason in (("a", "at least 15 characters"), ("password12345678", "too common")):
        page = change_password(client, PASSWORD, weak).get_data(as_text=True)
        assert reason in page
    assert sign_in(client.application.test_client(), "customer_cm").status_code == 302


def test_changing_my_password_signs_out_my_other_sessions_and_keeps_this_one(
    app, client, tree, session
):
    sign_in(client, "customer_cm")
    other = app.test_client()
    sign_in(other, "customer_cm")
    response = change_password(client, PASSWORD, GOOD)
    assert response.status_code == 302
    assert signed_in(client)
    assert not signed_in(other)
    assert sign_in(app.test_client(), "customer_cm", GOOD).status_code == 302
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "manager.password_changed"))


def test_the_admins_reset_of_a_password_applies_the_policy_and_ends_its_sessions(
    app, as_user, tree, session
):
    victim = tree.users["customer"]
    browser = app.test_client()
    sign_in(browser, "customer_cm")
    admin = as_user(tree.users["admin"])
    weak = admin.post(
        f"/resetpassword/form?pk={victim.id}",
        data={"password": "a", "conf_password": "a", "csrf_token": admin.csrf},
    )
    assert "at least 15 characters" in weak.get_data(as_text=True)
    assert signed_in(browser)
    admin.post(
        f"/resetpassword/form?pk={victim.id}",
        data={"password": GOOD, "conf_password": GOOD, "csrf_token": admin.csrf},
    )
    assert not signed_in(browser)
    session.expire_all()
    assert session.get(AppUser, victim.id).password != PASSWORD
