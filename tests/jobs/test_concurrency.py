"""Real concurrency: threads released together by a barrier, each with its own
connection, against a committed database (PostgreSQL in the PostgreSQL run)."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from app.errors import DomainError
from app.extensions import db
from app.models import AppUser, AuditEvent, Company, Email, Learner, Order
from app.services.orders import assign_orders, request_order
from app.tenancy import actor_for
from app.transaction import transaction
from tests import factories


def race(app, user_ids, work) -> list[str]:
    """Run `work(actor)` in one thread per user, all released at once."""
    barrier = threading.Barrier(len(user_ids))
    outcomes: list[str] = []
    db.session.commit()  # this thread holds no transaction (nor SQLite's write lock)

    def press(user_id):
        with app.app_context():
            actor = actor_for(db.session.get(AppUser, user_id))
            db.session.remove()  # hold no pooled connection while waiting for the others
            barrier.wait(timeout=60)
            try:
                with transaction():
                    work(actor)
                outcomes.append("done")
            except DomainError as exc:
                outcomes.append(exc.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=press, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_managers_pressing_assign_together_give_one_assignment(committed_app):
    app, _ = committed_app()
    tree = factories.build_tree(learners_per_company=0)
    second_am = factories.manager(tree.partner, "partner_am2")
    db.session.commit()
    for round_ in range(3):
        actor = tree.actor("customer")
        order_id = request_order(actor, actor.company_in_view, 10 + round_).id
        db.session.commit()
        users = [tree.users["partner"].id, second_am.id]
        outcomes = race(app, users, lambda a, oid=order_id: assign_orders(a, [oid]))
        assert len(outcomes) == 2 and outcomes.count("done") == 1, outcomes
        loser = next(o for o in outcomes if o != "done")
        assert "nothing was" in loser.lower()  # a clear message: the other changed nothing
        db.session.rollback()
        order = db.session.get(Order, order_id)
        assert order.status == "assigned"
        assigned_events = db.session.scalar(
            select(func.count()).where(
                AuditEvent.entity_id == order_id, AuditEvent.action == "order.assigned"
            )
        )
        assert assigned_events == 1
        assigned_emails = db.session.scalar(
            select(func.count()).where(Email.order_id == order_id, Email.kind == "order_assigned")
        )
        assert assigned_emails == 1  # one customer manager, told once


def test_twenty_concurrent_allocations_for_ten_seats_give_exactly_ten(committed_app, db_kind):
    """PostgreSQL queues the writers on the order's row: exactly 10 succeed and the
    rest are told the seats are gone. SQLite has one writer at a time and refuses
    the losers of a race instead of queueing them: never more than 10 either."""
    from dataclasses import replace

    from app.models import Learner, License
    from app.services.allocation import allocate, select_people

    app, _ = committed_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 25})
    tree = factories.build_tree(learners_per_company=0)
    company = tree.customer
    company.auto_license = False
    people = factories.learners(company, 20)
    order = factories.assigned_order(company, 10)
    managers = [factories.manager(company, f"cm{i}") for i in range(20)]
    db.session.commit()
    person_of = {m.id: p.id for m, p in zip(managers, people, strict=True)}
    company_id, order_id = company.id, order.id  # plain ids: threads share no ORM object

    def allocate_one(actor):
        actor = replace(actor, managing_company_id=None)
        selection = select_people(actor, company_id, [person_of[actor.user_id]])
        allocate(actor, selection.id)

    manager_ids = [m.id for m in managers]
    outcomes = race(app, manager_ids, allocate_one)
    done = outcomes.count("done")
    assert len(outcomes) == 20
    assert done == 10 if db_kind == "postgresql" else 1 <= done <= 10, outcomes
    refusals = {o for o in outcomes if o != "done"}
    assert all("nothing was" in o.lower() or "seats free" in o for o in refusals), refusals
    db.session.rollback()
    assert db.session.get(Order, order_id).allocated == done
    assert db.session.scalar(select(func.count()).select_from(License)) == done
    licensed = select(func.count()).where(Learner.license_expires_at.is_not(None))
    assert db.session.scalar(licensed) == done


def test_one_person_allocated_twice_at_once_gets_one_license(committed_app):
    from app.models import License
    from app.services.allocation import allocate, select_people

    app, _ = committed_app()
    tree = factories.build_tree(learners_per_company=0)
    company = tree.customer
    company.auto_license = False
    (person,) = factories.learners(company, 1)
    factories.assigned_order(company, 5)
    factories.assigned_order(company, 5)
    colleague = factories.manager(company, "cm2")
    db.session.commit()

    company_id, person_id = company.id, person.id
    users = [tree.users["customer"].id, colleague.id]

    def allocate_same(actor):
        allocate(actor, select_people(actor, company_id, [person_id]).id)

    outcomes = race(app, users, allocate_same)
    assert outcomes.count("done") == 1, outcomes
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(License)) == 1


def _licensed_company(committed_app, people: int, seats: int):
    """A customer with `people` people holding licenses from one `seats`-seat order,
    and one manager per person; plain ids (threads share no ORM object)."""
    from app.services.allocation import allocate, select_people

    app, _ = committed_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 25})
    tree = factories.build_tree(learners_per_company=0)
    company = tree.customer
    company.auto_license = False
    crowd = factories.learners(company, people)
    order = factories.assigned_order(company, seats)
    managers = [factories.manager(company, f"cm{i}") for i in range(10)]
    db.session.commit()
    actor = tree.actor("customer")
    allocate(actor, select_people(actor, company.id, [p.id for p in crowd]).id, order.id)
    db.session.commit()
    return app, company.id, order.id, [p.id for p in crowd], [m.id for m in managers]


def _seats(order_id: int) -> tuple[int, int]:
    """(the order's allocated count, its licenses still active)."""
    from app import clock
    from app.models import License

    db.session.rollback()
    active = select(func.count()).where(
        License.order_id == order_id, License.ended_at.is_(None), License.expires_at > clock.now()
    )
    return db.session.get(Order, order_id).allocated, db.session.scalar(active)


def test_ten_deallocates_of_one_person_at_once_return_one_seat_audited_once(committed_app):
    from app.services.licenses import deallocate

    app, _company_id, order_id, people, managers = _licensed_company(committed_app, 10, 10)
    leaver = people[0]
    outcomes = race(app, managers, lambda actor: deallocate(actor, [leaver]))
    assert outcomes.count("done") == 1, outcomes
    assert all("nothing was" in o.lower() for o in outcomes if o != "done"), outcomes
    assert _seats(order_id) == (9, 9)
    audited = select(func.count()).where(AuditEvent.action == "licenses.deallocated")
    assert db.session.scalar(audited) == 1


def test_deallocates_racing_allocates_keep_the_pool_equal_to_its_active_licenses(committed_app):
    from dataclasses import replace

    from app.models import Learner
    from app.services.allocation import allocate, select_people
    from app.services.licenses import deallocate

    app, company_id, order_id, people, managers = _licensed_company(committed_app, 5, 10)
    newcomers = [p.id for p in factories.learners(db.session.get(Company, company_id), 5)]
    db.session.commit()
    work = dict(zip(managers, [*people, *newcomers], strict=True))

    def leave_or_join(actor):
        actor = replace(actor, managing_company_id=None)
        person = work[actor.user_id]
        if person in people:
            deallocate(actor, [person])
        else:
            allocate(actor, select_people(actor, company_id, [person]).id, order_id)

    race(app, managers, leave_or_join)
    allocated, active = _seats(order_id)
    assert allocated == active <= 10
    holding = select(func.count()).where(
        Learner.company_id == company_id, Learner.license_expires_at.is_not(None)
    )
    assert db.session.scalar(holding) == active


def test_a_renewal_request_assigned_twice_at_once_licenses_its_people_once(committed_app):
    from datetime import timedelta

    from app import clock
    from app.models import License
    from app.services import renewal_requests

    app, _ = committed_app()
    tree = factories.build_tree(learners_per_company=0)
    second_am = factories.manager(tree.partner, "partner_am2")
    now = clock.now()
    _, active = factories.licenses_expiring(tree.customer, 4, now + timedelta(days=10))
    expired = factories.expired_people(tree.customer, 4)
    people = select(Learner.id).where(Learner.id.in_([p.id for p in active + expired]))
    actor = tree.actor("customer")
    order_id = renewal_requests.request(actor, tree.customer.id, people).order.id
    db.session.commit()
    users = [tree.users["partner"].id, second_am.id]
    outcomes = race(app, users, lambda a: assign_orders(a, [order_id]))
    assert outcomes.count("done") == 1, outcomes
    db.session.rollback()
    assert db.session.get(Order, order_id).allocated == 8
    running = db.session.scalar(
        select(func.count()).where(License.ended_at.is_(None), License.expires_at > clock.now())
    )
    assert running == 8  # one each: the four old ones ended once, not twice
    assert db.session.scalar(select(func.count()).where(License.order_id == order_id)) == 8


def test_two_renewal_requests_for_the_same_people_at_once_make_one(committed_app):
    from app.services import renewal_requests

    app, _ = committed_app()
    tree = factories.build_tree(learners_per_company=0)
    colleague = factories.manager(tree.customer, "cm2")
    expired = factories.expired_people(tree.customer, 5)
    db.session.commit()
    company_id, person_ids = tree.customer.id, [p.id for p in expired]

    def request(actor):
        people = select(Learner.id).where(Learner.id.in_(person_ids))
        renewal_requests.request(actor, company_id, people)

    outcomes = race(app, [tree.users["customer"].id, colleague.id], request)
    assert outcomes.count("done") == 1, outcomes
    loser = next(o for o in outcomes if o != "done")
    assert "meanwhile" in loser or "already in request" in loser, loser
    db.session.rollback()
    assert db.session.scalar(select(func.count()).where(Order.renewal)) == 1


def test_a_trials_upgrade_order_assigned_twice_at_once_moves_its_people_once(committed_app):
    from app import clock
    from app.models import License
    from app.services import trials

    app, _ = committed_app()
    tree = factories.build_tree(learners_per_company=0)
    second_am = factories.manager(tree.partner, "partner_am2")
    trial = trials.start_trial(tree.actor("partner"), tree.customer.id, 6)
    factories.learners(tree.customer, 6)  # licensed by the trial as they are added
    order_id = request_order(tree.actor("customer"), tree.customer.id, 4).id
    db.session.commit()
    users = [tree.users["partner"].id, second_am.id]
    outcomes = race(app, users, lambda a: assign_orders(a, [order_id]))
    assert outcomes.count("done") == 1, outcomes
    db.session.rollback()
    assert db.session.get(Order, order_id).allocated == 4
    assert db.session.get(Order, trial.id).allocated == 2  # four seats returned, once
    running = db.session.scalar(
        select(func.count()).where(License.ended_at.is_(None), License.expires_at > clock.now())
    )
    assert running == 6  # one each: moved once, never twice
    kinds = db.session.scalars(
        select(Learner.license_type).where(Learner.company_id == tree.customer.id)
    ).all()
    assert sorted(kinds) == ["premium"] * 4 + ["trial"] * 2
    moves = select(func.count()).where(AuditEvent.action == "licenses.moved")
    assert db.session.scalar(moves) == 1


def test_two_paid_orders_assigned_at_once_move_the_trial_people_once(committed_app):
    from app.models import License
    from app.services import trials

    app, _ = committed_app()
    tree = factories.build_tree(learners_per_company=0)
    second_am = factories.manager(tree.partner, "partner_am2")
    trials.start_trial(tree.actor("partner"), tree.customer.id, 3)
    factories.learners(tree.customer, 3)
    first = request_order(tree.actor("customer"), tree.customer.id, 3).id
    second = request_order(tree.actor("customer"), tree.customer.id, 3).id
    db.session.commit()
    pick = iter([first, second])
    orders = {uid: next(pick) for uid in (tree.users["partner"].id, second_am.id)}
    outcomes = race(app, list(orders), lambda a: assign_orders(a, [orders[a.user_id]]))
    assert outcomes.count("done") >= 1, outcomes
    db.session.rollback()
    held = db.session.execute(
        select(License.learner_id, func.count())
        .where(License.ended_at.is_(None), License.company_id == tree.customer.id)
        .group_by(License.learner_id)
    ).all()
    assert len(held) == 3 and {n for _, n in held} == {1}  # nobody holds two licenses
    allocated = db.session.scalar(
        select(func.sum(Order.allocated)).where(Order.id.in_([first, second]))
    )
    assert allocated == 3
