"""Seat pools: an assigned order is a pool of N seats sharing its expiry; the seats
of an expired pool are gone. Every rule about pools is written here once and used
by Allocate, Deallocate, automatic licensing and the spreadsheet import:

- which orders are pools (assigned, not yet expired) and which have free seats;
- pools stay within one type: by default seats come from the company's paid type
  (Managed while it holds a Managed pool, else Premium); NFR and Free Trial pools
  only when chosen;
- free seats of a company;
- taking seats (a conditional UPDATE: never beyond the quantity, never from an
  expired pool, decided by the database under any concurrency) and giving them back;
- pointing people at a pool's license and recording the license rows.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Select, and_, case, func, insert, literal, select, update

from app.extensions import db
from app.models import Learner, License, LicenseType, Order, OrderStatus
from app.services import webhooks
from app.services.states import needs_license
from app.tenancy import Actor


def is_pool(now: datetime):
    """Assigned and not yet expired (nor a Free Trial ended by its upgrade): the
    orders whose seats count."""
    return and_(
        Order.status == OrderStatus.ASSIGNED.value,
        Order.expires_at > now,
        Order.ended_at.is_(None),
    )


def is_spent(now: datetime):
    """Assigned and past its term: an expired order (its seats no longer count)."""
    return and_(Order.status == OrderStatus.ASSIGNED.value, Order.expires_at <= now)


def is_open(now: datetime):
    """A pool with free seats."""
    return and_(is_pool(now), Order.allocated < Order.quantity)


# A company's plan, from the types of its pools (assigned, unexpired): the highest
# rank it holds. Managed, else Free Trial while a trial runs, else Premium, else
# NFR only; none: "—".
PLAN_RANKS = {
    LicenseType.MANAGED.value: 4,
    LicenseType.TRIAL.value: 3,
    LicenseType.PREMIUM.value: 2,
    LicenseType.NFR.value: 1,
}
PLAN_LABELS = {4: "Managed", 3: "Free Trial", 2: "Premium", 1: "NFR only"}


def plan_rank():
    """Inside a SELECT over a company's pools (grouped by company, or one company's
    in a scalar subquery): the company's plan rank."""
    return func.max(case(PLAN_RANKS, value=Order.license_type, else_=0))


def plan_label(rank: int | None) -> str:
    return PLAN_LABELS.get(rank or 0, "—")


def open_pools(
    company_id: int, now: datetime, order_id: int | None = None, *, any_type: bool = False
) -> list[Order]:
    """The company's pools with free seats, freshest (expiring last) first: a renewal
    gets the freshest licenses, spilling to the next. By default those of the
    company's paid type (`paid_type`); `order_id` names one pool whatever its type
    (NFR and Free Trial seats are used only so); `any_type` lists every pool (the
    choice Allocate offers)."""
    query = select(Order).where(Order.company_id == company_id, is_open(now))
    if order_id is not None:
        query = query.where(Order.id == order_id)
    elif not any_type:
        query = query.where(Order.license_type == paid_type(company_id, now))
    return list(db.session.scalars(query.order_by(Order.expires_at.desc(), Order.id)))


def paid_type(company_id: int, now: datetime) -> str:
    """The type a company's default seats are of: Managed while it holds an assigned,
    unexpired Managed pool, else Premium."""
    managed = select(Order.id).where(
        Order.company_id == company_id,
        Order.license_type == LicenseType.MANAGED.value,
        is_pool(now),
    )
    if db.session.scalar(managed.limit(1)) is not None:
        return LicenseType.MANAGED.value
    return LicenseType.PREMIUM.value


def free_seats(pools: list[Order]) -> int:
    return sum(order.free for order in pools)


def company_free_seats(company_id: int, now: datetime) -> int:
    return free_seats_of([company_id], now).get(company_id, 0)


