"""The Webhooks screen: a company's subscriptions (the secret shown once), the
delivery log with Replay, and the line no other tenant crosses."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.jobs.webhooks import deliver_due
from app.models import Webhook, WebhookDelivery
from app.services.orders import request_order
from tests.receiver import Receiver, serve
from tests.views.test_api_keys import signed_in
from tests.views.test_manage import enter, post


def add(browser, url, events=("order.requested",)):
    return post(browser, "/webhooks/", {"url": url, "events": list(events)}).get_data(as_text=True)


def test_a_partner_adds_a_webhook_sees_its_deliveries_and_replays_one(tree, as_user, session):
    browser = as_user(tree.users["partner"])
    with serve(Receiver()) as receiver:
        html = add(browser, receiver.url)
        assert "shown this once" in html
        receiver.secret = re.search(r'value="(whsec_[^"]+)"', html).group(1)
        assert receiver.secret not in browser.get("/webhooks/").get_data(as_text=True)
        hook = session.scalar(select(Webhook))
        assert (hook.company_id, hook.event_types) == (tree.partner.id, ["order.requested"])
        request_order(tree.actor("customer"), tree.customer.id, 5)
        session.commit()
        deliver_due()
        log = browser.get(f"/webhooks/{hook.id}").get_data(as_text=True)
        assert "Delivered" in log and "order.requested" in log and ">200<" in log
        delivery = session.scalar(select(WebhookDelivery))
        page = post(browser, f"/webhooks/deliveries/{delivery.id}/replay").get_data(as_text=True)
        assert f"Event {delivery.event.uid} queued to be sent again." in page
        deliver_due()
        assert len(receiver.calls) == 2 and len(receiver.events()) == 1  # deduped by id
        assert all(call.valid for call in receiver.calls)
        page = post(browser, f"/webhooks/{hook.id}/delete").get_data(as_text=True)
        assert "deleted" in page and session.scalar(select(func.count(Webhook.id))) == 0


def test_a_refused_url_says_why_and_adds_nothing(tree, as_user, session, app):
    browser = as_user(tree.users["partner"])
    html = add(browser, "ftp://psa.example.com/hooks")
    assert "Only http:// and https:// URLs can receive webhooks." in html
    assert "Choose at least one event." in add(browser, "https://psa.example.com/", events=())
    app.config["APP_ENV"] = "production"
    try:
        assert "public addresses only" in add(browser, "http://192.168.1.20/hooks")
    finally:
        app.config["APP_ENV"] = "test"
    assert session.scalar(select(func.count(Webhook.id))) == 0


def test_in_manage_mode_the_webhook_belongs_to_the_managed_company(tree, as_user, session):
    browser = as_user(tree.users["partner"])
    enter(browser, tree.customer)
    with serve(Receiver()) as receiver:
        add(browser, receiver.url)
    assert session.scalar(select(Webhook.company_id)) == tree.customer.id


def test_another_tenant_neither_sees_nor_touches_a_webhook(tree, as_user, app, session):
    owner = as_user(tree.users["partner"])
    with serve(Receiver()) as receiver:
        add(owner, receiver.url)
        hook = session.scalar(select(Webhook))
        request_order(tree.actor("customer"), tree.customer.id, 5)
        session.commit()
        deliver_due()
    delivery = session.scalar(select(WebhookDelivery))
    for who in ("other_partner", "sub", "customer"):
        browser = signed_in(app, tree.users[who])
        assert receiver.url not in browser.get("/webhooks/").get_data(as_text=True)
        assert browser.get(f"/webhooks/{hook.id}").status_code == 404
        assert post(browser, f"/webhooks/{hook.id}/delete").status_code == 404
        replayed = post(browser, f"/webhooks/deliveries/{delivery.id}/replay")
        assert replayed.status_code == 404
    assert session.scalar(select(func.count(WebhookDelivery.id))) == 1
    assert session.scalar(select(func.count(Webhook.id))) == 1
