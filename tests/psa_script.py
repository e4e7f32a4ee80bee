"""A PSA tool's renewal run, as an MSP would script it: plain `requests` against the
REST API and a webhook receiver of its own — nothing of the panel's code imported.

    renew_expired_customer(base_url, key, receiver) -> what it did

1. subscribe a webhook on the key's partner company (every event);
2. read the customers with expired people from /renewals;
3. take one on Premium and read its expired people (the Expired tab);
4. request as many licenses, assign the order;
5. allocate exactly those people: the plan, then confirm it with an Idempotency-Key
   (sent twice: the retry changes nothing);
6. wait for the webhooks of each step, and check the people hold licenses again.
"""

from __future__ import annotations

import time
import uuid

import requests

from tests.receiver import Receiver


class Api:
    def __init__(self, base_url: str, key: str):
        self.base = base_url.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, expect: int = 200, **kwargs):
        answer = self.session.request(method, self.base + path, timeout=30, **kwargs)
        if answer.status_code != expect:
            raise AssertionError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
        return answer.json() if answer.content else None


def renew_expired_customer(base_url: str, key: str, receiver: Receiver) -> dict:
    api = Api(base_url, key)
    own = [c for c in api.call("GET", "/companies", params={"page_size": 200})["items"]]
    partner = next(c for c in own if c["parent_id"] is None)
    hook = api.call("POST", f"/companies/{partner['id']}/webhooks", 201, json={"url": receiver.url})
    receiver.secret = hook["secret"]

    rows = api.call(
        "GET",
        "/renewals",
        params={"min_expired": 1, "sort": "expired", "page_size": 200},
    )["items"]
    customer = next(r for r in rows if r["kind"] == "customer" and r["plan"] == "Premium")
    company_id = customer["company_id"]
    expired = api.call(
        "GET",
        f"/companies/{company_id}/licenses",
        params={"tab": "expired", "flagged": "false", "page_size": 200},
    )["items"]
    people = [row["id"] for row in expired]
    assert people, customer

    order = api.call(
        "POST",
        f"/companies/{company_id}/orders",
        201,
        json={"quantity": len(people), "license_type": "premium", "po_number": "PSA-1"},
    )
    assigned = api.call("POST", f"/orders/{order['id']}/assign", json={})
    assert assigned["status"] == "assigned", assigned

    plan = api.call(
        "POST", f"/companies/{company_id}/allocations", 201, json={"learner_ids": people}
    )
    assert plan["problem"] is None and plan["people"] == len(people), plan
    confirm = f"/companies/{company_id}/allocations/{plan['selection_id']}/confirm"
    idempotency = {"Idempotency-Key": str(uuid.uuid4())}
    done = api.call("POST", confirm, headers=idempotency)
    again = api.call("POST", confirm, headers=idempotency)  # a retry after a lost answer
    assert done["confirmed"] and again == done

    def heard(type_: str, match) -> dict | None:
        return next((e for e in receiver.events(type_) if match(e)), None)

    steps = {
        "order.requested": lambda e: e["data"]["id"] == order["id"],
        "order.assigned": lambda e: e["data"]["id"] == order["id"],
        "licenses.allocated": lambda e: e["data"]["selection_id"] == plan["selection_id"],
    }
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(heard(t, m) for t, m in steps.items()):
        time.sleep(0.2)
    events = {t: heard(t, m) for t, m in steps.items()}
    allocated = sum(  # one event per pool the seats came from
        e["data"]["people"]
        for e in receiver.events("licenses.allocated")
        if e["data"]["selection_id"] == plan["selection_id"]
    )
    holders = [api.call("GET", f"/learners/{pid}") for pid in people]
    return {
        "company_id": company_id,
        "people": people,
        "order": order,
        "events": events,
        "allocated": allocated,
        "holders": holders,
        "deliveries": api.call("GET", f"/webhooks/{hook['id']}/deliveries")["items"],
    }
