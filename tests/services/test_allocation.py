"""Allocate Licenses through the services: pools, all or nothing, Select All,
Deallocate, automatic licensing, and states derived from the clock."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.errors import Conflict, Invalid, NotFound
from app.models import AuditEvent, Learner, License, Order
from app.services import licenses
from app.services.allocation import (
    allocate,
    allocate_first,
    plan,
    remainder,
    select_matching,
    select_people,
)
from app.tenancy import screen_scope
from tests import factories
from tests.factories import replace_actor_in


@pytest.fixture
def company(tree, session):
    """Customer C1 with 12 people whose licenses expired a month ago."""
    tree.expired = factories.expired_people(tree.customer, 12)
    return tree.customer


def managing(company):
    return replace_actor_in(company)


def ids(people):
    return [p.id for p in people]


def seats(session, order):
    session.expire_all()
    return session.get(Order, order.id).allocated


def test_renewal_takes_the_freshest_pool_first_then_spills(tree, company, session):
    older = factories.assigned_order(company, 5)
    clock.set_offset(timedelta(days=40))
    fresher = factories.assigned_order(company, 8)
    actor = managing(company)
    selection = select_people(actor, company.id, ids(tree.expired))
    done = allocate(actor, selection.id)
    assert [(o.id, n) for o, n in done.chunks] == [(fresher.id, 8), (older.id, 4)]
    assert (seats(session, fresher), seats(session, older)) == (8, 4)
    holders = session.execute(
        select(License.order_id, func.count())
        .where(License.selection_id == selection.id)
        .group_by(License.order_id)
    ).all()
    assert dict(holders) == {fresher.id: 8, older.id: 4}
    # Each license expires with its order, not 12 months after allocation.
    expiries = set(
        session.scalars(select(Learner.license_expires_at).where(Learner.id.in_(ids(tree.expired))))
    )
    assert expiries == {fresher.expires_at, older.expires_at}


def test_allocate_first_gives_the_free_seats_to_the_first_by_name(tree, company, session):
    order = factories.assigned_order(company, 5)
    actor = managing(company)
    selection = select_people(actor, company.id, ids(tree.expired))
    done = allocate_first(actor, selection.id)
    first = sorted(tree.expired, key=lambda p: (p.last_name, p.first_name, p.id))[:5]
    assert done.size == 5 and seats(session, order) == 5
    holders = session.scalars(select(License.learner_id).where(License.order_id == order.id))
    assert set(holders) == set(ids(first))
    assert plan(actor, selection.id).licensed_count == 5  # the rest still need one
    with pytest.raises(Conflict):
        allocate_first(actor, selection.id)  # some now hold one: nothing more happens
    fresh = remainder(actor, selection.id)
    with pytest.raises(Conflict, match="No seats are free: 7 selected"):
        allocate_first(actor, fresh.id)
    assert seats(session, order) == 5


def test_too_few_seats_names_the_numbers_and_changes_nothing(tree, company, session):
    order = factories.assigned_order(company, 9)
    actor = managing(company)
    selection = select_people(actor, company.id, ids(tree.expired))
    with pytest.raises(Conflict, match="12 selected, 9 seats free: request 3 more licenses"):
        allocate(actor, selection.id)
    assert seats(session, order) == 0
    assert session.scalar(select(func.count()).where(License.selection_id == selection.id)) == 0


def test_someone_licensed_meanwhile_is_named_and_the_remainder_can_be_confirmed(
    tree, company, session
):
    factories.assigned_order(company, 20)
    actor = managing(company)
    selection = select_people(actor, company.id, ids(tree.expired))
    first = tree.expired[0]
    allocate(actor, select_people(actor, company.id, [first.id]).id)
    with pytest.raises(Conflict, match=f"{first.full_name} already has an active license"):
        allocate(actor, selection.id)
    rest = remainder(actor, selection.id)
    assert rest.size == 11
    assert allocate(actor, rest.id).size == 11


def test_the_manager_may_pick_the_order(tree, company, session):
    chosen = factories.assigned_order(company, 12)
    clock.set_offset(timedelta(days=40))
    factories.assigned_order(company, 12)
    actor = managing(company)
    done = allocate(actor, select_people(actor, company.id, ids(tree.expired)).id, chosen.id)
    assert [(o.id, n) for o, n in done.chunks] == [(chosen.id, 12)]


def test_confirming_twice_allocates_once(tree, company, session):
    factories.assigned_order(company, 30)
    actor = managing(company)
    selection = select_people(actor, company.id, ids(tree.expired))
    allocate(actor, selection.id)
    with pytest.raises(Conflict, match="already given their licenses"):
        allocate(actor, selection.id)
    assert session.scalar(select(func.count()).where(License.selection_id == selection.id)) == 12


def test_select_all_stages_everybody_the_filter_matches_who_needs_a_seat(tree, company, session):
    factories.assigned_order(company, 30)
    actor = managing(company)
    allocate(actor, select_people(actor, company.id, [tree.expired[0].id]).id)
    expired_tab = select(Learner.id).where(Learner.id.in_(ids(tree.expired)))
    selection = select_matching(actor, company.id, expired_tab)
    assert selection.size == 11  # the one renewed above no longer needs a seat
    # The company's 3 never-licensed people need seats too, when the filter has them.
    assert select_matching(actor, company.id, select(Learner.id)).size == 14
    with pytest.raises(Invalid, match="Nobody matches"):
        select_matching(actor, company.id, select(Learner.id).where(Learner.email == "nobody"))


def test_selecting_people_of_another_company_is_not_found(tree, company):
    actor = managing(company)
    foreign = factories.learners(tree.other_customer, 1)
    with pytest.raises(NotFound):
        select_people(actor, company.id, [tree.expired[0].id, foreign[0].id])
    with pytest.raises(NotFound):
        select_people(tree.actor("customer"), tree.sub_customer.id, [tree.expired[0].id])


def test_a_license_is_expired_at_its_instant_without_any_job(tree, company, session):
    order = factories.assigned_order(company, 12)
    actor = managing(company)
    allocate(actor, select_people(actor, company.id, ids(tree.expired)).id)
    position = licenses.seat_position(lambda c: screen_scope(actor, c, "own"))
    assert (position.assigned, position.allocated, position.free) == (12, 12, 0)
    assert position.expired == 0
    clock.set_offset(order.expires_at - clock.real_now() + timedelta(seconds=1))
    position = licenses.seat_position(lambda c: screen_scope(actor, c, "own"))
    assert (position.assigned, position.expired) == (0, 12)


def test_deallocate_returns_the_seat_and_the_person_becomes_unlicensed(tree, company, session):
    order = factories.assigned_order(company, 12)
    actor = managing(company)
    allocate(actor, select_people(actor, company.id, ids(tree.expired)).id)
    leaver = tree.expired[3]
    assert licenses.deallocate(actor, [leaver.id]) == 1
    assert seats(session, order) == 11
    assert session.get(Learner, leaver.id).license_expires_at is None
    with pytest.raises(Conflict, match=f"{leaver.full_name} hold"):
        licenses.deallocate(actor, [leaver.id])
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "licenses.deallocated"))
    assert event.after["learner_ids"] == [leaver.id]


def test_new_learners_get_a_free_seat_when_the_company_says_so(tree, company, session):
    order = factories.assigned_order(company, 2)
    (new,) = factories.learners(company, 1)
    assert new.license_expires_at == order.expires_at
    company.auto_license = False
    (manual,) = factories.learners(company, 1)
    assert manual.license_expires_at is None
    # People whose license expired are never re-licensed automatically.
    session.expire_all()
    assert all(session.get(Learner, p.id).license_expires_at < clock.now() for p in tree.expired)
    assert seats(session, order) == 1


def test_allocation_is_audited_in_one_line(tree, company, session):
    factories.assigned_order(company, 12)
    actor = managing(company)
    selection = select_people(actor, company.id, ids(tree.expired))
    allocate(actor, selection.id)
    event = session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "licenses.allocated", AuditEvent.entity_id == selection.id
        )
    )
    assert event.after["people"] == 12 and event.on_behalf_of_id == company.id


def test_plan_shows_the_resulting_expiry(tree, company):
    order = factories.assigned_order(company, 20)
    actor = managing(company)
    result = plan(actor, select_people(actor, company.id, ids(tree.expired)).id)
    assert result.expiries == [order.expires_at] and result.problem() is None


def test_selections_over_a_day_old_are_deleted_with_their_members(tree, company, session):
    from app.models import Selection, SelectionMember
    from app.services.allocation import discard_stale

    actor = managing(company)
    old = select_people(actor, company.id, ids(tree.expired[:5]))
    clock.set_offset(timedelta(hours=20))
    fresh = select_people(actor, company.id, ids(tree.expired[5:]))
    session.commit()

    old, fresh = old.id, fresh.id

    def members(selection_id):
        return session.scalar(
            select(func.count()).where(SelectionMember.selection_id == selection_id)
        )

    discard_stale(clock.now())  # the fixture's own, a year old, go; these two stay
    assert members(old) == 5 and members(fresh) == 7  # (the first is 20 hours old)
    assert discard_stale(clock.now() + timedelta(hours=5)) == 1
    session.expire_all()
    assert session.get(Selection, old) is None and members(old) == 0
    assert session.get(Selection, fresh) is not None and members(fresh) == 7
    with pytest.raises(NotFound):  # its confirmation is gone with it
        allocate(actor, old)
