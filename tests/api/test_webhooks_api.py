"""Webhooks through the API: add one (its secret in that answer only), read its
delivery log, replay an event by its id, delete it; other tenants get 404."""

from sqlalchemy import func, select

from app.jobs.webhooks import deliver_due
from app.models import Webhook
from app.services.orders import request_order
from tests.receiver import Receiver, serve


def test_a_psa_subscribes_reads_the_log_replays_and_unsubscribes(tree, api, session):
    partner = api("partner")
    with serve(Receiver()) as receiver:
        answer = partner.post(
            f"/companies/{tree.partner.id}/webhooks",
            json={"url": receiver.url, "events": ["order.requested"]},
        )
        assert answer.status_code == 201, answer.get_json()
        hook = answer.get_json()
        receiver.secret = hook["secret"]
        assert hook["events"] == ["order.requested"]
        listed = partner.get(f"/companies/{tree.partner.id}/webhooks").get_json()
        assert [h["url"] for h in listed["items"]] == [receiver.url]
        assert "secret" not in listed["items"][0]
        request_order(tree.actor("customer"), tree.customer.id, 5)
        session.commit()
        deliver_due()
        log = partner.get(f"/webhooks/{hook['id']}/deliveries").get_json()["items"]
        assert [(d["type"], d["state"], d["status_code"]) for d in log] == [
            ("order.requested", "delivered", 200)
        ]
        event_id = log[0]["event_id"]
        replayed = partner.post(f"/webhooks/{hook['id']}/replay", json={"event_id": event_id})
        assert replayed.status_code == 202 and replayed.get_json()["replay_of_id"] == log[0]["id"]
        unknown = partner.post(f"/webhooks/{hook['id']}/replay", json={"event_id": "evt_no"})
        assert unknown.status_code == 422 and unknown.get_json()["field"] == "event_id"
        deliver_due()
        assert len(receiver.calls) == 2 and len(receiver.events()) == 1
        assert all(call.valid for call in receiver.calls)
        assert partner.call("DELETE", f"/webhooks/{hook['id']}").status_code == 204
    assert session.scalar(select(func.count(Webhook.id))) == 0


def test_a_bad_webhook_is_refused_with_its_field_and_nothing_is_added(tree, api, session):
    partner = api("partner")
    for body, field in (
        ({"url": "gopher://x.example.com/"}, "url"),
        ({"url": "https://psa.example.com/", "events": []}, "events"),
        ({"url": "https://psa.example.com/", "events": ["order.shipped"]}, "events"),
    ):
        answer = partner.post(f"/companies/{tree.partner.id}/webhooks", json=body)
        assert answer.status_code == 422, body
        assert answer.get_json()["field"].split(".")[0] == field, answer.get_json()
    assert (
        api("customer")
        .post(f"/companies/{tree.partner.id}/webhooks", json={"url": "https://psa.example.com/"})
        .status_code
        == 404
    )
    assert session.scalar(select(func.count(Webhook.id))) == 0
