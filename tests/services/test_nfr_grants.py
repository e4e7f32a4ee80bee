"""NFR grants (issue 18): every partner and sub-partner holds NFR_GRANT_SEATS seats
for its own staff — on creation, for existing ones by `flask setup`, and again when a
grant expires — never customers; granted once however often the job runs."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.jobs.periodic import grant_nfr as grant_job
from app.models import AuditEvent, Learner, Order
from app.services import companies, pools
from app.services.orders import grant_nfr
from tests import factories


@pytest.fixture
def granting(app):
    app.config["NFR_GRANT_SEATS"] = 10
    yield
    app.config["NFR_GRANT_SEATS"] = 0


def grants(session, company):
    return session.scalars(
        select(Order).where(Order.company_id == company.id, Order.granted).order_by(Order.id)
    ).all()


def test_a_new_sub_partner_gets_ten_nfr_seats_a_customer_none(tree, session, granting):
    partner = tree.actor("partner")
    sub = companies.create_company(
        partner, name="Sub T", kind="sub_partner", parent_id=tree.partner.id
    )
    shop = companies.create_company(partner, name="Shop", kind="customer", parent_id=sub.id)
    (grant,) = grants(session, sub)
    assert (grant.quantity, grant.license_type, grant.status) == (10, "nfr", "assigned")
    assert grant.expires_at.year == grant.assigned_at.year + 1
    assert grants(session, shop) == []
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "order.granted"))
    assert event.entity_id == grant.id and event.interface == "worker"
    # NFR seats are never the default: the sub-partner's new staff get no license.
    (newcomer,) = factories.learners(sub, 1)
    assert session.get(Learner, newcomer.id).license_expires_at is None
    assert pools.open_pools(sub.id, clock.now()) == []


def test_existing_companies_are_granted_once_and_again_when_it_expires(tree, session, granting):
    first = grant_nfr()
    assert {o.company_id for o in first} == {tree.partner.id, tree.sub.id, tree.other_partner.id}
    assert grant_nfr() == [] and grant_job() == 0  # run again: nothing more
    clock.set_offset(clock.offset() + timedelta(days=370))
    try:
        assert grant_job() == 3  # the grants expired: granted again
    finally:
        clock.set_offset(clock.offset() - timedelta(days=370))
    assert len(grants(session, tree.partner)) == 2
    total = session.scalar(select(func.count()).where(Order.granted))
    assert total == 6


def test_an_empty_sub_partner_is_deleted_with_its_unused_grant(tree, session, granting):
    from app.errors import Invalid

    partner = tree.actor("partner")
    parent = tree.partner.id
    empty = companies.create_company(partner, name="Oops", kind="sub_partner", parent_id=parent)
    assert len(grants(session, empty)) == 1
    companies.delete_company(partner, empty.id)
    session.flush()
    assert session.get(type(empty), empty.id) is None
    assert session.scalar(select(func.count()).where(Order.company_id == empty.id)) == 0
    # A customer created with an order keeps it: deleting it is refused, with the reason.
    order = companies.NewOrder("5")
    shop = companies.create_company(
        partner, name="Shop", kind="customer", parent_id=parent, order=order
    )
    with pytest.raises(Invalid, match="cannot be deleted while it has 1 orders"):
        companies.delete_company(partner, shop.id)
