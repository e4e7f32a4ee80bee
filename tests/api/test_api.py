"""The REST API: keys, scope, lists, errors as problem+json, the OpenAPI document."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.models import ApiKey, AuditEvent, Learner
from app.services.managers import set_managers_active
from app.tenancy import system_actor
from tests.api.conftest import make_key


def test_a_key_acts_as_its_user_within_its_scope(tree, api):
    partner = api("partner")
    listed = partner.get("/companies", page_size=200).get_json()
    names = {c["name"] for c in listed["items"]}
    assert names == {"Partner P", "Sub S", "Customer C1", "Customer C2"}
    assert listed["total"] == 4 and listed["next"] is None
    customer = api("customer").get("/companies").get_json()
    assert [c["name"] for c in customer["items"]] == ["Customer C1"]
    assert len(api("admin").get("/companies", page_size=200).get_json()["items"]) == 6


def test_anything_outside_the_scope_is_not_found_and_nothing_changes(tree, api, session):
    other = tree.other_customer
    stranger = tree.people[other.name][0]
    partner = api("partner")
    for path in (
        f"/companies/{other.id}",
        f"/companies/{other.id}/learners",
        f"/learners/{stranger.id}",
    ):
        answer = partner.get(path)
        assert answer.status_code == 404, path
        assert answer.mimetype == "application/problem+json"
        assert answer.get_json()["status"] == 404
    before = session.scalar(select(func.count()).select_from(Learner))
    answer = partner.post(
        f"/companies/{other.id}/learners",
        json={"email": "x@example.com", "first_name": "X", "last_name": "Y"},
    )
    assert answer.status_code == 404
    assert session.scalar(select(func.count()).select_from(Learner)) == before
    # a customer's manager: not even its partner
    assert api("customer").get(f"/companies/{tree.partner.id}").status_code == 404


def test_without_a_valid_key_every_call_is_401(tree, api, session):
    text = make_key(tree.users["partner"], "soon revoked")
    assert api(key=text).get("/companies").status_code == 200
    for key in (None, "lr_nothing_here", text[:-2] + "xx", "Basic abc"):
        answer = api(key=key).get("/companies")
        assert answer.status_code == 401, key
        assert answer.mimetype == "application/problem+json"
        assert "Bearer" in answer.get_json()["detail"]
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    key = session.scalar(select(ApiKey).where(ApiKey.name == "soon revoked"))
    from app.services import api_keys

    api_keys.revoke(system_actor("cli"), key.id)
    session.commit()
    assert api(key=text).get("/companies").status_code == 401


def test_an_expired_key_or_a_deactivated_user_opens_nothing(tree, api, session):
    expiring = make_key(
        tree.users["customer"], "expiring", expires_at=datetime.now(UTC) + timedelta(seconds=1)
    )
    key = session.scalar(select(ApiKey).where(ApiKey.name == "expiring"))
    key.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.commit()
    assert api(key=expiring).get("/companies").status_code == 401
    partner_key = make_key(tree.users["partner"], "partner's")
    assert api(key=partner_key).get("/companies").status_code == 200
    set_managers_active(system_actor("cli"), [tree.users["partner"].id], False)
    session.commit()
    assert api(key=partner_key).get("/companies").status_code == 401


def test_a_key_limited_to_one_company_sees_that_company_alone(tree, api):
    limited = make_key(tree.users["partner"], "C1 only", limited_to=tree.customer.id)
    answer = api(key=limited).get("/companies").get_json()
    assert [c["name"] for c in answer["items"]] == ["Customer C1"]
    assert api(key=limited).get(f"/companies/{tree.sub.id}").status_code == 404


def test_a_read_only_key_changes_nothing(tree, api, session):
    text = make_key(tree.users["customer"], "reader", read_only=True)
    answer = api(key=text).post(
        f"/companies/{tree.customer.id}/learners",
        json={"email": "new@customerc1.example.com", "first_name": "New", "last_name": "Person"},
    )
    assert answer.status_code == 403 and "read-only" in answer.get_json()["detail"]
    assert (
        session.scalar(select(Learner).where(Learner.email == "new@customerc1.example.com")) is None
    )


def test_adding_a_learner_is_audited_as_the_api_with_the_keys_label(tree, api, session):
    answer = api("partner").post(
        f"/companies/{tree.customer.id}/learners",
        json={"email": "New@CustomerC1.example.com", "first_name": "New", "last_name": "Person"},
    )
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["email"] == "new@customerc1.example.com" and body["company_id"] == tree.customer.id
    event = session.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == "learner.added")
        .order_by(AuditEvent.id.desc())
    )
    assert (event.interface, event.via) == ("api", "partner key")
    assert event.on_behalf_of_id == tree.customer.id  # the company in the path


def test_invalid_input_is_422_naming_the_field(tree, api, session):
    customer = api("customer")
    path = f"/companies/{tree.customer.id}/learners"
    answer = customer.post(
        path, json={"email": "not an address", "first_name": "A", "last_name": "B"}
    )
    assert answer.status_code == 422 and answer.get_json()["field"] == "email"
    answer = customer.post(path, json={"first_name": "A", "last_name": "B"})
    assert answer.status_code == 422 and answer.get_json()["field"] == "email"
    assert customer.post(path, json=["not", "an", "object"]).status_code == 422
    answer = customer.get("/companies", page_size=201)
    assert answer.status_code == 422 and answer.get_json()["field"] == "page_size"
    taken = tree.people[tree.customer.name][0].email
    answer = customer.post(path, json={"email": taken, "first_name": "A", "last_name": "B"})
    assert answer.status_code == 422 and answer.get_json()["field"] == "email"


def test_lists_page_in_a_stable_order_with_a_link_to_the_next(tree, api):
    customer = api("customer")
    path = f"/companies/{tree.customer.id}/learners"
    first = customer.get(path, page_size=2).get_json()
    assert first["total"] == 3 and len(first["items"]) == 2
    second = customer.client.get(first["next"], headers=customer.headers()).get_json()
    assert second["next"] is None and len(second["items"]) == 1
    everyone = customer.get(path, page_size=200).get_json()["items"]
    assert [p["id"] for p in first["items"] + second["items"]] == [p["id"] for p in everyone]
    assert everyone == sorted(everyone, key=lambda p: (p["last_name"], p["id"]))


def test_reads_carry_an_etag_and_answer_304_when_unchanged(tree, api):
    customer = api("customer")
    answer = customer.get(f"/companies/{tree.customer.id}")
    etag = answer.headers["ETag"]
    again = customer.get(f"/companies/{tree.customer.id}", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_the_last_use_is_recorded(tree, api, session):
    api("customer").get("/companies")
    key = session.scalar(select(ApiKey).where(ApiKey.name == "customer key"))
    session.refresh(key)
    assert key.last_used_at is not None and key.last_used_from == "127.0.0.1"


def test_the_openapi_document_describes_every_operation(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    routes = {
        (rule.rule.removeprefix("/api/v1").replace("<int:", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint not in {"api.openapi", "api.docs"}
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    described = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert routes == described
    assert client.get("/api/v1/docs").status_code == 200


def test_an_unknown_api_address_answers_problem_json(tree, api):
    answer = api("customer").get("/nothing-here")
    assert answer.status_code == 404 and answer.mimetype == "application/problem+json"


def test_the_cli_creates_a_key_shown_once_and_revokes_it(app, tree, api, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["api-keys", "create", "--user", "customer_cm", "--name", "Halo"])
    assert result.exit_code == 0, result.output
    text = result.output.strip().splitlines()[-1]
    assert text.startswith("lr_")
    assert api(key=text).get("/companies").status_code == 200
    key = session.scalar(select(ApiKey).where(ApiKey.name == "Halo"))
    assert text not in {key.secret_hash, key.prefix}
    result = runner.invoke(args=["api-keys", "revoke", str(key.id)])
    assert result.exit_code == 0, result.output
    assert api(key=text).get("/companies").status_code == 401
    result = runner.invoke(args=["api-keys", "create", "--user", "nobody", "--name", "X"])
    assert result.exit_code != 0 and "No user named" in result.output


def test_the_whole_order_flow_by_api(tree, api, session):
    """The customer requests; its partner sees it among the requested, assigns part
    of it with a reason; the rest is declined as an order of its own."""
    customer, partner = api("customer"), api("partner")
    answer = customer.post(
        f"/companies/{tree.customer.id}/orders", json={"quantity": 10, "po_number": "PO-7"}
    )
    assert answer.status_code == 201, answer.get_json()
    order = answer.get_json()
    assert (order["status"], order["quantity"], order["po_number"]) == ("requested", 10, "PO-7")
    waiting = partner.get("/orders", status="requested", company_id=tree.customer.id).get_json()
    assert [o["id"] for o in waiting["items"]] == [order["id"]]
    assert api("other_partner").get(f"/orders/{order['id']}").status_code == 404
    refused = partner.post(f"/orders/{order['id']}/assign", json={"approve": 6})
    assert refused.status_code == 422 and refused.get_json()["field"] == "reason"
    answer = partner.post(
        f"/orders/{order['id']}/assign", json={"approve": 6, "reason": "budget for 6"}
    )
    assert answer.status_code == 200, answer.get_json()
    assigned = answer.get_json()
    assert (assigned["status"], assigned["quantity"]) == ("assigned", 6)
    assert assigned["expires_at"] is not None
    rest = partner.get("/orders", status="declined").get_json()["items"]
    assert [(o["quantity"], o["close_reason"]) for o in rest] == [(4, "budget for 6")]
    again = partner.post(f"/orders/{order['id']}/assign", json={})
    assert again.status_code == 409 and "already assigned" in again.get_json()["detail"]


def test_a_customer_cannot_assign_its_own_request_and_may_cancel_it(tree, api):
    customer = api("customer")
    order = customer.post(f"/companies/{tree.customer.id}/orders", json={"quantity": 3}).get_json()
    answer = customer.post(f"/orders/{order['id']}/assign", json={})
    assert answer.status_code == 403
    answer = customer.post(f"/orders/{order['id']}/cancel", json={"reason": "ordered twice"})
    assert answer.status_code == 200 and answer.get_json()["status"] == "cancelled"
    answer = api("partner").post(f"/orders/{order['id']}/decline", json={"reason": "late"})
    assert answer.status_code == 409


def test_a_partner_declines_with_a_reason(tree, api):
    order = (
        api("customer")
        .post(f"/companies/{tree.customer.id}/orders", json={"quantity": 3})
        .get_json()
    )
    partner = api("partner")
    assert partner.post(f"/orders/{order['id']}/decline", json={}).status_code == 422
    answer = partner.post(f"/orders/{order['id']}/decline", json={"reason": "no budget"})
    assert answer.get_json()["status"] == "declined"


def test_a_learner_is_changed_and_deactivated_and_a_stale_if_match_changes_nothing(
    tree, api, session
):
    person = tree.people[tree.customer.name][0]
    customer = api("customer")
    read = customer.get(f"/learners/{person.id}")
    etag = read.headers["ETag"]
    answer = customer.call("PATCH", f"/learners/{person.id}", json={"last_active_on": "2026-11-30"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["last_active_on"] == "2026-11-30"
    assert answer.get_json()["first_name"] == person.first_name  # kept
    stale = customer.client.patch(
        f"/api/v1/learners/{person.id}",
        json={"first_name": "Stale"},
        headers=customer.headers({"If-Match": etag}),
    )
    assert stale.status_code == 412 and stale.mimetype == "application/problem+json"
    session.expire_all()
    assert session.get(Learner, person.id).first_name == person.first_name
    current = customer.get(f"/learners/{person.id}").headers["ETag"]
    fresh = customer.client.patch(
        f"/api/v1/learners/{person.id}",
        json={"first_name": "Fresh"},
        headers=customer.headers({"If-Match": current}),
    )
    assert fresh.status_code == 200 and fresh.get_json()["first_name"] == "Fresh"
    answer = customer.post(f"/learners/{person.id}/deactivate")
    assert answer.status_code == 200 and answer.get_json()["active"] is False
    listed = customer.get(f"/companies/{tree.customer.id}/learners", active="false").get_json()
    assert [p["id"] for p in listed["items"]] == [person.id]
    assert customer.post(f"/learners/{person.id}/reactivate").get_json()["active"] is True
    bad = customer.call("PATCH", f"/learners/{person.id}", json={"last_active_on": "yesterday"})
    assert bad.status_code == 422 and bad.get_json()["field"] == "last_active_on"


def test_the_seat_position_of_a_company(tree, api, session):
    from tests import factories

    factories.assigned_order(tree.customer, 9)
    session.commit()
    seats = api("partner").get(f"/companies/{tree.customer.id}/seats").get_json()
    assert (seats["assigned"], seats["free"]) == (9, 9 - seats["allocated"])
    assert seats["by_type"][0]["license_type"] == "premium"
    assert api("other_partner").get(f"/companies/{tree.customer.id}/seats").status_code == 404


def test_emails_and_the_audit_log_as_their_pages_show_them(tree, api, session):
    """A customer's request mails the account managers above: the partner's key
    lists that email, the customer's does not (the Emails page's audience); the
    audit log lists the request, for both, and nothing of other partners."""
    order = (
        api("customer")
        .post(f"/companies/{tree.customer.id}/orders", json={"quantity": 2})
        .get_json()
    )
    partner_mail = api("partner").get("/emails", company_id=tree.customer.id).get_json()
    assert any(m["order_id"] == order["id"] for m in partner_mail["items"])
    customer_mail = api("customer").get("/emails").get_json()
    assert not any(m["order_id"] == order["id"] for m in customer_mail["items"])
    for role in ("customer", "partner"):
        events = api(role).get("/audit", action="order.requested").get_json()["items"]
        assert [e["entity_id"] for e in events] == [order["id"]], role
        assert (events[0]["interface"], events[0]["via"]) == ("api", "customer key")
    assert api("other_partner").get("/audit", action="order.requested").get_json()["total"] == 0


def test_each_key_has_its_own_rate_limit(app, tree, api, monkeypatch):
    from app.throttle import ApiRateLimit

    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    monkeypatch.setitem(app.extensions, "api_rate_limit", ApiRateLimit("3 per minute", "memory://"))
    customer = api("customer")
    assert [customer.get("/companies").status_code for _ in range(3)] == [200] * 3
    refused = customer.get("/companies")
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "3 per minute" in refused.get_json()["detail"]
    assert api("partner").get("/companies").status_code == 200  # another key


def test_a_partner_creates_a_customer_and_reads_it_on_renewals(tree, api, session):
    partner = api("partner")
    answer = partner.post("/companies", json={"name": "Customer API", "timezone": "Europe/London"})
    assert answer.status_code == 201, answer.get_json()
    created = answer.get_json()
    assert (created["kind"], created["parent_id"]) == ("customer", tree.partner.id)
    assert api("customer").post("/companies", json={"name": "Nope"}).status_code in (403, 422)
    refused = partner.post("/companies", json={"name": "X", "parent_id": tree.other_partner.id})
    assert refused.status_code == 404
    rows = partner.get("/renewals", search="Customer API").get_json()
    assert [r["name"] for r in rows["items"]] == ["Customer API"]
    assert rows["items"][0]["figures"]["learners"] == 0
    busy = partner.get("/renewals", min_learners=1, sort="name", descending="false").get_json()
    names = [r["name"] for r in busy["items"]]
    assert "Customer API" not in names and names == sorted(names)
    assert api("customer").get("/renewals").get_json()["total"] == 1


def test_renewal_is_requested_for_the_people_named(tree, api, session):
    from tests import factories

    people = factories.expired_people(tree.customer, 3)
    session.commit()
    ids = [p.id for p in people[:2]]
    stranger = tree.people[tree.other_customer.name][0].id
    answer = api("customer").post(
        f"/companies/{tree.customer.id}/renewal-requests", json={"learner_ids": [*ids, stranger]}
    )
    assert answer.status_code == 201, answer.get_json()
    order = answer.get_json()
    assert (order["quantity"], order["status"]) == (2, "requested")  # the stranger left out
    again = api("customer").post(
        f"/companies/{tree.customer.id}/renewal-requests", json={"learner_ids": ids}
    )
    assert again.status_code == 422 and "Nobody to request" in again.get_json()["detail"]


def test_allocating_is_planned_then_confirmed_once_whatever_the_retries(tree, api, session):
    from app.models import Order
    from tests import factories

    tree.customer.auto_license = False
    people = factories.learners(tree.customer, 4)
    order = factories.assigned_order(tree.customer, 5)
    session.commit()
    customer = api("customer")
    base = f"/companies/{tree.customer.id}/allocations"
    plan = customer.post(base, json={"learner_ids": [p.id for p in people]})
    assert plan.status_code == 201, plan.get_json()
    planned = plan.get_json()
    assert (planned["people"], planned["free"], planned["problem"]) == (4, 5, None)
    assert planned["confirmed"] is False
    confirm = f"{base}/{planned['selection_id']}/confirm"
    missing = customer.post(confirm)
    assert missing.status_code == 422 and missing.get_json()["field"] == "Idempotency-Key"
    headers = {"Idempotency-Key": "alloc-1"}
    done = customer.post(confirm, headers=headers)
    assert done.status_code == 200 and done.get_json()["confirmed"] is True
    again = customer.post(confirm, headers=headers)
    assert again.get_json() == done.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    session.expire_all()
    assert session.get(Order, order.id).allocated == 4
    other = customer.post(confirm, headers={"Idempotency-Key": "alloc-2"})
    assert other.status_code == 409 and "already" in other.get_json()["detail"]
    taken = customer.post(
        f"/companies/{tree.customer.id}/deallocations", json={"learner_ids": [people[0].id]}
    )
    assert taken.get_json() == {"deallocated": 1}
    session.expire_all()
    assert session.get(Order, order.id).allocated == 3


def test_too_few_seats_plans_the_shortfall_and_confirming_changes_nothing(tree, api, session):
    from app.models import Order
    from tests import factories

    tree.customer.auto_license = False
    factories.learners(tree.customer, 4)
    order = factories.assigned_order(tree.customer, 2)
    session.commit()
    customer = api("customer")
    base = f"/companies/{tree.customer.id}/allocations"
    planned = customer.post(base, json={"tab": "unlicensed"}).get_json()
    assert planned["shortfall"] > 0
    assert "seats free: request" in planned["problem"] or "seat free: request" in planned["problem"]
    answer = customer.post(
        f"{base}/{planned['selection_id']}/confirm", headers={"Idempotency-Key": "k"}
    )
    assert answer.status_code == 409 and answer.get_json()["detail"] == planned["problem"]
    session.expire_all()
    assert session.get(Order, order.id).allocated == 0


def test_a_license_tab_lists_its_people(tree, api, session):
    from tests import factories

    expired = factories.expired_people(tree.customer, 2)
    session.commit()
    customer = api("customer")
    path = f"/companies/{tree.customer.id}/licenses"
    tab = customer.get(path, tab="expired").get_json()
    assert sorted(p["id"] for p in tab["items"]) == sorted(p.id for p in expired)
    assert all(p["license_expires_at"] for p in tab["items"])
    unlicensed = customer.get(path, tab="unlicensed").get_json()["items"]
    assert not {p["id"] for p in unlicensed} & {p.id for p in expired}
    assert customer.get(path, tab="expired", flagged="true").get_json()["total"] == 0
    assert customer.get(path).status_code == 422  # the tab is required


def test_an_admins_key_limited_to_a_company_stays_in_it(tree, api):
    limited = make_key(tree.users["admin"], "admin for C1", limited_to=tree.customer.id)
    answer = api(key=limited).post(
        "/companies", json={"name": "Elsewhere", "parent_id": tree.other_partner.id}
    )
    assert answer.status_code == 404
    names = [c["name"] for c in api(key=limited).get("/companies").get_json()["items"]]
    assert names == ["Customer C1"]


def test_a_key_sent_again_with_other_data_is_refused(tree, api, session):
    customer = api("customer")
    path = f"/companies/{tree.customer.id}/orders"
    headers = {"Idempotency-Key": "order-1"}
    first = customer.post(path, json={"quantity": 3}, headers=headers)
    assert first.status_code == 201
    assert customer.post(path, json={"quantity": 3}, headers=headers).get_json() == first.get_json()
    other = customer.post(path, json={"quantity": 4}, headers=headers)
    assert other.status_code == 422 and other.get_json()["field"] == "Idempotency-Key"
    assert customer.get("/orders", status="requested").get_json()["total"] == 1


def test_text_a_database_cannot_store_is_refused_with_its_field(tree, api, session):
    customer = api("customer")
    path = f"/companies/{tree.customer.id}/learners"
    for bad in ("Ann\x00", "\ud800"):
        answer = customer.post(
            path, json={"email": "a@b.example", "first_name": bad, "last_name": "B"}
        )
        assert answer.status_code == 422 and answer.get_json()["field"] == "first_name"
    deep = "[" * 5000 + "]" * 5000
    answer = customer.client.post(
        f"/api/v1{path}", data=deep, headers=customer.headers({"Content-Type": "application/json"})
    )
    assert answer.status_code == 422


def test_the_next_page_carries_only_the_lists_own_arguments(tree, api):
    customer = api("customer")
    path = f"/companies/{tree.customer.id}/learners"
    answer = customer.get(path, page_size=1, company_id="x", _method="FOO", active="true")
    assert answer.status_code == 200
    following = answer.get_json()["next"]
    assert "company_id=x" not in following and "_method" not in following
    assert customer.client.get(following, headers=customer.headers()).status_code == 200
