"""Free Trials and moving people onto new seats (product.md, "The client's license
model").

- A trial is an assigned order of type Free Trial: N seats for TRIAL_TERM_DAYS,
  started by an account manager above a customer (on creation, or once later); one
  per company, ever (a unique partial index decides under any concurrency).
- While it runs (not upgraded), the company's new people take its seats as they are
  added, whatever the auto-license setting (`seat_for_new_people`).
- Its emails (Free Trial Expiry / Expired, reminder steps of their own) carry an
  **Upgrade Now** link: a signed token naming the trial and the recipient. Opening
  it changes nothing; only the page's POST uses it, once (its digest is stored on
  the request it makes), until UPGRADE_GRACE after the trial's end.
- Assigning a paid (Premium or Managed) order moves people onto its seats, by last
  name, as far as they go (`move_people`): those whose latest license is the
  trial's — running, or expired within UPGRADE_GRACE (the one exception to "expired
  people are never re-licensed automatically") — and those holding the other paid
  type. The trial ends then (`Order.ended_at`): its seats stop counting, people not
  moved keep their trial license to its end.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app import clock
from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from app.models import (
    AppUser,
    Company,
    CompanyKind,
    Learner,
    License,
    LicenseType,
    Order,
    OrderStatus,
    SelectionMember,
)
from app.models.order import PAID_TYPES
from app.services import allocation, audit, locks, notifications, orders, pools
from app.sql import joined_or_in
from app.tenancy import Actor, actor_for, require_company, strictly_below

TRIAL = LicenseType.TRIAL.value
UPGRADE_GRACE = timedelta(days=30)  # after its end, a trial's people still move; links work
_SALT = "upgrade-now"


def start_trial(actor: Actor, company_id, seats) -> Order:
    """Start a customer's Free Trial of `seats` seats, by an account manager above it
    (not in Manage Company mode). Its people without a license take its seats at
    once, by last name, as far as they go. Raises Invalid, Forbidden or NotFound."""
    company = require_company(actor, company_id)
    if actor.managing_company_id or company.id not in strictly_below(actor, {company.id}):
        raise Forbidden("A Free Trial is started by the account managers above the company.")
    if company.kind != CompanyKind.CUSTOMER.value:
        raise Invalid(f"{company.name} is a partner: Free Trials are for customers.", "trial_seats")
    quantity = orders.parse_quantity(seats, "trial_seats")
    now = clock.now()
    # One trial per company: wait for any other start on this company, then look.
    locks.lock_companies(company.id)
    if db.session.scalar(select(exists().where(Order.company_id == company.id, _is_trial()))):
        raise Invalid(f"{company.name} has had its Free Trial: there is one per company.")
    paid = select(Order.id).where(
        Order.company_id == company.id, Order.license_type.in_(PAID_TYPES), pools.is_pool(now)
    )
    if db.session.scalar(paid.limit(1)) is not None:
        raise Invalid(f"{company.name} already holds paid licenses: it needs no Free Trial.")
    trial = orders.issue(actor, company, quantity, TRIAL, now)
    if trial is None:
        raise Invalid(f"{company.name} has had its Free Trial: there is one per company.")
    orders.record(actor, "trial_started", trial)
    unlicensed = (
        select(Learner.id)
        .where(Learner.company_id == company.id, Learner.active)
        .where(Learner.license_expires_at.is_(None))
        .order_by(*allocation.LIST_ORDER)
        .limit(quantity)
    )
    behalf = replace(actor, managing_company_id=company.id)  # its own screens' work
    selection = allocation.stage(behalf, company.id, unlicensed, "trial")
    if selection.size:
        allocation.allocate(behalf, selection.id, trial.id, automatic=True)
    return trial


def running(company_id: int, now: datetime) -> Order | None:
    """The company's Free Trial while it runs (assigned, unexpired, not upgraded)."""
    return db.session.scalar(
        select(Order).where(Order.company_id == company_id, _is_trial(), pools.is_pool(now))
    )


def of(company_id: int) -> Order | None:
    """The company's Free Trial, if it ever had one."""
    return db.session.scalar(select(Order).where(Order.company_id == company_id, _is_trial()))


def seat_for_new_people(company: Company, now: datetime) -> Order | None:
    """The pool a company's new people are licensed from as they are added: its
    running Free Trial with a free seat (whatever the auto-license setting); else
    None (the paid pools, if the company licenses new people automatically)."""
    trial = running(company.id, now)
    return trial if trial is not None and trial.free > 0 else None


def _is_trial():
    return and_(Order.license_type == TRIAL, Order.status == OrderStatus.ASSIGNED.value)


# --- Moving people onto a paid order's seats -------------------------------------


