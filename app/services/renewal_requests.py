"""Renew these same people: one request for exactly the people picked (on Expiring or
Expired Licenses, or by a window from Renewals), remembered with the order
(`OrderPerson`); when the order is assigned its seats go to those people at once.

- The request is sized by its people (not capped by ORDER_MAX_QUANTITY). A person
  already in another open renewal request is left out and counted; a unique index
  over the open requests' people decides it under any concurrency.
- At assignment, in the assignment's transaction, through the pool rules
  (`services/pools.py`): a person still holding the license they held at request is
  renewed — it ends and its seat returns to its pool — and takes a seat of the new
  order, so nobody is ever seen with two licenses or as Expired in between; a
  person with no active license is licensed as Allocate would; a person deactivated
  or renewed by other means meanwhile is named, and their seat stays free. Every
  step is one set-based statement, whatever the number of people.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, and_, case, exists, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from app import clock, display
from app.errors import Conflict, Invalid
from app.extensions import db
from app.models import (
    Company,
    Learner,
    License,
    Order,
    OrderPerson,
    OrderStatus,
    Selection,
    SelectionMember,
)
from app.services import allocation, audit, managed, notifications, orders, pools, reclaim
from app.services.states import is_expired, is_expiring
from app.sql import count_if, joined_or_in
from app.tenancy import Actor, require_company, require_company_in_view, strictly_below

NAMES_SHOWN = 10
PEOPLE_ORDER = (Learner.last_name, Learner.first_name, Learner.id)
WINDOWS = (30, 60, 90)  # the windows Request renewals offers, in days

# What an assignment did for each person, as the confirmation says it.
OUTCOMES = {
    "licensed": "licensed",
    "renewed": "renewed at assignment",
    "deactivated": "deactivated meanwhile",
    "kept": "renewed by other means meanwhile",
}


def renewable(now: datetime):
    """Who can be in a renewal request: active people who hold or held a license."""
    return and_(Learner.active, Learner.license_expires_at.is_not(None))


def in_window(now: datetime, days: int):
    """The people Request renewals takes from a company: expiring within `days`, or
    expired within the last RENEWAL_EXPIRED_DAYS (a setting)."""
    lookback = timedelta(days=current_app.config["RENEWAL_EXPIRED_DAYS"])
    return and_(
        Learner.active,
        is_expiring(now, timedelta(days=days))
        | and_(is_expired(now), Learner.license_expires_at > now - lookback),
    )


@dataclass
class Draft:
    """What a request for a company would hold: its people, and those left out —
    because another open renewal request has them ({order id: people}), or because
    they were deactivated (a tab may list people who still hold a license)."""

    company: Company
    people: int = 0
    elsewhere: dict[int, int] = field(default_factory=dict)
    deactivated: int = 0
    flagged: int = 0  # flagged do-not-renew (seat reclaim): left out

    @property
    def left_out(self) -> str:
        """ "3 people are already in request #123; 1 person is deactivated" (or "")."""
        parts = [
            f"{display.count(n, 'person is', 'people are')} already in request #{pk}"
            for pk, n in sorted(self.elsewhere.items())
        ]
        if self.deactivated:
            parts.append(
                f"{display.count(self.deactivated, 'person is', 'people are')} deactivated"
            )
        if self.flagged:
            parts.append(
                f"{display.count(self.flagged, 'person is', 'people are')} flagged do-not-renew"
            )
        return "; ".join(parts)


def draft(company: Company, people: Select) -> Draft:
    """Count who a request would hold: `people` (a query of learner ids) of the
    company, renewable, and not in another open renewal request; and who is left out
    (three queries)."""
    now = clock.now()
    wanted = _wanted(company, people, now)
    result = Draft(company)
    result.people = db.session.scalar(
        select(func.count()).where(Learner.id.in_(wanted), ~_pending(Learner.id))
    )
    result.elsewhere = dict(
        db.session.execute(
            select(OrderPerson.order_id, func.count())
            .where(OrderPerson.pending, OrderPerson.learner_id.in_(wanted))
            .group_by(OrderPerson.order_id)
        ).all()
    )
    result.deactivated = db.session.scalar(
        select(func.count()).where(
            Learner.company_id == company.id,
            Learner.id.in_(people.order_by(None)),
            ~Learner.active,
        )
    )
    result.flagged = db.session.scalar(
        select(func.count()).where(
            Learner.company_id == company.id,
            Learner.id.in_(people.order_by(None)),
            renewable(now),
            reclaim.flagged(company, now),
        )
    )
    return result


@dataclass
class Requested:
    order: Order
    draft: Draft
    assigned: Outcome | None = None


def request(
    actor: Actor, company_id, people: Select, *, assign_now=False, from_renewals=False
) -> Requested:
    """Request renewal for the people a query of learner ids returns: one order for
    as many seats as people, remembering them. From the company's own screens (its
    own, or Manage Company mode); `from_renewals` is the one exception — an account
    manager's Renewals screen, audited on behalf of the company. `assign_now`
    (account managers above the company) assigns it in the same transaction.
    Raises NotFound, Forbidden, Invalid (nobody to request for) or Conflict."""
    if from_renewals:
        company = require_company(actor, company_id)
        actor = replace(actor, managing_company_id=company.id)
    else:
        company = require_company_in_view(actor, company_id)
        managed.refuse_if_managed(actor, company.id)
    if assign_now and not may_assign(actor, company.id):
        raise Invalid(
            f"Only the account managers above {company.name} can assign its request now.",
            "assign_now",
        )
    plan = draft(company, people)
    if not plan.people:
        raise Invalid(
            "Nobody to request a renewal for"
            + (f": {plan.left_out}." if plan.left_out else " in this choice.")
        )
    now = clock.now()
    order = Order(
        company_id=company.id,
        quantity=plan.people,
        status=OrderStatus.REQUESTED.value,
        requested_by_id=actor.user_id,
        requested_at=now,
        renewal=True,
        license_type=pools.paid_type(company.id, now),
    )
    db.session.add(order)
    db.session.flush()
    wanted = _wanted(company, people, now)
    chosen = select(literal(order.id), Learner.id, Learner.license_expires_at, literal(True)).where(
        Learner.id.in_(wanted), ~_pending(Learner.id)
    )
    try:
        with db.session.begin_nested():
            db.session.execute(
                insert(OrderPerson).from_select(
                    ["order_id", "learner_id", "expires_then", "pending"], chosen
                )
            )
    except IntegrityError:
        raise Conflict(_RACED) from None
    if _people_count(order.id) != plan.people:
        raise Conflict(_RACED)
    orders.record(
        actor,
        "requested",
        order,
        renewal_people=plan.people,
        left_out={str(k): v for k, v in plan.elsewhere.items()},
        source="renewals" if from_renewals else "licenses",
    )
    notifications.order_requested(order)
    result = Requested(order, plan)
    if assign_now:
        orders.assign_orders(replace(actor, managing_company_id=None), [order.id])
        result.assigned = last_outcome(order.id)
    return result


def stage(actor: Actor, company_id, people: Select | list) -> Selection:
    """Stage the people picked on Expiring or Expired Licenses — ticked ids (each a
    learner of the company, or NotFound), or the tab's filtered query for "all N
    matching" — for the request's confirmation."""
    company = require_company_in_view(actor, company_id)
    managed.refuse_if_managed(actor, company.id)
    if isinstance(people, list):
        people = allocation.ticked(company.id, people)
    selection = allocation.stage(
        actor, company.id, _wanted(company, people, clock.now()), "renewal"
    )
    if not selection.size:
        raise Invalid("Nobody here holds or held a license to renew: nothing to request.")
    return selection


