"""Renew these same people through the services: a request remembers its people;
assigning it licenses them at once (renewing the still-active ones), names those
left out, and licenses nobody twice."""

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.errors import Conflict, Invalid
from app.models import AuditEvent, Email, Learner, License, Order, OrderPerson
from app.services import licenses, renewal_requests
from app.services.allocation import allocate, select_people
from app.services.orders import assign_orders, decline_order
from tests import factories


def ids(people):
    return [p.id for p in people]


def people_query(people):
    return select(Learner.id).where(Learner.id.in_(ids(people)))


def request_as_customer(tree, people, **kwargs):
    actor = tree.actor("customer")
    return renewal_requests.request(actor, actor.company_in_view, people_query(people), **kwargs)


@pytest.fixture
def twelve(tree, session):
    """Customer C1: 5 people whose licenses run for 20 more days, 7 expired."""
    now = clock.now()
    old_order, active = factories.licenses_expiring(tree.customer, 5, now + timedelta(days=20))
    expired = factories.expired_people(tree.customer, 7)
    session.commit()
    return old_order, active, expired


def running_licenses(session, person_ids):
    now = clock.now()
    return dict(
        session.execute(
            select(License.learner_id, func.count())
            .where(
                License.learner_id.in_(person_ids),
                License.ended_at.is_(None),
                License.expires_at > now,
            )
            .group_by(License.learner_id)
        ).all()
    )


def test_twelve_people_two_renewed_by_hand_ten_get_the_new_order(tree, twelve, session, app):
    old_order, active, expired = twelve
    app.config["ORDER_MAX_QUANTITY"] = 5  # a renewal request is sized by its people
    try:
        made = request_as_customer(tree, active + expired)
    finally:
        app.config["ORDER_MAX_QUANTITY"] = 10_000
    order = made.order
    assert (order.quantity, order.renewal, order.status) == (12, True, "requested")
    # The account managers above are told it is a renewal for these people.
    (asked,) = session.scalars(select(Email).where(Email.order_id == order.id)).all()
    assert "renewal for these 12 people" in asked.body and active[0].full_name in asked.body

    # Meanwhile two of the active people are renewed by hand: taken back, then
    # licensed from a fresh pool.
    by_hand = active[:2]
    customer = tree.actor("customer")
    licenses.deallocate(customer, ids(by_hand))
    fresh = factories.assigned_order(tree.customer, 2)
    allocate(customer, select_people(customer, tree.customer.id, ids(by_hand)).id)
    session.commit()
    allocated_before = session.get(Order, old_order.id).allocated  # 3: two were taken back

    (assigned,) = assign_orders(tree.actor("partner"), [order.id])
    session.commit()
    session.expire_all()

    others = active[2:] + expired
    holders = set(
        session.scalars(
            select(License.learner_id).where(
                License.order_id == order.id, License.ended_at.is_(None)
            )
        )
    )
    assert holders == set(ids(others))
    assert session.get(Order, order.id).allocated == 10  # two seats left free
    # The three still-active people's old seats went back to their pool …
    assert session.get(Order, old_order.id).allocated == allocated_before - 3
    ended = session.scalars(
        select(License).where(License.order_id == old_order.id, License.end_reason == "renewed")
    ).all()
    assert {lic.learner_id for lic in ended} == set(ids(active[2:]))
    # … at the very instant their new license began: never two, never none.
    new_start = {
        lic.learner_id: lic.allocated_at
        for lic in session.scalars(select(License).where(License.order_id == order.id))
    }
    assert all(lic.ended_at == new_start[lic.learner_id] for lic in ended)
    assert set(running_licenses(session, ids(active + expired)).values()) == {1}
    # Everybody of the ten now expires with the new order; the two keep their own.
    expiry = dict(session.execute(select(Learner.id, Learner.license_expires_at)).all())
    assert {expiry[p.id] for p in others} == {order_expiry(session, order.id)}
    assert {expiry[p.id] for p in by_hand} == {fresh.expires_at}
    # The outcome names the two left out; one email tells the company; audited.
    outcome = renewal_requests.last_outcome(order.id)
    assert (outcome.licensed, outcome.free, outcome.counts["renewed"]) == (10, 2, 3)
    assert {p.id for p, why in outcome.left if why == "kept"} == set(ids(by_hand))
    assert "2 seats left free" in outcome.summary() and by_hand[0].full_name in outcome.summary()
    told = session.scalars(
        select(Email).where(Email.order_id == order.id, Email.kind == "order_assigned")
    ).all()
    assert len(told) == 1 and "10 people" in told[0].body
    actions = set(
        session.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == order.id))
    )
    assert {"order.requested", "order.assigned", "licenses.allocated"} <= actions
    assert assigned.id == order.id


