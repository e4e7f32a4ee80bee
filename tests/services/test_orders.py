"""Orders through the services: request, assign, decline, cancel, and who is told."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app import clock
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import AuditEvent, Email, Order
from app.services.orders import (
    assign_orders,
    cancel_order,
    decline_order,
    history,
    request_order,
)
from app.services.terms import license_expiry


def request(tree, who, quantity=10):
    actor = tree.actor(who)
    return request_order(actor, actor.company_in_view, quantity)


def emails_to(session, user):
    return session.scalars(select(Email).where(Email.recipient == user.email)).all()


@pytest.mark.parametrize("quantity", [0, -1, "1.5", "abc", "", None, 10_001, "1e3"])
def test_a_bad_quantity_is_refused_and_nothing_is_created(tree, session, quantity):
    with pytest.raises(Invalid, match="whole number from 1 to 10,000"):
        request(tree, "customer", quantity)
    assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_a_customer_manager_requests_for_its_own_company_only(tree, session):
    order = request(tree, "customer", " 25 ")
    assert (order.company_id, order.quantity, order.status) == (tree.customer.id, 25, "requested")
    assert order.requested_by_id == tree.users["customer"].id
    with pytest.raises(Forbidden):
        request_order(tree.actor("customer"), tree.sub_customer.id, 5)


def test_a_sub_partner_requests_for_its_own_staff(tree):
    order = request(tree, "sub", 3)
    assert order.company_id == tree.sub.id


def test_the_nearest_account_managers_above_are_told_of_a_request(tree, session):
    request(tree, "sub_customer", 7)
    (mail,) = emails_to(session, tree.users["sub"])
    assert mail.kind == "order_requested"
    assert "7 licenses for Customer C2" in mail.subject
    assert "Sub_Customer_Cm Manager requested 7 licenses for Customer C2" in mail.body
    assert "http://panel.test/orders/show/" in mail.body
    assert emails_to(session, tree.users["partner"]) == []


def test_a_request_skips_companies_without_account_managers(tree, session):
    from app.services.managers import set_managers_active
    from tests.factories import system_actor

    set_managers_active(system_actor("cli"), [tree.users["sub"].id], False)
    request(tree, "sub_customer", 4)
    assert len(emails_to(session, tree.users["partner"])) == 1
    assert emails_to(session, tree.users["sub"]) == []


def test_a_partners_own_request_goes_to_the_platform_admins(tree, session):
    request(tree, "partner", 2)
    assert len(emails_to(session, tree.users["admin"])) == 1


def test_assign_fixes_the_term_in_the_companys_time_zone(tree, session, app):
    tree.customer.timezone = "Pacific/Auckland"
    order = request(tree, "customer", 10)
    (assigned,) = assign_orders(tree.actor("partner"), [order.id])
    expected = license_expiry(assigned.assigned_at, "Pacific/Auckland", 12)
    assert (assigned.status, assigned.assigned_by_id) == ("assigned", tree.users["partner"].id)
    assert (assigned.expires_at, assigned.expires_on) == expected
    assert abs(assigned.assigned_at - clock.now()) < timedelta(minutes=1)
    (mail,) = emails_to(session, tree.users["customer"])
    assert mail.kind == "order_assigned" and "License Assigned Notification" in mail.subject
    # In the company's zone, with its zone: "2 Dec 2027, 18:32 NZDT".
    local = expected[0].astimezone(ZoneInfo("Pacific/Auckland"))
    assert f"They expire on {local.day} {local:%b %Y}, {local:%H:%M %Z}." in mail.body


def test_the_term_follows_the_configured_number_of_months(tree, app):
    order = request(tree, "customer", 1)
    app.config["LICENSE_TERM_MONTHS"] = 3
    try:
        (assigned,) = assign_orders(tree.actor("partner"), [order.id])
    finally:
        app.config["LICENSE_TERM_MONTHS"] = 12
    assert 88 <= (assigned.expires_at - assigned.assigned_at).days <= 92


def test_a_company_cannot_assign_its_own_order(tree, session):
    order = request(tree, "sub", 5)
    with pytest.raises(Forbidden, match="assigned or declined by the managers above"):
        assign_orders(tree.actor("sub"), [order.id])
    assign_orders(tree.actor("partner"), [order.id])


def test_the_platform_admin_assigns_a_partners_order(tree):
    order = request(tree, "partner", 5)
    (assigned,) = assign_orders(tree.actor("admin"), [order.id])
    assert assigned.status == "assigned"


def test_an_order_is_assigned_once(tree):
    order = request(tree, "customer", 5)
    assign_orders(tree.actor("partner"), [order.id])
    with pytest.raises(Conflict, match=f"Order #{order.id} is already assigned"):
        assign_orders(tree.actor("partner"), [order.id])


def test_bulk_assign_is_all_or_nothing_and_names_the_orders_at_fault(tree, session):
    first, second = request(tree, "customer", 1), request(tree, "sub_customer", 2)
    own = request(tree, "partner", 3)
    with pytest.raises(Forbidden, match=f"Order #{own.id}"):
        assign_orders(tree.actor("partner"), [first.id, second.id, own.id])
    session.expire_all()
    assert {o.status for o in session.scalars(select(Order))} == {"requested"}
    foreign = request(tree, "other_customer", 1)
    with pytest.raises(NotFound):
        assign_orders(tree.actor("partner"), [first.id, foreign.id])
    assert len(assign_orders(tree.actor("partner"), [first.id, second.id])) == 2


def test_decline_needs_a_reason_and_tells_the_company(tree, session):
    order = request(tree, "customer", 5)
    with pytest.raises(Invalid, match="A reason is required"):
        decline_order(tree.actor("partner"), order.id, "  ")
    declined = decline_order(tree.actor("partner"), order.id, "Budget not approved")
    assert (declined.status, declined.close_reason) == ("declined", "Budget not approved")
    (mail,) = emails_to(session, tree.users["customer"])
    assert "Budget not approved" in mail.body
    with pytest.raises(Conflict, match="no longer requested"):
        cancel_order(tree.actor("customer"), order.id, "too late")


def test_only_managers_above_decline_and_only_the_requester_cancels(tree, session):
    order = request(tree, "customer", 5)
    with pytest.raises(Forbidden):
        decline_order(tree.actor("customer"), order.id, "no")
    with pytest.raises(Forbidden):
        cancel_order(tree.actor("partner"), order.id, "no")
    with pytest.raises(NotFound):
        cancel_order(tree.actor("sub_customer"), order.id, "no")
    cancelled = cancel_order(tree.actor("customer"), order.id, "Ordered by mistake")
    assert cancelled.status == "cancelled"
    kinds = {m.kind: m for m in emails_to(session, tree.users["partner"])}
    assert set(kinds) == {"order_requested", "order_cancelled"}
    assert "Ordered by mistake" in kinds["order_cancelled"].body


def test_each_change_is_in_the_orders_history(tree, session):
    order = request(tree, "customer", 5)
    assign_orders(tree.actor("partner"), [order.id])
    events = history(order.id)
    assert [e.action for e in events] == ["order.requested", "order.assigned"]
    assert [e.actor_id for e in events] == [tree.users["customer"].id, tree.users["partner"].id]
    assert events[1].before == {"status": "requested"}
    assert events[1].after["status"] == "assigned" and events[1].after["expires_at"]
    assert {e.interface for e in events} == {"web"}
    order_events = select(func.count()).where(AuditEvent.entity == "order")
    assert session.scalar(order_events) == 2


def test_an_email_key_is_written_once(tree, session):
    from app.services.emails import queue_email

    order = request(tree, "customer", 5)
    args = dict(
        key="k-1",
        kind="order_requested",
        company_id=tree.customer.id,
        recipient="a@example.com",
        subject="s",
        body="b",
        order_id=order.id,
    )
    assert queue_email(**args) is not None
    assert queue_email(**args) is None
    assert session.scalar(select(func.count()).where(Email.key == "k-1")) == 1