def staged(actor: Actor, selection_id) -> tuple[Selection, Draft]:
    """A staged choice and what a request for it would hold (the confirmation)."""
    selection = allocation.get_selection(actor, selection_id)
    return selection, draft(selection.company, _members(selection.id))


def request_staged(actor: Actor, selection_id, *, assign_now=False) -> Requested:
    """Request renewal for a staged choice, once (a second confirmation is refused)."""
    selection = allocation.get_selection(actor, selection_id)
    allocation.mark_used(selection, clock.now(), "This renewal was requested before.")
    return request(actor, selection.company_id, _members(selection.id), assign_now=assign_now)


def request_many(
    actor: Actor, company_ids: list, days, *, assign_now=False
) -> tuple[list[Requested], list[Company]]:
    """Request renewals from Renewals: one request per ticked company for its people
    in the window (`in_window`), all or nothing. Returns the requests, and the
    companies left out because nobody there is left to request for."""
    plans = drafts(actor, company_ids, days)
    people = select(Learner.id).where(in_window(clock.now(), window(days)))
    done = [
        request(actor, d.company.id, people, assign_now=assign_now, from_renewals=True)
        for d in plans
        if d.people
    ]
    return done, [d.company for d in plans if not d.people]


def drafts(actor: Actor, company_ids: list, days) -> list[Draft]:
    """What Request renewals would make for each ticked company (the confirmation)."""
    days = window(days)
    if not company_ids:
        raise Invalid("Tick the companies to request renewals for first.")
    people = select(Learner.id).where(in_window(clock.now(), days))
    return [draft(require_company(actor, pk), people) for pk in dict.fromkeys(company_ids)]


