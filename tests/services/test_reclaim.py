"""Seat reclaim (issue 19): people flagged do-not-renew — by a manager, or by the
company's inactivity rule when their last-active date is old (no date: never) —
are left out of renewal requests (counted), counted apart in reminders, and a step
whose remaining people are all flagged is skipped with the reason."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.errors import Forbidden, Invalid, NotFound
from app.models import Email, Learner
from app.services import reclaim, reminders, renewal_requests
from app.services.learners import update_learner
from tests import factories


def is_flagged(session, company, person) -> bool:
    return bool(
        session.scalar(
            select(Learner.id).where(Learner.id == person.id, reclaim.flagged(company, clock.now()))
        )
    )


def last_active(person, day):
    update_learner(
        factories.replace_actor_in(person.company),
        person.id,
        email=person.email,
        first_name=person.first_name,
        last_name=person.last_name,
        department=person.department,
        last_active_on=day,
    )


def test_the_rule_flags_only_people_with_an_old_last_active_date(tree, session):
    company = tree.customer
    old, recent, unknown = tree.people[company.name]
    today = clock.now().date()
    last_active(old, (today - timedelta(days=120)).isoformat())
    last_active(recent, today - timedelta(days=10))
    assert not is_flagged(session, company, old)  # the rule is off by default
    reclaim.set_inactive_days(tree.actor("partner"), company.id, "90")
    assert [is_flagged(session, company, p) for p in (old, recent, unknown)] == [
        True,
        False,
        False,
    ]
    # A manager clears the flag on one, and flags another by hand.
    customer = tree.actor("customer")
    reclaim.set_flag(customer, [old.id], False)
    reclaim.set_flag(customer, [unknown.id], True)
    assert [is_flagged(session, company, p) for p in (old, recent, unknown)] == [
        False,
        False,
        True,
    ]


def test_flagged_and_not_flagged_split_everybody_with_the_rule_off_or_on(tree, session):
    """`flagged` and its negation (the tabs' "Not flagged") leave nobody out,
    whatever the manager's word: flagged, cleared, or none (NULL)."""
    company = tree.customer
    flagged_by_hand, cleared, no_word = tree.people[company.name]
    reclaim.set_flag(tree.actor("customer"), [flagged_by_hand.id], True)
    reclaim.set_flag(tree.actor("customer"), [cleared.id], False)

    def split():
        def ids(condition):
            return set(
                session.scalars(
                    select(Learner.id).where(Learner.company_id == company.id, condition)
                )
            )

        condition = reclaim.flagged(company, clock.now())
        return ids(condition), ids(~condition)

    everybody = {flagged_by_hand.id, cleared.id, no_word.id}
    assert split() == ({flagged_by_hand.id}, {cleared.id, no_word.id})  # rule off
    reclaim.set_inactive_days(tree.actor("partner"), company.id, "90")
    last_active(no_word, clock.now().date() - timedelta(days=120))
    yes, no = split()
    assert yes == {flagged_by_hand.id, no_word.id} and yes | no == everybody and not yes & no


def test_a_rule_at_one_company_flags_nobody_at_another(tree, session):
    """The planning reads every company's people with each one's own rule: people
    with an old last-active date at a company whose rule is off are reminded about
    (not flagged, and not lost from both counts), while another company's rule is
    on."""
    company, other = tree.customer, tree.people["Customer C2"][0].company
    reclaim.set_inactive_days(tree.actor("partner"), other.id, "90")
    expiry = (clock.now() + timedelta(days=10)).replace(microsecond=0)
    _, people = factories.licenses_expiring(company, 3, expiry)
    for person in people:
        last_active(person, clock.now().date() - timedelta(days=400))
    anywhere = reclaim.flagged_anywhere(clock.now())
    mine = select(Learner.id).where(Learner.company_id == company.id)
    assert not set(session.scalars(mine.where(anywhere)))
    assert set(session.scalars(mine.where(~anywhere))) == set(session.scalars(mine))
    assert reminders.plan(expiry - timedelta(hours=72)) == 1
    mail = session.scalar(select(Email).where(Email.kind == "expiry_reminder"))
    assert mail.state == "pending"
    assert "3 licenses for Customer C1 expire" in mail.body
    assert all(p.email in mail.body for p in people)


def test_who_sets_what(tree, session):
    with pytest.raises(Forbidden, match="set by account managers"):
        reclaim.set_inactive_days(tree.actor("customer"), tree.customer.id, 90)
    with pytest.raises(Invalid, match="whole number of days"):
        reclaim.set_inactive_days(tree.actor("partner"), tree.customer.id, "ninety")
    with pytest.raises(NotFound):
        reclaim.set_flag(tree.actor("customer"), [tree.people["Customer C2"][0].id], True)
    person = tree.people["Customer C1"][0]
    with pytest.raises(Invalid, match="YYYY-MM-DD"):
        last_active(person, "last spring")
    assert reclaim.parse_last_active("2026-03-01") == date(2026, 3, 1)
    assert (
        reclaim.set_inactive_days(tree.actor("partner"), tree.customer.id, "").inactive_days is None
    )


def test_renewal_requests_leave_flagged_people_out_and_say_how_many(tree, session):
    company = tree.customer
    _, people = factories.licenses_expiring(company, 4, clock.now() + timedelta(days=20))
    reclaim.set_flag(tree.actor("customer"), [people[0].id, people[1].id], True)
    ids = select(Learner.id).where(Learner.id.in_([p.id for p in people]))
    plan = renewal_requests.draft(company, ids)
    assert plan.people == 2 and plan.flagged == 2
    assert "2 people are flagged do-not-renew" in plan.left_out
    made = renewal_requests.request(tree.actor("customer"), company.id, ids)
    assert made.order.quantity == 2


def test_reminders_count_flagged_people_apart_and_skip_when_only_they_remain(tree, session):
    company = tree.customer
    expiry = (clock.now() + timedelta(days=10)).replace(microsecond=0)
    _, people = factories.licenses_expiring(company, 3, expiry)
    reclaim.set_flag(tree.actor("customer"), [people[0].id], True)
    assert reminders.plan(expiry - timedelta(hours=72)) == 1
    mail = session.scalar(select(Email).where(Email.kind == "expiry_reminder"))
    assert "2 licenses for Customer C1 expire" in mail.body
    assert "1 of 3 is flagged do-not-renew" in mail.body
    assert people[0].email not in mail.body
    # Another group where everyone left is flagged: skipped, with why.
    later = expiry + timedelta(days=2)
    _, others = factories.licenses_expiring(company, 2, later)
    reclaim.set_flag(tree.actor("customer"), [p.id for p in others], True)
    assert reminders.plan(later - timedelta(hours=72)) == 1
    skipped = session.scalar(
        select(Email).where(Email.kind == "expiry_reminder", Email.state == "skipped")
    )
    assert "2 flagged do-not-renew" in skipped.last_error
