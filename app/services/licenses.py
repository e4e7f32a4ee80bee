"""License states, seat positions, pools, Deallocate and automatic licensing.

A license is *active* until its expiry instant and *expired* from then on, derived
from the stored instant against the application's clock in every query — whether
or not any background job ran. `Learner.license_expires_at` is the expiry of the
person's latest license (NULL: never licensed, or the seat was taken back).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, select, update

from app import clock
from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import Company, Learner, License, Order, OrderStatus
from app.services import audit
from app.tenancy import Actor, get_many_scoped

EXPIRING_WINDOW = timedelta(days=30)


def is_active(now: datetime):
    return Learner.license_expires_at > now


def is_expired(now: datetime):
    return Learner.license_expires_at <= now


def is_unlicensed():
    return Learner.license_expires_at.is_(None)


def is_expiring(now: datetime):
    return and_(
        Learner.license_expires_at > now, Learner.license_expires_at <= now + EXPIRING_WINDOW
    )


def needs_license(now: datetime):
    """Who may get a seat: active learners with no active license."""
    return and_(Learner.active, (Learner.license_expires_at.is_(None)) | is_expired(now))


def open_pools(now: datetime):
    """Assigned, unexpired orders with free seats."""
    return and_(
        Order.status == OrderStatus.ASSIGNED.value,
        Order.expires_at > now,
        Order.allocated < Order.quantity,
    )


def pools(company_id: int, now: datetime, order_id: int | None = None) -> list[Order]:
    """The company's pools with free seats, freshest (expiring last) first."""
    query = select(Order).where(Order.company_id == company_id, open_pools(now))
    if order_id is not None:
        query = query.where(Order.id == order_id)
    return list(db.session.scalars(query.order_by(Order.expires_at.desc(), Order.id)))


@dataclass
class SeatPosition:
    assigned: int = 0
    allocated: int = 0
    expiring: int = 0
    expired: int = 0

    @property
    def free(self) -> int:
        return self.assigned - self.allocated


def seat_position(company_scope) -> SeatPosition:
    """Seats of unexpired assigned orders, and people expiring within 30 days or
    expired, over the companies a WHERE clause on a company column keeps
    (`company_scope(column)`)."""
    now = clock.now()
    assigned, allocated = db.session.execute(
        select(
            func.coalesce(func.sum(Order.quantity), 0), func.coalesce(func.sum(Order.allocated), 0)
        ).where(
            company_scope(Order.company_id),
            Order.status == OrderStatus.ASSIGNED.value,
            Order.expires_at > now,
        )
    ).one()
    # Two range counts over the active people's index, not one pass over every person.
    expiring, expired = (
        select(func.count())
        .where(company_scope(Learner.company_id), Learner.active, state)
        .scalar_subquery()
        for state in (is_expiring(now), is_expired(now))
    )
    expiring, expired = db.session.execute(select(expiring, expired)).one()
    return SeatPosition(int(assigned), int(allocated), int(expiring or 0), int(expired or 0))


def company_figures(company_ids: list[int]) -> dict[int, dict[str, int]]:
    """Free seats, people expiring within 30 days and expired, per company of a page
    (two grouped queries for the whole page)."""
    if not company_ids:
        return {}
    now = clock.now()
    figures = {cid: {"free": 0, "expiring": 0, "expired": 0} for cid in company_ids}
    for cid, free in db.session.execute(
        select(Order.company_id, func.sum(Order.quantity - Order.allocated))
        .where(
            Order.company_id.in_(company_ids),
            Order.status == OrderStatus.ASSIGNED.value,
            Order.expires_at > now,
        )
        .group_by(Order.company_id)
    ):
        figures[cid]["free"] = int(free or 0)
    for cid, expiring, expired in db.session.execute(
        select(Learner.company_id, _count_if(is_expiring(now)), _count_if(is_expired(now)))
        .where(
            Learner.company_id.in_(company_ids),
            Learner.active,
            Learner.license_expires_at.is_not(None),
        )
        .group_by(Learner.company_id)
    ):
        figures[cid].update(expiring=int(expiring or 0), expired=int(expired or 0))
    return figures


def deallocate(actor: Actor, learner_ids: list) -> int:
    """Take seats back from leavers of the company in view: each license ends once
    and returns one seat to its order's pool with the time it has left, and the
    person moves to Unlicensed. All or none, under any concurrency: a license
    someone else ended meanwhile is a Conflict (nothing changed). Raises NotFound
    for anyone outside the company in view."""
    learners = get_many_scoped(actor, Learner, learner_ids)
    if not all(actor.works_in(p.company_id) for p in learners):
        raise NotFound()
    now = clock.now()
    ids = [p.id for p in learners]
    # Conditional on the license still running, so two Deallocates of one person
    # end it once: the second waits for the first's row locks, then matches nothing.
    ended = db.session.execute(
        update(License)
        .where(License.learner_id.in_(ids), License.ended_at.is_(None), License.expires_at > now)
        .values(ended_at=now, end_reason="deallocated")
        .returning(License.learner_id, License.order_id)
        .execution_options(synchronize_session=False)
    ).all()
    missing = set(ids) - {learner_id for learner_id, _ in ended}
    if missing:
        names = ", ".join(p.full_name for p in learners if p.id in missing)
        raise Conflict(f"Nothing was taken back: {names} hold no active license.")
    per_order: dict[int, int] = {}
    for _, order_id in ended:
        per_order[order_id] = per_order.get(order_id, 0) + 1
    db.session.execute(
        update(Order)
        .where(Order.id.in_(per_order))
        .values(allocated=Order.allocated - case(per_order, value=Order.id))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Learner)
        .where(Learner.id.in_(ids))
        .values(license_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        actor,
        "licenses.deallocated",
        company_id=learners[0].company_id,
        entity="learner",
        entity_id=learners[0].id if len(learners) == 1 else None,
        after={
            "people": len(learners),
            "learner_ids": sorted(ids),
            "orders": {str(k): v for k, v in per_order.items()},
        },
    )
    return len(learners)


def auto_license(actor: Actor, learner: Learner) -> License | None:
    """Give a new learner a free seat from the freshest pool, when the company's
    setting says so and a seat is free. Never used for people whose license expired."""
    company = db.session.get(Company, learner.company_id)
    if not company.auto_license or learner.license_expires_at is not None:
        return None
    now = clock.now()
    for order in pools(company.id, now):
        taken = db.session.execute(
            update(Order)
            .where(
                Order.id == order.id, Order.allocated + 1 <= Order.quantity, Order.expires_at > now
            )
            .values(allocated=Order.allocated + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken:
            return _grant(actor, learner, order, now)
    return None


def _grant(actor: Actor, learner: Learner, order: Order, now: datetime) -> License:
    license_ = License(
        learner_id=learner.id,
        order_id=order.id,
        company_id=learner.company_id,
        allocated_at=now,
        expires_at=order.expires_at,
        allocated_by_id=actor.user_id,
    )
    db.session.add(license_)
    learner.license_expires_at = order.expires_at
    db.session.flush()
    audit.record(
        actor,
        "license.auto_allocated",
        company_id=learner.company_id,
        entity="learner",
        entity_id=learner.id,
        after={"order_id": order.id, "expires_at": order.expires_at},
    )
    return license_


def _count_if(condition):
    return func.sum(case((condition, 1), else_=0))