def assignable(actor: Actor, company_ids: list) -> bool:
    """Whether the actor may assign the requests of every one of these companies."""
    wanted = {pk for pk in company_ids if isinstance(pk, int)}
    own = replace(actor, managing_company_id=None)
    return bool(wanted) and strictly_below(own, wanted) == wanted


def window(days) -> int:
    text = str(days or "").strip()
    if text not in {str(d) for d in WINDOWS}:
        raise Invalid(
            "Choose a window of " + ", ".join(str(d) for d in WINDOWS) + " days.", "window"
        )
    return int(text)


def may_assign(actor: Actor, company_id: int) -> bool:
    """Whether the actor's own company is strictly above the company (the managers
    who assign its requests), Manage Company mode or not."""
    return assignable(actor, [company_id])


@dataclass
class Outcome:
    """What assigning a renewal request did for its people."""

    order: Order
    counts: dict[str, int]
    left: list[tuple[Learner, str]]  # people whose seat stays free, with the reason

    @property
    def licensed(self) -> int:
        return self.counts.get("licensed", 0) + self.counts.get("renewed", 0)

    @property
    def free(self) -> int:
        return self.order.quantity - self.licensed

    def summary(self) -> str:
        text = (
            f"Order #{self.order.id}: {display.count(self.licensed, 'person', 'people')} "
            f"licensed ({self.counts.get('renewed', 0):,} renewed at assignment)"
        )
        if self.free:
            names = ", ".join(f"{p.full_name} ({OUTCOMES[o]})" for p, o in self.left)
            more = self.free - len(self.left)
            text += f"; {display.count(self.free, 'seat')} left free: {names}"
            text += f" and {more:,} more" if more > 0 else ""
        return text + "."


def preview(order: Order, now: datetime | None = None) -> Outcome:
    """What assigning a renewal request now would do for its people: the count per
    outcome, and the first people whose seat would stay free (two queries)."""
    now = now or clock.now()
    state = _state(now)
    people = (
        select(OrderPerson.learner_id)
        .join(Learner, Learner.id == OrderPerson.learner_id)
        .where(OrderPerson.order_id == order.id)
    )
    row = db.session.execute(
        people.with_only_columns(
            *(count_if(condition).label(key) for key, condition in state.items())
        )
    ).one()
    counts = {key: int(value or 0) for key, value in row._mapping.items()}
    left = db.session.execute(
        people.with_only_columns(Learner, case((state["deactivated"], "deactivated"), else_="kept"))
        .where(state["deactivated"] | state["kept"])
        .order_by(*PEOPLE_ORDER)
        .limit(NAMES_SHOWN)
    ).all()
    return Outcome(order, counts, [(person, why) for person, why in left])


def give_seats(actor: Actor, order: Order, now: datetime) -> Outcome:
    """At assignment (the order just assigned, its row locked by that UPDATE): each
    person's outcome is marked, then the renewed people's licenses end and return
    their seats, then everybody marked takes a seat of this order — all or nothing,
    checked by row counts, so nobody is licensed twice."""
    state = _state(now)
    for outcome in ("deactivated", "renewed", "licensed", "kept"):
        mine = and_(OrderPerson.learner_id == Learner.id, state[outcome])
        db.session.execute(
            update(OrderPerson)
            .where(
                OrderPerson.order_id == order.id,
                OrderPerson.outcome.is_(None),
                exists().where(mine),
            )
            .values(outcome=outcome)
            .execution_options(synchronize_session=False)
        )
    renewing = _marked(order.id, "renewed")
    renewed = pools.end_licenses(License.learner_id.in_(renewing), now, "renewed")
    if len(renewed) != _count(renewing):
        raise Conflict(_MOVED)
    licensees = _marked(order.id, "renewed", "licensed")
    count = _count(licensees)
    people = joined_or_in(
        Learner.id,
        OrderPerson.learner_id,
        OrderPerson.order_id == order.id,
        OrderPerson.outcome.in_(("renewed", "licensed")),
    )
    if count:
        # The renewed people's old licenses ended above: they need a license now, so
        # the one rule that licenses people (`point_people`) takes them too. Nobody
        # outside this transaction ever sees them without one.
        db.session.execute(
            update(Learner)
            .where(Learner.id.in_(renewing))
            .values(license_expires_at=None, license_type=None)
            .execution_options(synchronize_session=False)
        )
        if not pools.take_seats(order.id, count, now):
            raise Conflict(_MOVED)
        if pools.point_people(people, order, now) != count:
            raise Conflict(_MOVED)
        pools.record_licenses(actor, order.company_id, order, licensees, now, people=count)
    result = last_outcome(order.id)
    audit.record(
        actor,
        "licenses.allocated",
        company_id=order.company_id,
        entity="order",
        entity_id=order.id,
        after={
            "people": result.licensed,
            "source": "renewal_request",
            "orders": {str(order.id): result.licensed},
            "expires_at": [order.expires_at.isoformat()],
            "outcomes": result.counts,
            "seats_left_free": result.free,
            "renewed_from": {str(k): v for k, v in Counter(renewed.values()).items()},
        },
    )
    return result