def move_people(
    actor: Actor, order: Order, now: datetime, *, trial_only: bool = False
) -> dict[str, int]:
    """At the assignment of a paid order (its row just updated): its free seats go to
    the company's people on a trial (running, or expired within UPGRADE_GRACE) or
    on the other paid type (running), by last name, as far as they go — each old
    license ends and returns its seat, the new one starts, in this transaction. A
    trial ends with it. `trial_only`: the trial's people only (a second paid order
    of the company assigned in the same step). Returns {old type: people moved}."""
    if order.license_type not in PAID_TYPES:
        return {}
    # Two assignments for one company queue here: the second sees the first's moves.
    locks.lock_companies(order.company_id)
    db.session.refresh(order)
    movable = _movable(order.license_type, now, trial_only)
    people = (
        select(Learner.id)
        .where(Learner.company_id == order.company_id, Learner.active, movable)
        .order_by(*allocation.LIST_ORDER)
        .limit(order.free)
    )
    moved: dict[str, int] = {}
    if order.free > 0:
        selection = allocation.stage(actor, order.company_id, people, "upgrade")
        if selection.size:
            moved = _move(actor, order, selection, movable, now)
    ended = _end_trial(order.company_id, now)
    if moved or ended:
        audit.record(
            actor,
            "licenses.moved",
            company_id=order.company_id,
            entity="order",
            entity_id=order.id,
            after={"moved_from": moved, "onto": order.license_type, "trial_ended": ended},
        )
        db.session.refresh(order)
    return moved


def still_on_trial(company_id: int, now: datetime, limit: int = 10) -> tuple[list[Learner], int]:
    """The people an upgrade left on the trial (too few seats): the first `limit` by
    last name, and how many in all. They keep their trial license to its end."""
    left = select(Learner).where(
        Learner.company_id == company_id,
        Learner.active,
        Learner.license_type == TRIAL,
        Learner.license_expires_at > now,
    )
    total = db.session.scalar(select(func.count()).select_from(left.subquery()))
    first = db.session.scalars(left.order_by(*allocation.LIST_ORDER).limit(limit)).all()
    return list(first), total


def movable_people(company_id: int, license_type: str, now: datetime) -> dict[str, int]:
    """Who assigning a paid order of `license_type` would move onto its seats (as far
    as they go): {their type's label: people}, for Assign's preview."""
    if license_type not in PAID_TYPES:
        return {}
    rows = db.session.execute(
        select(Learner.license_type, func.count())
        .where(Learner.company_id == company_id, Learner.active, _movable(license_type, now))
        .group_by(Learner.license_type)
    )
    return {LicenseType(kind).label: n for kind, n in rows}


def _movable(license_type: str, now: datetime, trial_only: bool = False):
    """People a paid order of `license_type` takes onto its seats: on the trial
    (running, or expired within UPGRADE_GRACE) or running on the other paid type."""
    if trial_only:
        return _on_trial(now)
    other = next(t for t in PAID_TYPES if t != license_type)
    return or_(
        _on_trial(now), and_(Learner.license_type == other, Learner.license_expires_at > now)
    )


def _on_trial(now: datetime):
    """People whose latest license is a trial's, running or expired within
    UPGRADE_GRACE: whom an upgrade moves, and the seats it asks for."""
    return and_(Learner.license_type == TRIAL, Learner.license_expires_at > now - UPGRADE_GRACE)


