"""Webhooks through the services and the delivery job, against a real receiver on
loopback (tests/receiver.py) that checks signatures with its own code."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock, webhook_client
from app.errors import Invalid, NotFound
from app.jobs.webhooks import deliver, deliver_due
from app.models import Order, Webhook, WebhookDelivery, WebhookEvent
from app.services import reminders, webhooks
from app.services.allocation import allocate, select_people
from app.services.orders import assign_orders, cancel_order, decline_order, request_order
from tests import factories
from tests.factories import replace_actor_in
from tests.receiver import Receiver, serve


@pytest.fixture
def receiver():
    with serve(Receiver()) as receiver:
        yield receiver


def subscribe(tree, who, receiver, events=tuple(webhooks.EVENTS), company=None):
    actor = tree.actor(who)
    webhook, secret = webhooks.subscribe(actor, company or actor.company_id, receiver.url, events)
    receiver.secret = secret
    return webhook


@contextlib.contextmanager
def later(delta: timedelta):
    saved = clock.offset()
    clock.set_offset(saved + delta)
    try:
        yield
    finally:
        clock.set_offset(saved)


def deliveries(session):
    session.expire_all()
    return session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()


def test_an_orders_steps_reach_the_partners_receiver_signed_once_each(tree, session, receiver):
    subscribe(tree, "partner", receiver)
    customer = tree.actor("customer")
    order = request_order(customer, tree.customer.id, 10, po_number="PO-7")
    session.commit()
    assign_orders(tree.actor("partner"), [order.id])
    second = request_order(customer, tree.customer.id, 3)
    third = request_order(customer, tree.customer.id, 4)
    session.commit()
    decline_order(tree.actor("partner"), second.id, "Not this month")
    cancel_order(customer, third.id, "Ordered twice")
    session.commit()
    assert deliver_due() == {"delivered": 6}
    assert all(call.valid for call in receiver.calls) and receiver.duplicates == 0
    told = sorted((e["type"], e["data"]["id"]) for e in receiver.events())
    assert told == sorted(
        [
            ("order.requested", order.id),
            ("order.assigned", order.id),
            ("order.requested", second.id),
            ("order.requested", third.id),
            ("order.declined", second.id),
            ("order.cancelled", third.id),
        ]
    )
    assigned = receiver.events("order.assigned")[0]
    assert assigned["company"] == {"id": tree.customer.id, "name": "Customer C1"}
    assert assigned["data"]["status"] == "assigned" and assigned["data"]["po_number"] == "PO-7"
    assert assigned["data"]["expires_at"] == session.get(Order, order.id).expires_at.isoformat()
    call = next(c for c in receiver.calls if json.loads(c.body)["id"] == assigned["id"])
    assert call.headers["X-Webhook-Id"] == assigned["id"]
    assert call.headers["X-Webhook-Event"] == "order.assigned"


def test_each_receiver_hears_its_own_tree_and_chosen_events_only(tree, session, receiver):
    with serve(Receiver()) as other:
        subscribe(tree, "other_partner", other)  # another partner's tree
        subscribe(tree, "sub", receiver, events=["order.assigned"])  # not requests
        request_order(tree.actor("customer"), tree.customer.id, 5)  # Partner P's
        order = request_order(tree.actor("sub_customer"), tree.sub_customer.id, 5)
        session.commit()
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0
        assign_orders(tree.actor("sub"), [order.id])
        session.commit()
        deliver_due()
        assert [e["type"] for e in receiver.events()] == ["order.assigned"]
        assert other.calls == []


def test_a_failing_receiver_is_tried_again_later_with_the_same_event(tree, session, receiver):
    subscribe(tree, "partner", receiver, events=["order.requested"])
    receiver.statuses = [500, 503]
    request_order(tree.actor("customer"), tree.customer.id, 5)
    session.commit()
    assert deliver_due() == {"retrying": 1}
    (delivery,) = deliveries(session)
    assert (delivery.status_code, delivery.attempts) == (500, 1)
    assert delivery.last_error == "The receiver answered 500."
    assert deliver_due() == {}  # backing off: 30 seconds
    with later(timedelta(seconds=31)):
        assert deliver_due() == {"retrying": 1}
        assert deliveries(session)[0].next_attempt_at > clock.now() + timedelta(seconds=100)
    with later(timedelta(minutes=3)):
        assert deliver_due() == {"delivered": 1}
    ids = {json.loads(call.body)["id"] for call in receiver.calls}
    assert len(receiver.calls) == 3 and len(ids) == 1
    assert len(receiver.events()) == 1  # processed once


def test_a_receiver_that_does_not_answer_in_time_is_retried(tree, session, receiver, app):
    subscribe(tree, "partner", receiver, events=["order.requested"])
    receiver.delay = app.config["WEBHOOK_TIMEOUT_SECONDS"] + 1
    request_order(tree.actor("customer"), tree.customer.id, 5)
    session.commit()
    assert deliver_due() == {"retrying": 1}
    assert deliveries(session)[0].last_error == "No answer within 2 seconds."
    receiver.delay = 0
    with later(timedelta(seconds=31)):
        assert deliver_due() == {"delivered": 1}


def test_still_failing_a_day_on_the_delivery_is_failed_and_replay_sends_it_again(
    tree, session, receiver
):
    subscribe(tree, "partner", receiver, events=["order.requested"])
    receiver.statuses = [500] * 20
    request_order(tree.actor("customer"), tree.customer.id, 5)
    session.commit()
    states = []
    elapsed = timedelta(0)
    for _ in range(12):
        with later(elapsed):
            states += list(deliver_due())
        elapsed += timedelta(hours=13)  # past every back-off
    assert states[-1] == "failed" and states.count("failed") == 1
    (delivery,) = deliveries(session)
    assert delivery.state == "failed" and 2 <= delivery.attempts <= 10
    receiver.statuses = []
    replayed = webhooks.replay(tree.actor("partner"), delivery.id)
    session.commit()
    assert deliver_due() == {"delivered": 1}
    assert replayed.replay_of_id == delivery.id
    assert {json.loads(c.body)["id"] for c in receiver.calls} == {delivery.event.uid}


def test_a_delivery_cut_by_a_crash_is_due_again_once_its_lease_ends(tree, session, receiver):
    subscribe(tree, "partner", receiver, events=["order.requested"])
    request_order(tree.actor("customer"), tree.customer.id, 5)
    session.commit()
    (delivery,) = deliveries(session)
    assert webhooks.claim(delivery.id, clock.now()) is not None  # then the worker died
    session.commit()
    assert deliver(delivery.id) == "skipped"  # another attempt holds it
    with later(webhooks.lease() + timedelta(seconds=1)):
        assert deliver_due() == {"delivered": 1}
    assert deliveries(session)[0].attempts == 2


def test_replay_and_logs_stay_within_the_viewers_scope(tree, session, receiver):
    webhook = subscribe(tree, "partner", receiver, events=["order.requested"])
    request_order(tree.actor("customer"), tree.customer.id, 5)
    session.commit()
    (delivery,) = deliveries(session)
    for outsider in ("other_partner", "customer", "sub"):
        with pytest.raises(NotFound):
            webhooks.replay(tree.actor(outsider), delivery.id)
        with pytest.raises(NotFound):
            webhooks.log(tree.actor(outsider), webhook.id)
        with pytest.raises(NotFound):
            webhooks.remove(tree.actor(outsider), webhook.id)
    assert webhooks.visible(tree.actor("other_partner"), None) == []
    assert len(deliveries(session)) == 1


def test_expiring_groups_and_expired_groups_are_told_once_each_with_counts(tree, session, receiver):
    subscribe(tree, "partner", receiver, events=["licenses.expiring", "licenses.expired"])
    expiry = clock.now() + timedelta(hours=60)
    factories.licenses_expiring(tree.customer, 3, expiry)
    session.commit()
    assert reminders.plan(clock.now()) > 0
    assert reminders.plan(clock.now() + timedelta(minutes=5)) == 0
    with later(timedelta(hours=61)):
        reminders.sweep(clock.now())
        reminders.sweep(clock.now())
        session.commit()
        deliver_due()
    (expiring,) = receiver.events("licenses.expiring")
    assert expiring["data"]["people"] == 3 and expiring["data"]["step"] == "expiry_reminder"
    assert expiring["data"]["people_url"].endswith(
        f"/api/v1/companies/{tree.customer.id}/licenses?tab=expiring"
    )
    (expired,) = receiver.events("licenses.expired")
    assert expired["data"]["licenses"] == 3
    assert expired["company"]["id"] == tree.customer.id


def test_allocating_tells_how_many_people_not_who(tree, session, receiver):
    people = factories.expired_people(tree.customer, 4)
    factories.assigned_order(tree.customer, 10)
    subscribe(tree, "partner", receiver, events=["licenses.allocated"])
    actor = replace_actor_in(tree.customer)
    allocate(actor, select_people(actor, tree.customer.id, [p.id for p in people]).id)
    session.commit()
    deliver_due()
    events = receiver.events("licenses.allocated")  # one per pool the seats came from
    assert sum(e["data"]["people"] for e in events) == 4
    assert all(e["data"]["people_url"].endswith("tab=allocated") for e in events)
    assert all("learners" not in e["data"] for e in events)  # counts, never people


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hook", "Only http:// and https://"),
        ("http:///nohost", "names no host"),
        ("https://user:pw@example.com/", "no user name or password"),
        ("http://127.0.0.1:9/hook", "loopback, private or link-local"),
        ("http://localhost/hook", "loopback, private or link-local"),
        ("http://10.1.2.3/hook", "loopback, private or link-local"),
        ("http://169.254.169.254/latest/meta-data", "loopback, private or link-local"),
        ("http://[::1]/hook", "loopback, private or link-local"),
        ("http://[::ffff:192.168.0.1]/hook", "loopback, private or link-local"),
        ("http://[::7f00:1]/hook", "loopback, private or link-local"),
        ("http://[64:ff9b::a00:5]/hook", "loopback, private or link-local"),
        ("http://[2002:7f00:1::]/hook", "loopback, private or link-local"),
        ("http://0.0.0.0/hook", "loopback, private or link-local"),
        ("http://2130706433/hook", "loopback, private or link-local"),
        ("http://no-such-host.invalid/hook", "could not be resolved"),
    ],
)
def test_production_refuses_urls_it_must_not_call(tree, session, app, url, message):
    app.config["APP_ENV"] = "production"
    try:
        with pytest.raises(Invalid, match=message):
            webhooks.subscribe(tree.actor("partner"), tree.partner.id, url, ["order.requested"])
    finally:
        app.config["APP_ENV"] = "test"
    assert session.scalar(select(func.count()).select_from(Webhook)) == 0


def test_in_production_a_receiver_now_on_loopback_is_never_called(tree, session, receiver, app):
    """A subscription whose name later resolves to a private address (or one made
    while private receivers were allowed) is refused at delivery time."""
    subscribe(tree, "partner", receiver, events=["order.requested"])
    request_order(tree.actor("customer"), tree.customer.id, 5)
    session.commit()
    app.config["APP_ENV"] = "production"
    try:
        assert deliver_due() == {"retrying": 1}
    finally:
        app.config["APP_ENV"] = "test"
    assert receiver.calls == []
    assert "loopback, private or link-local" in deliveries(session)[0].last_error


def test_a_redirect_is_not_followed(tree, session, receiver):
    with serve(Receiver()) as target:
        subscribe(tree, "partner", receiver, events=["order.requested"])
        receiver.statuses, receiver.location = [302], target.url
        request_order(tree.actor("customer"), tree.customer.id, 5)
        session.commit()
        assert deliver_due() == {"retrying": 1}
        assert target.calls == []
        (delivery,) = deliveries(session)
        assert delivery.status_code == 302
        assert delivery.last_error == "The receiver answered 302: redirects are not followed."


def test_a_huge_answer_is_read_no_further_than_the_cap(monkeypatch):
    """The client reads at most RESPONSE_CAP bytes of any answer."""
    import http.client
    import http.server
    import threading

    class Flood(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(50 * 1024 * 1024))
            self.end_headers()
            with contextlib.suppress(OSError):
                for _ in range(50 * 16):
                    self.wfile.write(b"x" * 65536)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flood)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    read = []
    original = http.client.HTTPResponse.read

    def counting(self, amt=None):
        data = original(self, amt)
        read.append(len(data))
        return data

    monkeypatch.setattr(http.client.HTTPResponse, "read", counting)
    try:
        answer = webhook_client.post(
            f"http://127.0.0.1:{server.server_address[1]}/",
            b"{}",
            {},
            timeout=5,
            allow_private=True,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert answer.status == 200 and answer.error is None
    assert sum(read) <= webhook_client.RESPONSE_CAP


def test_a_path_with_spaces_and_accents_is_sent_percent_encoded(tree, session, receiver):
    actor = tree.actor("partner")
    _, receiver.secret = webhooks.subscribe(
        actor, tree.partner.id, receiver.url + "/café dé?x=é", ["order.requested"]
    )
    request_order(tree.actor("customer"), tree.customer.id, 5)
    session.commit()
    assert deliver_due() == {"delivered": 1}
    assert receiver.calls[0].path == "/hooks/caf%C3%A9%20d%C3%A9?x=%C3%A9"


def test_a_trickling_receiver_is_cut_off_at_the_deadline():
    """Socket timeouts alone never end an answer sent a byte at a time."""
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def trickle():
        connection, _ = listener.accept()
        with connection, contextlib.suppress(OSError):
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 100:
                connection.sendall(bytes([byte]))
                time.sleep(0.3)

    threading.Thread(target=trickle, daemon=True).start()
    started = time.monotonic()
    answer = webhook_client.post(
        f"http://127.0.0.1:{listener.getsockname()[1]}/",
        b"{}",
        {},
        timeout=1.5,
        allow_private=True,
    )
    took = time.monotonic() - started
    listener.close()
    assert answer == webhook_client.Answer(None, "No answer within 1.5 seconds.")
    assert took < 5  # not the 30 s the trickle would take


def test_deliveries_whose_attempts_never_report_back_are_given_up_after_a_day(
    tree, session, receiver
):
    subscribe(tree, "partner", receiver, events=["order.requested"])
    request_order(tree.actor("customer"), tree.customer.id, 5)
    session.commit()
    (delivery,) = deliveries(session)
    webhooks.claim(delivery.id, clock.now())  # the worker dies, again and again
    assert webhooks.give_up_stuck(clock.now() + timedelta(hours=23)) == 0
    assert webhooks.give_up_stuck(clock.now() + timedelta(hours=25)) == 1
    (delivery,) = deliveries(session)
    assert delivery.state == "failed" and "Given up" in delivery.last_error


def test_a_company_nobody_is_emailed_about_still_tells_its_webhook(tree, session, receiver):
    """The managers' emails and the webhook are separate: a customer without
    managers (an integration-only one) still has its expiring groups told."""
    from app.models import AppUser
    from app.services.managers import set_managers_active

    subscribe(tree, "partner", receiver, events=["licenses.expiring"])
    manager = session.get(AppUser, tree.users["customer"].id)
    set_managers_active(replace_actor_in(tree.customer), [manager.id], False)
    factories.licenses_expiring(tree.customer, 2, clock.now() + timedelta(hours=60))
    session.commit()
    reminders.plan(clock.now())
    reminders.plan(clock.now() + timedelta(minutes=5))
    session.commit()
    deliver_due()
    (event,) = receiver.events("licenses.expiring")
    assert event["company"]["id"] == tree.customer.id and event["data"]["people"] == 2