def order_expiry(session, order_id):
    return session.get(Order, order_id).expires_at


def test_assigning_twice_licenses_nobody_twice(tree, twelve, session):
    _, active, expired = twelve
    order = request_as_customer(tree, active + expired).order
    assign_orders(tree.actor("partner"), [order.id])
    session.commit()
    with pytest.raises(Conflict, match="already assigned"):
        assign_orders(tree.actor("partner"), [order.id])
    session.rollback()
    assert session.scalar(select(func.count()).where(License.order_id == order.id)) == 12
    assert set(running_licenses(session, ids(active + expired)).values()) == {1}


def test_a_person_in_an_open_request_is_left_out_and_counted(tree, twelve, session):
    _, active, expired = twelve
    first = request_as_customer(tree, active[:3]).order
    second = request_as_customer(tree, active + expired)
    assert second.order.quantity == 9
    assert second.draft.left_out == f"3 people are already in request #{first.id}"
    with pytest.raises(Invalid, match=f"already in request #{first.id}"):
        request_as_customer(tree, active[:3])
    # Once the first request is declined, its people may be requested again.
    decline_order(tree.actor("partner"), first.id, "Wrong people")
    assert request_as_customer(tree, active[:3]).order.quantity == 3


def test_the_database_refuses_a_person_in_two_open_requests(tree, twelve, session):
    """The unique index over open requests' people, whatever the service checked."""
    from sqlalchemy.exc import IntegrityError

    _, active, _ = twelve
    first = request_as_customer(tree, active[:1]).order
    session.commit()
    other = Order(
        company_id=tree.customer.id,
        quantity=1,
        status="requested",
        requested_at=clock.now(),
        renewal=True,
    )
    session.add(other)
    session.flush()
    session.add(OrderPerson(order_id=other.id, learner_id=active[0].id, pending=True))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    pending = session.scalars(select(OrderPerson.order_id).where(OrderPerson.pending)).all()
    assert pending == [first.id]


def test_a_person_deactivated_meanwhile_is_named_and_the_seat_stays_free(tree, twelve, session):
    from app.services.learners import set_learners_active

    _, active, expired = twelve
    order = request_as_customer(tree, expired).order
    set_learners_active(tree.actor("customer"), [expired[0].id], False)
    preview = renewal_requests.preview(order)
    assert (preview.counts["deactivated"], preview.counts["licensed"]) == (1, 6)
    assert preview.left == [(expired[0], "deactivated")] and preview.free == 1
    assign_orders(tree.actor("partner"), [order.id])
    outcome = renewal_requests.last_outcome(order.id)
    assert outcome.left == [(expired[0], "deactivated")]
    assert (outcome.licensed, outcome.free) == (6, 1)
    assert session.get(Learner, expired[0].id).license_expires_at <= clock.now()


