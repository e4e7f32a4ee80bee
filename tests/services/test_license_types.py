"""License types through the services (issue 18, first part): who may request
which type, each type's term, pools that stay within one type (the company's paid
type by default; NFR only when chosen), and the type carried by licenses and people."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app import clock
from app.errors import Invalid
from app.models import Learner, License, Order
from app.services import licenses, pools
from app.services.allocation import allocate, plan, select_people
from app.services.orders import assign_orders, request_order, requestable_types
from app.services.terms import term_expiry
from app.tenancy import system_actor
from tests import factories


def typed_order(company, quantity, license_type, actor=None):
    actor = actor or factories.replace_actor_in(company)
    order = request_order(actor, company.id, quantity, license_type)
    (assigned,) = assign_orders(system_actor("cli"), [order.id])
    return assigned


def test_who_may_request_which_type(tree, session):
    customer = tree.actor("customer")
    assert requestable_types(customer, tree.customer) == ["premium"]
    with pytest.raises(Invalid, match="Managed licenses are requested by the account managers"):
        request_order(customer, tree.customer.id, 5, "managed")
    managing = replace(tree.actor("partner"), managing_company_id=tree.customer.id)
    assert request_order(managing, tree.customer.id, 5, "managed").license_type == "managed"
    with pytest.raises(Invalid, match="never for a customer such as Customer C1"):
        request_order(managing, tree.customer.id, 5, "nfr")
    partner = tree.actor("partner")
    assert requestable_types(partner, tree.partner) == ["premium", "managed", "nfr"]
    assert request_order(partner, tree.partner.id, 10, "NFR").license_type == "nfr"
    for refused, message in (("trial", "Free Trial is started"), ("gold", "Choose a license type")):
        with pytest.raises(Invalid, match=message):
            request_order(partner, tree.partner.id, 10, refused)
    assert request_order(customer, tree.customer.id, 5).license_type == "premium"  # the default


def test_each_type_has_its_term(app, tree, session):
    at = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    assert term_expiry(at, "UTC", "premium")[0] == datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
    assert term_expiry(at, "UTC", "trial")[0] == datetime(2026, 4, 9, 9, 0, tzinfo=UTC)
    app.config["NFR_TERM_MONTHS"] = 6
    try:
        assert term_expiry(at, "UTC", "nfr")[0] == datetime(2026, 9, 10, 9, 0, tzinfo=UTC)
        order = typed_order(tree.partner, 10, "nfr", tree.actor("partner"))
        assert order.expires_at == term_expiry(order.assigned_at, "UTC", "nfr")[0]
    finally:
        app.config["NFR_TERM_MONTHS"] = 12


def test_allocate_draws_the_paid_type_and_nfr_only_when_chosen(tree, session):
    partner = tree.partner
    partner.auto_license = False
    staff = factories.learners(partner, 4)
    nfr = typed_order(partner, 10, "nfr", tree.actor("partner"))
    actor = tree.actor("partner")
    selection = select_people(actor, partner.id, [p.id for p in staff])
    assert plan(actor, selection.id).free == 0  # NFR seats are not the default
    allocate(actor, selection.id, nfr.id)  # chosen explicitly
    session.expire_all()
    held = select(Learner.license_type).where(Learner.id.in_([p.id for p in staff]))
    assert set(session.scalars(held)) == {"nfr"}
    rows = session.scalars(select(License.license_type).where(License.order_id == nfr.id)).all()
    assert rows == ["nfr"] * 4
    # Taken back: no license, no type.
    licenses.deallocate(actor, [staff[0].id])
    session.expire_all()
    assert session.get(Learner, staff[0].id).license_type is None


def test_auto_licensing_never_draws_nfr_seats(tree, session):
    partner = tree.partner
    typed_order(partner, 10, "nfr", tree.actor("partner"))
    (newcomer,) = factories.learners(partner, 1)
    assert session.get(Learner, newcomer.id).license_expires_at is None
    premium = typed_order(partner, 2, "premium", tree.actor("partner"))
    (second,) = factories.learners(partner, 1)
    session.expire_all()
    assert session.get(Learner, second.id).license_type == "premium"
    assert session.get(Order, premium.id).allocated == 1


def test_a_managed_company_draws_its_managed_pools_by_default(tree, session):
    customer = tree.customer
    premium = typed_order(customer, 5, "premium")
    now = clock.now()
    assert pools.paid_type(customer.id, now) == "premium"
    managing = replace(tree.actor("partner"), managing_company_id=customer.id)
    managed = typed_order(customer, 5, "managed", managing)
    assert pools.paid_type(customer.id, now) == "managed"
    assert [o.id for o in pools.open_pools(customer.id, now)] == [managed.id]
    everything = {o.id for o in pools.open_pools(customer.id, now, any_type=True)}
    assert everything == {premium.id, managed.id}


def test_a_po_number_is_kept_checked_and_in_the_emails(tree, session):
    from app.models import Email

    customer = tree.actor("customer")
    order = request_order(customer, tree.customer.id, 5, po_number="  PO-2026-0042 ")
    assert order.po_number == "PO-2026-0042"
    told = session.scalars(select(Email.body).where(Email.order_id == order.id)).all()
    assert told and all("PO number: PO-2026-0042." in body for body in told)
    with pytest.raises(Invalid, match="The PO number must be at most 64 characters"):
        request_order(customer, tree.customer.id, 5, po_number="X" * 65)
    assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_a_co_termed_top_up_expires_with_its_pool_to_the_second(tree, session):
    from datetime import timedelta

    from app.models import Email
    from app.services.orders import coterm_choices

    clock.set_offset(clock.offset() - timedelta(days=60))
    try:
        pool = typed_order(tree.customer, 10, "premium")
    finally:
        clock.set_offset(clock.offset() + timedelta(days=60))
    assert [o.id for o in coterm_choices(tree.customer.id, clock.now())] == [pool.id]
    customer = tree.actor("customer")
    top_up = request_order(customer, tree.customer.id, 3, coterm_order_id=str(pool.id))
    (assigned,) = assign_orders(tree.actor("partner"), [top_up.id])
    assert assigned.expires_at == pool.expires_at and assigned.expires_on == pool.expires_on
    told = session.scalar(
        select(Email.body).where(Email.order_id == top_up.id, Email.kind == "order_assigned")
    )
    assert f"Co-termed: they expire with order #{pool.id}." in told


def test_co_terming_names_only_the_companys_current_pool_of_the_same_type(tree, session):
    pool = typed_order(tree.customer, 10, "premium")
    theirs = typed_order(tree.sub_customer, 10, "premium")
    managing = replace(tree.actor("partner"), managing_company_id=tree.customer.id)
    for order_id, license_type in ((theirs.id, "premium"), (pool.id, "managed"), ("x", "premium")):
        with pytest.raises(Invalid, match="current .* orders to expire with"):
            request_order(managing, tree.customer.id, 2, license_type, coterm_order_id=order_id)


def test_a_pool_expired_before_assignment_offers_the_normal_term(tree, session):
    from datetime import timedelta

    from app.errors import Conflict
    from app.services.orders import preview_assignment

    pool = typed_order(tree.customer, 10, "premium")
    top_up = request_order(tree.actor("customer"), tree.customer.id, 3, coterm_order_id=pool.id)
    clock.set_offset(clock.offset() + timedelta(days=370))
    try:
        partner = tree.actor("partner")
        (plan,) = preview_assignment(partner, [top_up.id])
        assert plan.lapsed.id == pool.id and plan.coterm is None
        with pytest.raises(Conflict, match=f"was to expire with order #{pool.id}, which expired"):
            assign_orders(partner, [top_up.id])
        (assigned,) = assign_orders(partner, [top_up.id], normal_term=[str(top_up.id)])
        expected = term_expiry(assigned.assigned_at, "UTC", "premium")[0]
        assert assigned.expires_at == expected
    finally:
        clock.set_offset(clock.offset() - timedelta(days=370))


def test_a_partial_approval_of_7_of_10_declines_3_with_one_email(tree, session):
    from app.models import AuditEvent, Email

    order = request_order(tree.actor("customer"), tree.customer.id, 10, po_number="PO-9")
    partner = tree.actor("partner")
    with pytest.raises(Invalid, match="A reason for the rest is required"):
        assign_orders(partner, [order.id], approve="7")
    for wrong in ("0", "11", "seven"):
        with pytest.raises(Invalid, match="whole number of seats from 1 to 10"):
            assign_orders(partner, [order.id], approve=wrong, reason="Budget")
    other = request_order(tree.actor("customer"), tree.customer.id, 4)
    with pytest.raises(Invalid, match="one order at a time"):
        assign_orders(partner, [order.id, other.id], approve="3", reason="Budget")
    assert session.get(Order, order.id).status == "requested"
    (assigned,) = assign_orders(partner, [order.id], approve="7", reason="Budget for 7 only")
    session.expire_all()
    assert (assigned.quantity, assigned.status) == (7, "assigned")
    (rest,) = session.scalars(select(Order).where(Order.split_from_id == order.id)).all()
    assert (rest.quantity, rest.status, rest.close_reason) == (3, "declined", "Budget for 7 only")
    assert rest.po_number == "PO-9"
    both = [order.id, rest.id]
    told = session.scalars(
        select(Email).where(Email.order_id.in_(both), Email.kind != "order_requested")
    ).all()
    assert len(told) == 1  # one customer manager, one email
    assert "7 of 10 approved; 3 declined: Budget for 7 only" in told[0].body
    actions = session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.entity == "order", AuditEvent.entity_id.in_(both)
        )
    ).all()
    assert sorted(actions) == ["order.assigned", "order.declined", "order.requested"]


def test_a_renewal_request_approved_in_part_licenses_the_first_by_last_name(tree, session):
    from app.models import Email
    from app.services import renewal_requests

    expired = factories.expired_people(tree.customer, 5)
    people = select(Learner.id).where(Learner.id.in_([p.id for p in expired]))
    order = renewal_requests.request(tree.actor("customer"), tree.customer.id, people).order
    assign_orders(tree.actor("partner"), [order.id], approve="3", reason="Three for now")
    by_name = sorted(expired, key=lambda p: (p.last_name, p.first_name, p.id))
    holders = set(session.scalars(select(License.learner_id).where(License.order_id == order.id)))
    assert holders == {p.id for p in by_name[:3]}
    body = session.scalar(
        select(Email.body).where(Email.order_id == order.id, Email.kind == "order_assigned")
    )
    assert "3 of 5 approved; 2 declined: Three for now" in body
    assert all(p.full_name in body for p in by_name[3:])
    # The two left out may be in a new renewal request at once.
    left = select(Learner.id).where(Learner.id.in_([p.id for p in by_name[3:]]))
    again = renewal_requests.request(tree.actor("customer"), tree.customer.id, left)
    assert again.order.quantity == 2