def free_seats_of(company_ids, now: datetime) -> dict[int, int]:
    """Each company's free seats of its paid type (Managed while it holds a Managed
    pool, else Premium: `paid_type`'s rule), in one grouped query."""
    ids = list(company_ids)
    if not ids:
        return {}
    managed = Order.license_type == LicenseType.MANAGED.value
    premium = Order.license_type == LicenseType.PREMIUM.value
    free = Order.quantity - Order.allocated
    rows = db.session.execute(
        select(
            Order.company_id,
            func.sum(case((managed, 1), else_=0)),
            func.sum(case((managed, free), else_=0)),
            func.sum(case((premium, free), else_=0)),
        )
        .where(Order.company_id.in_(ids), is_pool(now))
        .group_by(Order.company_id)
    ).all()
    return {
        company_id: int((managed_free if has_managed else premium_free) or 0)
        for company_id, has_managed, managed_free, premium_free in rows
    }


def take_seats(order_id: int, count: int, now: datetime) -> bool:
    """Take `count` seats of a pool; False (nothing taken) if it has fewer free or
    expired meanwhile."""
    return (
        db.session.execute(
            update(Order)
            .where(
                Order.id == order_id,
                Order.allocated + count <= Order.quantity,
                Order.expires_at > now,
                Order.ended_at.is_(None),
            )
            .values(allocated=Order.allocated + count)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def return_seats(per_order: dict[int, int]) -> None:
    """Give seats back to their pools ({order id: seats}), with the time they have left."""
    if per_order:
        db.session.execute(
            update(Order)
            .where(Order.id.in_(per_order))
            .values(allocated=Order.allocated - case(per_order, value=Order.id))
            .execution_options(synchronize_session=False)
        )


def end_licenses(learners, now: datetime, reason: str) -> dict[int, int]:
    """End the running licenses of the people a WHERE clause on `License.learner_id`
    keeps, each once (conditional on it still running: a second caller waits for the
    first's row locks, then matches nothing), and give their seats back to their
    pools with the time they have left. Returns {learner id: order id} per license
    ended. The learners' own expiry is the caller's to change."""
    ended = dict(
        db.session.execute(
            update(License)
            .where(learners, License.ended_at.is_(None), License.expires_at > now)
            .values(ended_at=now, end_reason=reason)
            .returning(License.learner_id, License.order_id)
            .execution_options(synchronize_session=False)
        ).all()
    )
    return_seats(dict(Counter(ended.values())))
    return ended


def point_people(people, order: Order, now: datetime) -> int:
    """Give the people a WHERE clause on learners names the pool's expiry, only those
    still without an active license (the database decides, so no two allocations
    license one person twice); returns how many it changed."""
    return db.session.execute(
        update(Learner)
        .where(people, needs_license(now))
        .values(license_expires_at=order.expires_at, license_type=order.license_type)
        .execution_options(synchronize_session=False)
    ).rowcount


def record_licenses(
    actor: Actor,
    company_id: int,
    order: Order,
    learner_ids: Select,
    now: datetime,
    selection_id: int | None = None,
    *,
    people: int,
) -> None:
    """One license row on the pool for each learner id `learner_ids` (a query whose
    first column is the id) returns, in one INSERT … SELECT — and the webhooks'
    `licenses.allocated` (every way people get licenses comes through here) for
    the `people` the caller pointed at the pool (`point_people`: an INSERT's row
    count is not reported on PostgreSQL through SQLAlchemy)."""
    rows = learner_ids.with_only_columns(
        learner_ids.selected_columns[0],
        literal(order.id),
        literal(order.license_type),
        literal(company_id),
        literal(now, License.allocated_at.type),
        literal(order.expires_at, License.expires_at.type),
        literal(actor.user_id),
        literal(selection_id),
    )
    columns = [
        "learner_id",
        "order_id",
        "license_type",
        "company_id",
        "allocated_at",
        "expires_at",
        "allocated_by_id",
        "selection_id",
    ]
    db.session.execute(insert(License).from_select(columns, rows))
    if people:
        webhooks.emit(
            "licenses.allocated",
            company_id,
            {
                "people": people,
                "order_id": order.id,
                "license_type": order.license_type,
                "expires_at": order.expires_at.isoformat(),
                "selection_id": selection_id,
                "people_url": webhooks.people_link(company_id, "allocated"),
            },
        )
