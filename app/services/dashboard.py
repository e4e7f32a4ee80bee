"""The Admin Dashboard's charts and its Needs action list, for the company in view
or an account manager's subtree (issue 17).

- Seats expiring per month for the next 12 months: the active people whose license
  ends in each month of the viewer's time zone, in one statement (one range count
  per month over the active people's expiry index).
- Needs action: the requests waiting for *you* (their request email went to your
  company's account managers: the nearest partner or sub-partner above the
  requester with active managers; the platform admin's, where there is none),
  companies with people expiring within 30 days and no open request (Renewals'
  figures, counted straight from the expiry index: only the people expiring, not
  Renewals' whole aggregation), and emails that failed or need attention.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from app import clock, display
from app.extensions import db
from app.models import (
    AppUser,
    Company,
    CompanyTree,
    Email,
    EmailState,
    Learner,
    Order,
    OrderStatus,
)
from app.services.states import is_expiring
from app.tenancy import Actor, Screen, audience, screen_scope

MONTHS = 12
LISTED = 5


@dataclass
class Month:
    label: str
    count: int


def expiring_by_month(actor: Actor, now: datetime, zone_name: str) -> list[Month]:
    """People whose license ends in each of the next 12 months (this one first), by
    the months of `zone_name`, over the company in view or the subtree: one
    statement of 12 range counts over the active people's expiry index — each reads
    only its month's entries, where one pass with 12 conditional counts would test
    every person 12 times."""
    local = display.local(now, zone_name)
    starts = [_month_start(local.year, local.month + i, zone_name) for i in range(MONTHS + 1)]
    expires = Learner.license_expires_at
    # This month counts from now on (the expired are not expiring); the others from
    # their first instant.
    ranges = [expires > now] + [expires >= start for start in starts[1:-1]]
    counts = db.session.execute(
        select(
            *(
                select(func.count())
                .where(screen_scope(actor, Learner.company_id), Learner.active, low, expires < high)
                .scalar_subquery()
                for low, high in zip(ranges, starts[1:], strict=True)
            )
        )
    ).one()
    return [Month(f"{start:%b %Y}", int(n or 0)) for start, n in zip(starts, counts, strict=False)]


@dataclass(frozen=True)
class Unrequested:
    """A company with people expiring within 30 days and no open request."""

    company_id: int
    name: str
    expiring_30: int


@dataclass
class NeedsAction:
    requests: list[Order] = field(default_factory=list)
    request_count: int = 0
    unrequested: list[Unrequested] = field(default_factory=list)
    unrequested_count: int = 0
    emails: dict[str, int] = field(default_factory=dict)  # state: count (failed, needs attention)

    @property
    def empty(self) -> bool:
        return not (self.request_count or self.unrequested_count or any(self.emails.values()))


def needs_action(actor: Actor) -> NeedsAction:
    result = NeedsAction()
    if actor.may_manage_others and not actor.managing_company_id:
        waiting = waiting_for(actor)
        result.request_count = db.session.scalar(
            select(func.count()).select_from(waiting.subquery())
        )
        result.requests = list(
            db.session.scalars(waiting.order_by(Order.requested_at, Order.id).limit(LISTED))
        )
        result.unrequested, result.unrequested_count = unrequested(actor, clock.now())
    stuck = (EmailState.FAILED.value, EmailState.NEEDS_ATTENTION.value)
    result.emails = dict.fromkeys(stuck, 0) | dict(
        db.session.execute(
            select(Email.state, func.count())
            .where(
                screen_scope(actor, Email.company_id, Screen.COMPANY),
                audience(actor, Email),
                Email.state.in_(stuck),
            )
            .group_by(Email.state)
        ).all()
    )
    return result


def unrequested(actor: Actor, now: datetime) -> tuple[list[Unrequested], int]:
    """The companies of the actor's subtree with people expiring within 30 days and
    no open request — Renewals' "Expiring in 30 days, no open request",
    most expiring first, then by name — and how many there are: two statements over
    the expiry index's 30-day range per company."""
    expiring = (
        select(Learner.company_id.label("company_id"), func.count().label("expiring_30"))
        .where(screen_scope(actor, Learner.company_id, Screen.PARTNER), Learner.active)
        .where(is_expiring(now))
        .group_by(Learner.company_id)
        .subquery()
    )
    requested = exists().where(
        Order.company_id == expiring.c.company_id, Order.status == OrderStatus.REQUESTED.value
    )
    found = (
        select(Company.id, Company.name, expiring.c.expiring_30)
        .join(expiring, expiring.c.company_id == Company.id)
        .where(~requested)
    )
    total = db.session.scalar(select(func.count()).select_from(found.subquery()))
    rows = db.session.execute(
        found.order_by(expiring.c.expiring_30.desc(), Company.name, Company.id).limit(LISTED)
    ).all()
    return [Unrequested(*row) for row in rows], total or 0


def waiting_for(actor: Actor):
    """The requested orders whose request email went to the actor's company's account
    managers (or, for the platform admin, to the platform admins)."""
    above = aliased(CompanyTree)

    def managed_above(closer_than=None):
        """A company above the order's with active managers (nearer than a depth)."""
        nearer = [above.depth < closer_than] if closer_than is not None else []
        return exists(
            select(1)
            .select_from(above)
            .join(AppUser, AppUser.company_id == above.ancestor_id)
            .where(above.descendant_id == Order.company_id, above.depth > 0, AppUser.active)
            .where(*nearer)
        )

    requested = select(Order).where(
        Order.status == OrderStatus.REQUESTED.value, screen_scope(actor, Order.company_id)
    )
    if actor.is_admin:
        return requested.where(~managed_above())
    mine = aliased(CompanyTree)
    return requested.join(
        mine,
        and_(
            mine.descendant_id == Order.company_id,
            mine.ancestor_id == actor.company_id,
            mine.depth > 0,
        ),
    ).where(~managed_above(mine.depth))


def _month_start(year: int, month: int, zone_name: str) -> datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=display.zone(zone_name))
