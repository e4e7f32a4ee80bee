"""Real concurrency: threads released together by a barrier, each with its own
connection, against a committed database (PostgreSQL in the PostgreSQL run)."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from app.extensions import db
from app.models import AppUser, AuditEvent, Email, Order
from app.services.errors import Conflict
from app.services.orders import assign_orders, request_order
from app.tenancy import actor_for
from app.transaction import transaction
from tests import factories


def race(app, user_ids, work) -> list[str]:
    """Run `work(actor)` in one thread per user, all released at once."""
    barrier = threading.Barrier(len(user_ids))
    outcomes: list[str] = []

    def press(user_id):
        with app.app_context():
            actor = actor_for(db.session.get(AppUser, user_id))
            barrier.wait()
            try:
                with transaction():
                    work(actor)
                outcomes.append("done")
            except Conflict as exc:
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
        outcomes = race(
            app,
            [tree.users["partner"].id, second_am.id],
            lambda a, oid=order_id: assign_orders(a, [oid]),
        )
        assert len(outcomes) == 2 and outcomes.count("done") == 1, outcomes
        loser = next(o for o in outcomes if o != "done")
        assert "nothing was" in loser  # a clear message: the other press changed nothing
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