def _move(actor: Actor, order: Order, selection, movable, now: datetime) -> dict[str, int]:
    staged = allocation.members(selection.id)
    moved = Counter(
        db.session.scalars(select(Learner.license_type).where(Learner.id.in_(staged))).all()
    )
    pools.end_licenses(License.learner_id.in_(staged), now, "upgraded")
    # Conditional on them still holding what was staged: a person changed meanwhile
    # makes the whole assignment a Conflict, never a second license.
    cleared = db.session.execute(
        update(Learner)
        .where(Learner.id.in_(staged), movable)
        .values(license_expires_at=None, license_type=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if cleared != selection.size or not pools.take_seats(order.id, selection.size, now):
        raise Conflict(_CHANGED)
    mine = joined_or_in(
        Learner.id, SelectionMember.learner_id, SelectionMember.selection_id == selection.id
    )
    if pools.point_people(mine, order, now) != selection.size:
        raise Conflict(_CHANGED)
    pools.record_licenses(
        actor, order.company_id, order, staged, now, selection.id, people=selection.size
    )
    allocation.mark_used(selection, now, _CHANGED)
    return {LicenseType(t).label: n for t, n in moved.items()}


_CHANGED = (
    "Someone's license changed while the order was being assigned; nothing was assigned. Try again."
)


def _end_trial(company_id: int, now: datetime) -> bool:
    return bool(
        db.session.execute(
            update(Order)
            .where(Order.company_id == company_id, _is_trial(), Order.ended_at.is_(None))
            .values(ended_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


# --- Upgrade Now --------------------------------------------------------------------


def upgrade_token(trial: Order, user: AppUser | notifications.Recipient) -> str:
    """The Upgrade Now link's token for one recipient of a trial's emails."""
    return _serializer().dumps({"o": trial.id, "u": user.id})


def upgrade_url(
    trial: Order, user: AppUser | notifications.Recipient | None, *, sending: bool
) -> str | None:
    """The link a trial email carries: the recipient's own Upgrade Now link — written
    only into the message sent (the copy kept for the Emails page, which other
    managers read, says where it is); None once the trial was upgraded."""
    if trial.ended_at is not None:
        return None
    if not sending or user is None:
        return "(your own Upgrade Now link is in the email you received)"
    return f"{current_app.config['BASE_URL']}/upgrade/{upgrade_token(trial, user)}"


@dataclass(frozen=True)
class Offer:
    """What an Upgrade Now link offers now: the company, the seats a Premium request
    would ask for, and why it offers nothing (`refusal`), if so."""

    company: Company | None
    seats: int = 0
    refusal: str | None = None
    pending: Order | None = None  # an upgrade request awaiting approval

    @property
    def requested(self) -> int:
        """The Premium seats Upgrade Now asks for: one per trial person, at least 1."""
        return max(1, self.seats)


def offer(token: str, now: datetime | None = None) -> Offer:
    """Read-only: what the link offers (opening it, as a mail scanner does, changes
    nothing)."""
    now = now or clock.now()
    trial, user = _read(token)
    if trial is None or user is None:
        return Offer(None, refusal=_INVALID)
    company = trial.company
    if now >= trial.expires_at + UPGRADE_GRACE:
        return Offer(company, refusal=_LATE.format(company=company.name))
    if trial.ended_at is not None:
        return Offer(company, refusal=f"{company.name} has been upgraded: nothing to do.")
    pending = db.session.scalar(
        select(Order)
        .where(Order.company_id == company.id, Order.upgrade_token.is_not(None))
        .where(Order.status == OrderStatus.REQUESTED.value)
        .order_by(Order.id)
        .limit(1)
    )
    if pending is not None:
        return Offer(
            company,
            pending=pending,
            refusal=f"The upgrade of {company.name} was requested: request "
            f"{pending.number} for {pending.quantity:,} Premium licenses awaits your "
            "account manager's approval.",
        )
    if _used(token):
        return Offer(company, refusal=f"This link was used already for {company.name}.")
    return Offer(company, seats=_trial_people(company.id, now))


def request_upgrade(token: str) -> Order:
    """Upgrade Now's POST: one Premium request, one seat per trial person (at least
    one), in the account managers' Requested Orders, requested by the link's
    recipient (interface "email-link"). Once per link, ever. Raises Conflict with
    the page's words when the link offers nothing."""
    now = clock.now()
    trial, user = _read(token)
    if trial is None:
        raise Conflict(_INVALID)
    # Two recipients pressing at once: the second waits here, then finds the first's.
    locks.lock_companies(trial.company_id)
    found = offer(token, now)
    if found.refusal:
        raise Conflict(found.refusal)
    actor = actor_for(user, "email-link")
    order = orders.request_order(actor, trial.company_id, found.requested)
    order.upgrade_token = _digest(token)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict(f"This link was used already for {trial.company.name}.") from None
    return order


_INVALID = (
    "This Upgrade Now link is not valid. Ask your account manager, or request "
    "licenses from the panel."
)
_LATE = (
    "This Upgrade Now link for {company} has expired (30 days after the trial's end). "
    "Request licenses from the panel, or ask your account manager."
)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _read(token: str) -> tuple[Order | None, AppUser | None]:
    try:
        data = _serializer().loads(token)
        trial = db.session.get(Order, int(data["o"]), populate_existing=True)
        user = db.session.get(AppUser, int(data["u"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        return None, None
    if trial is None or trial.license_type != TRIAL or user is None:
        return None, None
    # Still one of the company's managers (not moved away, not deactivated).
    if user.id not in {m.id for m in notifications.company_managers(trial.company_id)}:
        return None, None
    return trial, user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _used(token: str) -> bool:
    return bool(db.session.scalar(select(exists().where(Order.upgrade_token == _digest(token)))))


def _trial_people(company_id: int, now: datetime) -> int:
    """The company's active people on its trial (`_on_trial`)."""
    return db.session.scalar(
        select(func.count()).where(Learner.company_id == company_id, Learner.active, _on_trial(now))
    )
