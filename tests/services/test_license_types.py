"""License types through the services (issue 18, first part): who may request
which type, each type's term, pools that stay within one type (the company's paid
type by default; NFR only when chosen), and the type carried by licenses and people."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

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