def test_assign_now_is_for_the_account_managers_above(tree, twelve, session):
    _, active, expired = twelve
    with pytest.raises(Invalid, match="Only the account managers above"):
        request_as_customer(tree, expired, assign_now=True)
    assert session.scalar(select(func.count()).where(Order.renewal)) == 0
    partner = replace(tree.actor("partner"), managing_company_id=tree.customer.id)
    made = renewal_requests.request(
        partner, tree.customer.id, people_query(active + expired), assign_now=True
    )
    assert made.order.status == "assigned" and made.assigned.licensed == 12
    event = session.scalar(
        select(AuditEvent).where(
            AuditEvent.entity_id == made.order.id, AuditEvent.action == "order.requested"
        )
    )
    assert event.on_behalf_of_id == tree.customer.id


def test_request_renewals_from_renewals_one_request_per_company(tree, session):
    now = clock.now()
    soon = factories.licenses_expiring(tree.customer, 4, now + timedelta(days=45))[1]
    factories.licenses_expiring(tree.customer, 2, now + timedelta(days=200))
    gone = factories.expired_people(tree.sub_customer, 3, months_ago=16)
    factories.licenses_expiring(tree.sub_customer, 2, now - timedelta(days=10))
    partner = tree.actor("partner")
    companies = [tree.customer.id, tree.sub_customer.id, tree.sub.id]
    drafts = renewal_requests.drafts(partner, companies, "60")
    # 60 days: C1's four (not those expiring in 200 days); C2's two expired 10 days
    # ago (not the three expired four months ago: beyond RENEWAL_EXPIRED_DAYS); S: nobody.
    assert [d.people for d in drafts] == [4, 2, 0]
    done, nobody = renewal_requests.request_many(partner, companies, "60")
    assert [r.order.quantity for r in done] == [4, 2] and nobody == [tree.sub]
    in_first = set(
        session.scalars(
            select(OrderPerson.learner_id).where(OrderPerson.order_id == done[0].order.id)
        )
    )
    assert in_first == set(ids(soon))
    assert not set(ids(gone)) & set(session.scalars(select(OrderPerson.learner_id)))
    behalf = dict(
        session.execute(
            select(AuditEvent.company_id, AuditEvent.on_behalf_of_id).where(
                AuditEvent.action == "order.requested"
            )
        ).all()
    )
    assert behalf == {
        tree.customer.id: tree.customer.id,
        tree.sub_customer.id: tree.sub_customer.id,
    }
    with pytest.raises(Invalid, match="window"):
        renewal_requests.request_many(partner, companies, "45")


def test_renewals_requests_stay_within_the_account_managers_subtree(tree, session):
    from app.errors import NotFound

    with pytest.raises(NotFound):
        renewal_requests.request_many(tree.actor("sub"), [tree.customer.id], "30")
    with pytest.raises(NotFound):
        renewal_requests.drafts(tree.actor("partner"), [tree.other_customer.id], "30")


def test_a_deactivated_person_in_the_choice_is_left_out_and_counted(tree, twelve, session):
    from app.services.learners import set_learners_active

    _, active, expired = twelve
    set_learners_active(tree.actor("customer"), [active[0].id], False)
    made = request_as_customer(tree, active + expired)
    assert made.order.quantity == 11
    assert made.draft.left_out == "1 person is deactivated"


def test_a_person_moved_to_an_earlier_license_meanwhile_is_renewed(tree, twelve, session):
    _, active, _ = twelve
    order = request_as_customer(tree, active[:2]).order
    now = clock.now()
    sooner, _ = factories.licenses_expiring(tree.customer, 1, now + timedelta(days=10), 3)
    customer = tree.actor("customer")
    licenses.deallocate(customer, [active[0].id])
    allocate(customer, select_people(customer, tree.customer.id, [active[0].id]).id, sooner.id)
    assign_orders(tree.actor("partner"), [order.id])
    outcome = renewal_requests.last_outcome(order.id)
    assert outcome.counts == {"renewed": 2} and outcome.free == 0
    session.expire_all()
    assert session.get(Order, sooner.id).allocated == 1  # active[0]'s seat came back