def last_outcome(order_id: int) -> Outcome:
    """What the assignment of a renewal request did (read back from its people)."""
    order = db.session.get(Order, order_id)
    counts = dict(
        db.session.execute(
            select(OrderPerson.outcome, func.count())
            .where(OrderPerson.order_id == order_id, OrderPerson.outcome.is_not(None))
            .group_by(OrderPerson.outcome)
        ).all()
    )
    left = db.session.execute(
        select(Learner, OrderPerson.outcome)
        .join(OrderPerson, OrderPerson.learner_id == Learner.id)
        .where(
            OrderPerson.order_id == order_id,
            OrderPerson.outcome.in_(("deactivated", "kept")),
        )
        .order_by(*PEOPLE_ORDER)
        .limit(NAMES_SHOWN)
    ).all()
    return Outcome(order, counts, [(person, outcome) for person, outcome in left])


def move_people(order_id: int, other_id: int, keep: int) -> None:
    """A renewal request approved in part: all but its first `keep` people (by last
    name) move to `other_id` (its declined remainder), out of any open request."""
    beyond = (
        select(OrderPerson.learner_id)
        .join(Learner, Learner.id == OrderPerson.learner_id)
        .where(OrderPerson.order_id == order_id)
        .order_by(*PEOPLE_ORDER)
        .offset(keep)
    )
    db.session.execute(
        update(OrderPerson)
        .where(OrderPerson.order_id == order_id, OrderPerson.learner_id.in_(beyond))
        .values(order_id=other_id, pending=False)
        .execution_options(synchronize_session=False)
    )


def close(order_ids) -> None:
    """The orders left *requested* (assigned, declined, cancelled): their people may
    be in another renewal request again."""
    db.session.execute(
        update(OrderPerson)
        .where(OrderPerson.order_id.in_(order_ids), OrderPerson.pending)
        .values(pending=False)
        .execution_options(synchronize_session=False)
    )


def people_page(order_id: int, limit: int = 20) -> list[tuple[Learner, str | None]]:
    """The first people of a renewal request, with their outcome once assigned."""
    return [
        (person, outcome)
        for person, outcome in db.session.execute(
            select(Learner, OrderPerson.outcome)
            .join(OrderPerson, OrderPerson.learner_id == Learner.id)
            .where(OrderPerson.order_id == order_id)
            .order_by(*PEOPLE_ORDER)
            .limit(limit)
        )
    ]


def people_names(order_id: int, limit: int = NAMES_SHOWN) -> list[str]:
    """The first names of a request's people, for its email."""
    return [p.full_name or p.email for p, _ in people_page(order_id, limit)]


_RACED = (
    "Someone requested a renewal for some of these people meanwhile; nothing was "
    "requested. Review the choice and try again."
)
_MOVED = (
    "Someone changed these people's licenses meanwhile; nothing was assigned. "
    "Review the order and assign it again."
)


def _state(now: datetime) -> dict:
    """Each person's outcome if the request were assigned now, from their license
    against the one they held at the request: still that one (or one ending no
    later) is renewed; a later one was renewed by other means and is kept."""
    held = Learner.license_expires_at
    return {
        "deactivated": ~Learner.active,
        "renewed": and_(Learner.active, held > now, held <= OrderPerson.expires_then),
        "licensed": and_(Learner.active, held.is_(None) | (held <= now)),
        "kept": and_(
            Learner.active,
            held > now,
            OrderPerson.expires_then.is_(None) | (held > OrderPerson.expires_then),
        ),
    }


def _wanted(company: Company, people: Select, now: datetime) -> Select:
    """The renewable people of the company among the learner ids `people` returns,
    leaving out those flagged do-not-renew (seat reclaim)."""
    return select(Learner.id).where(
        Learner.company_id == company.id,
        Learner.id.in_(people.order_by(None)),
        renewable(now),
        ~reclaim.flagged(company, now),
    )


def _members(selection_id: int) -> Select:
    return select(SelectionMember.learner_id).where(SelectionMember.selection_id == selection_id)


def _pending(learner_id):
    """The person is in an open renewal request."""
    return exists().where(OrderPerson.learner_id == learner_id, OrderPerson.pending)


def _marked(order_id: int, *outcomes: str) -> Select:
    return select(OrderPerson.learner_id).where(
        OrderPerson.order_id == order_id, OrderPerson.outcome.in_(outcomes)
    )


def _count(query: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


def _people_count(order_id: int) -> int:
    return _count(select(OrderPerson.learner_id).where(OrderPerson.order_id == order_id))
