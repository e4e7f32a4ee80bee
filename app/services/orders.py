"""License orders: Request Licenses, Assign (one or many), Decline and Cancel.

Every state change is a conditional UPDATE from *requested*, checked by row count,
so two managers pressing Assign together produce one assignment and one clear
"already assigned" — decided by the database, not by a read in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import case, exists, literal, select, update
from sqlalchemy.exc import IntegrityError

from app import clock, display
from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from app.models import Company, CompanyKind, LicenseType, Order, OrderStatus
from app.models.order import PAID_TYPES
from app.models.types import UTCDateTime
from app.services import (
    audit,
    locks,
    managed,
    notifications,
    pools,
    renewal_requests,
    trials,
    webhooks,
)
from app.services.terms import term_expiry
from app.services.validation import optional_text, required_text
from app.tenancy import (
    Actor,
    coerce_pk,
    get_many_scoped,
    get_scoped,
    require_company_in_view,
    strictly_below,
    system_actor,
)

AUDITED = (
    "status",
    "quantity",
    "license_type",
    "po_number",
    "coterm_order_id",
    "assigned_at",
    "expires_at",
    "close_reason",
)


def request_order(
    actor: Actor,
    company_id: int | None,
    quantity,
    license_type=LicenseType.PREMIUM.value,
    po_number: str | None = None,
    coterm_order_id=None,
) -> Order:
    """Request licenses of a type (`requestable_types`) for the company the actor is
    working in (its own, or the one it manages), with the customer's PO number, and
    optionally to expire with one of its pools (co-terming, `coterm_pool`). Raises
    Invalid (quantity, type, PO number, pool), Forbidden or NotFound."""
    if company_id is None:
        raise Forbidden("Choose a company with Manage Company first, then request its licenses.")
    company = require_company_in_view(
        actor,
        company_id,
        Forbidden("Licenses are requested from the company's own screens (Manage Company)."),
    )
    managed.refuse_if_managed(actor, company.id)
    wanted = parse_type(license_type)
    if wanted not in requestable_types(actor, company):
        raise Invalid(_refusal(wanted, company), "license_type")
    pool = coterm_pool(company.id, wanted, coterm_order_id, clock.now())
    order = Order(
        company_id=company.id,
        quantity=parse_quantity(quantity),
        license_type=wanted.value,
        po_number=optional_text(po_number, "po_number", "The PO number", 64),
        coterm_order_id=pool.id if pool else None,
        status=OrderStatus.REQUESTED.value,
        requested_by_id=actor.user_id,
        requested_at=clock.now(),
    )
    db.session.add(order)
    db.session.flush()
    record(actor, "requested", order)
    notifications.order_requested(order)
    return order


@dataclass(frozen=True)
class Assignment:
    """What assigning an order would do: its seats go to its company until `expires_at`
    (its type's term from now, in the company's time zone — or, co-termed, the
    expiry of the pool it names, `coterm`)."""

    order: Order
    expires_at: datetime
    expires_on: date
    # A renewal request: what its people would get (renewal_requests.preview).
    people: renewal_requests.Outcome | None = None
    coterm: Order | None = None  # the pool whose expiry the seats take
    lapsed: Order | None = None  # the pool named, expired since: the normal term instead
    # People its seats would take from a trial or the other paid type: {type: people}.
    moving: dict[str, int] | None = None

    @property
    def moving_count(self) -> int:
        """How many of them the seats take (the first by last name)."""
        return min(sum((self.moving or {}).values()), self.order.quantity)


def record(actor: Actor, action: str, order: Order, before: dict | None = None, **extra) -> None:
    """One audit event about an order ("order.<action>"): its audited fields after
    the change, with any `extra` values."""
    audit.record(
        actor,
        f"order.{action}",
        company_id=order.company_id,
        entity="order",
        entity_id=order.id,
        before=before,
        after={**audit.values(order, AUDITED), **extra},
    )
    if action in webhooks.ORDER_EVENTS and action != "assigned":  # (told by assign_orders)
        webhooks.emit(f"order.{action}", order.company_id, webhooks.order_object(order))


def coterm_choices(company_id: int, now: datetime) -> list[Order]:
    """The pools a top-up may expire with: the company's assigned, unexpired pools of
    a paid type (Premium or Managed), full or not, expiring first first."""
    return list(
        db.session.scalars(
            select(Order)
            .where(
                Order.company_id == company_id,
                pools.is_pool(now),
                Order.license_type.in_(PAID_TYPES),
            )
            .order_by(Order.expires_at, Order.id)
        )
    )


def coterm_pool(company_id: int, license_type: LicenseType, order_id, now: datetime):
    """The pool a request names to expire with, checked: the company's own, assigned,
    unexpired, of the same paid type. None when it names none."""
    if order_id in (None, ""):
        return None
    pk = coerce_pk(order_id)
    pool = next((o for o in coterm_choices(company_id, now) if o.id == pk), None)
    if pool is None or pool.license_type != license_type.value:
        raise Invalid(
            f"Choose one of the company's current {license_type.label} orders to expire "
            "with, or the normal term.",
            "coterm_order_id",
        )
    return pool


def preview_assignment(
    actor: Actor, order_ids: list, now: datetime | None = None
) -> list[Assignment]:
    """What Assign would do to these orders if confirmed now, checked as Assign checks
    them (all or none). Raises NotFound (any out of scope), Forbidden or Conflict."""
    orders = get_many_scoped(actor, Order, order_ids)
    _check_below(actor, orders)
    _check_requested(orders)
    now = now or clock.now()
    return [_assignment(o, now) for o in sorted(orders, key=lambda o: o.id)]


def _assignment(order: Order, now: datetime) -> Assignment:
    people = renewal_requests.preview(order, now) if order.renewal else None
    moving = (
        None if order.renewal else trials.movable_people(order.company_id, order.license_type, now)
    )
    pool = order.coterm_order
    if pool is not None and pool.status == OrderStatus.ASSIGNED and pool.expires_at > now:
        return Assignment(
            order, pool.expires_at, pool.expires_on, people, coterm=pool, moving=moving
        )
    expiry = term_expiry(now, order.company.timezone, order.license_type)
    return Assignment(order, *expiry, people, lapsed=pool, moving=moving)


def assign_orders(
    actor: Actor, order_ids: list, normal_term=(), approve=None, reason: str | None = None
) -> list[Order]:
    """Assign requested orders of companies strictly below the actor's company, all or
    none: each gets its type's term from now (services/terms.py), in its company's time
    zone, and a renewal request's seats go to its people at once (`renewal_requests`).
    An order co-termed with a pool that expired since is refused unless its id is
    in `normal_term` (the manager accepted the normal term instead). One order may be
    approved in part (`approve` seats, with a `reason`): the rest is declined in the
    same step as an order of its own (`split_from_id`), and the company's managers
    get one email. Raises NotFound (any out of scope), Forbidden (own company),
    Invalid (the partial approval) or Conflict."""
    now = clock.now()
    plan = preview_assignment(actor, order_ids, now)
    accepted = {coerce_pk(pk) for pk in normal_term}
    lapsed = [a for a in plan if a.lapsed is not None and a.order.id not in accepted]
    if lapsed:
        raise Conflict(
            "Nothing was assigned. "
            + "; ".join(
                f"Order #{a.order.id} was to expire with order #{a.lapsed.id}, which "
                f"expired on {display.day(a.lapsed.expires_at, a.order.company.timezone)}"
                for a in lapsed
            )
            + ": assign with the normal term instead, or decline."
        )
    partial = _partial(plan, approve, reason)
    orders = [a.order for a in plan]
    # The companies' rows first, in one order (moving people locks them too): two
    # assignments for one company queue here, before either holds any other row.
    locks.lock_companies(*{o.company_id for o in orders})
    terms = {a.order.id: (a.expires_at, a.expires_on) for a in plan}
    changed = db.session.execute(
        update(Order)
        .where(Order.id.in_(terms), Order.status == OrderStatus.REQUESTED.value)
        .values(
            status=OrderStatus.ASSIGNED.value,
            assigned_by_id=actor.user_id,
            assigned_at=now,
            expires_at=case(
                {pk: literal(t[0], UTCDateTime()) for pk, t in terms.items()}, value=Order.id
            ),
            expires_on=case({pk: t[1] for pk, t in terms.items()}, value=Order.id),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != len(orders):
        raise Conflict(
            "Someone else assigned or closed one of these orders meanwhile; "
            "nothing was assigned. Reload and try again."
        )
    renewal_requests.close(list(terms))
    if partial:
        _split(actor, *partial, now)
    for order in orders:
        before = {"status": OrderStatus.REQUESTED.value, "quantity": order.quantity}
        db.session.refresh(order)
        if before["quantity"] == order.quantity:  # approved in full
            del before["quantity"]
        record(actor, "assigned", order, before=before)
        if order.renewal:
            renewal_requests.give_seats(actor, order, now)
    # A paid order's free seats go to the company's trial (or other paid type's)
    # people; a company's later orders in the same step take trial people only (the
    # first already decided its paid type's people).
    moved, seen = {}, set()
    for order in sorted(orders, key=lambda o: (o.company_id, o.id)):
        first = order.company_id not in seen and order.license_type in PAID_TYPES
        moved[order.id] = trials.move_people(actor, order, now, trial_only=not first)
        if first:
            seen.add(order.company_id)
    for order in orders:
        notifications.order_assigned(order, moved[order.id])
        db.session.expire(order, ["allocated"])  # the seats given above, in SQL
        webhooks.emit("order.assigned", order.company_id, webhooks.order_object(order))
    return orders


def _partial(plan: list[Assignment], approve, reason) -> tuple[Order, int, str] | None:
    """A partial approval asked for: (order, seats approved, reason), checked; None
    for a full one."""
    text = str(approve if approve is not None else "").strip().replace(",", "")
    if not text:
        return None
    if len(plan) != 1:
        raise Invalid(
            "Approve fewer seats on one order at a time: Assign of several orders "
            "approves each in full.",
            "approve",
        )
    order = plan[0].order
    if not (text.isascii() and text.isdecimal() and len(text) <= 9) or not (
        1 <= int(text) <= order.quantity
    ):
        raise Invalid(f"Approve a whole number of seats from 1 to {order.quantity:,}.", "approve")
    if int(text) == order.quantity:
        return None
    return order, int(text), required_text(reason, "reason", "A reason for the rest", 500)


def _split(actor: Actor, order: Order, approved: int, reason: str, now: datetime) -> Order:
    """Approve `approved` seats of the order just assigned and decline the rest as
    an order of its own, recorded (its people, for a renewal request: all but the
    first `approved` by last name)."""
    rest = Order(
        company_id=order.company_id,
        quantity=order.quantity - approved,
        license_type=order.license_type,
        po_number=order.po_number,
        renewal=order.renewal,
        requested_by_id=order.requested_by_id,
        requested_at=order.requested_at,
        status=OrderStatus.DECLINED.value,
        closed_by_id=actor.user_id,
        closed_at=now,
        close_reason=reason,
        split_from_id=order.id,
    )
    db.session.add(rest)
    db.session.flush()
    db.session.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(quantity=approved)
        .execution_options(synchronize_session=False)
    )
    if order.renewal:
        renewal_requests.move_people(order.id, rest.id, keep=approved)
    record(
        actor,
        "declined",
        rest,
        before={"status": OrderStatus.REQUESTED.value},
        split_from_id=order.id,
    )
    return rest


def grant_nfr(company_ids: list[int] | None = None, now: datetime | None = None) -> list[Order]:
    """Every partner and sub-partner (or those of `company_ids`) without a running
    NFR grant gets one: NFR_GRANT_SEATS seats for its own staff, assigned by the
    platform, for the NFR term — on creation, and again when a grant expires (the
    hourly job). Never for customers. Idempotent: each company is granted under a
    lock on its row, re-checked; a unique index (company, expiry day) backs it up."""
    seats = current_app.config["NFR_GRANT_SEATS"]
    if seats <= 0:
        return []
    now = now or clock.now()
    running = exists().where(Order.company_id == Company.id, Order.granted, pools.is_pool(now))
    query = select(Company).where(Company.kind != CompanyKind.CUSTOMER.value, ~running)
    if company_ids is not None:
        query = query.where(Company.id.in_(company_ids))
    actor = system_actor("worker")
    granted = []
    for company in db.session.scalars(query.order_by(Company.id)).all():
        # Another run may be granting it now: wait for its lock on the company, then
        # look again (a new statement sees what that run committed).
        locks.lock_companies(company.id)
        if db.session.scalar(select(running).where(Company.id == company.id)):
            continue
        order = issue(actor, company, seats, LicenseType.NFR.value, now, granted=True)
        if order is None:
            continue  # granted by another run meanwhile
        record(actor, "granted", order)
        granted.append(order)
    return granted


def issue(
    actor: Actor, company: Company, quantity: int, license_type: str, now: datetime, **extra
) -> Order | None:
    """An order assigned at once, by the actor, for its type's term from now (an NFR
    grant, a Free Trial) — or None when a unique index says the company holds one
    already (another run made it meanwhile); the caller's transaction goes on."""
    expires_at, expires_on = term_expiry(now, company.timezone, license_type)
    order = Order(
        company_id=company.id,
        quantity=quantity,
        license_type=license_type,
        status=OrderStatus.ASSIGNED.value,
        requested_by_id=actor.user_id,
        requested_at=now,
        assigned_by_id=actor.user_id,
        assigned_at=now,
        expires_at=expires_at,
        expires_on=expires_on,
        **extra,
    )
    try:
        with db.session.begin_nested():
            db.session.add(order)
    except IntegrityError:
        return None
    return order


def remainder_of(order: Order) -> Order | None:
    """The declined remainder of a partly approved order, if any."""
    return db.session.scalar(select(Order).where(Order.split_from_id == order.id))


def decline_order(actor: Actor, order_id, reason: str) -> Order:
    """An account manager above the company declines its request, with a reason."""
    order = get_scoped(actor, Order, order_id)
    _check_below(actor, [order])
    return _close(actor, order, OrderStatus.DECLINED, reason, notifications.order_declined)


def cancel_order(actor: Actor, order_id, reason: str) -> Order:
    """The requesting company's managers withdraw their request, with a reason."""
    order = get_scoped(actor, Order, order_id)
    if not actor.works_in(order.company_id):
        raise Forbidden("Only the requesting company's managers can cancel its request.")
    managed.refuse_if_managed(actor, order.company_id)
    return _close(actor, order, OrderStatus.CANCELLED, reason, notifications.order_cancelled)


def requestable_types(actor: Actor, company: Company) -> list[LicenseType]:
    """What Request Licenses offers: Premium to everyone; Managed to account managers
    (and the platform admin); NFR to account managers for their own partner or
    sub-partner company only (its own staff). A Free Trial is started, not requested."""
    types = [LicenseType.PREMIUM]
    if actor.may_manage_others:
        types.append(LicenseType.MANAGED)
        own = not actor.managing_company_id and company.id == actor.company_id
        if own and company.kind != CompanyKind.CUSTOMER:
            types.append(LicenseType.NFR)
    return types


def parse_type(value) -> LicenseType:
    try:
        return LicenseType(str(value or LicenseType.PREMIUM.value).strip().lower())
    except ValueError:
        raise Invalid("Choose a license type: Premium, Managed or NFR.", "license_type") from None


def _refusal(wanted: LicenseType, company: Company) -> str:
    if wanted is LicenseType.TRIAL:
        return "A Free Trial is started by an account manager from Company, not requested."
    if wanted is LicenseType.NFR:
        return (
            "NFR licenses are for a partner's or sub-partner's own staff: its account "
            f"managers request them for their own company, never for a customer such as "
            f"{company.name}."
            if company.kind == CompanyKind.CUSTOMER
            else "NFR licenses are requested by the company's own account managers."
        )
    return f"{wanted.label} licenses are requested by the account managers above the company."


def parse_quantity(value, field: str = "quantity") -> int:
    maximum = current_app.config["ORDER_MAX_QUANTITY"]
    text = str(value).strip().replace(",", "").replace(" ", "") if value is not None else ""
    if (
        not (text.isascii() and text.isdecimal() and len(text) <= 9)
        or not 1 <= int(text) <= maximum
    ):
        raise Invalid(f"Quantity must be a whole number from 1 to {maximum:,}.", field)
    return int(text)


def history(order_id: int):
    """The order's audit events, oldest first (who, when, acting for which company)."""
    from app.models import AuditEvent

    return db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity == "order", AuditEvent.entity_id == order_id)
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()


def decidable_ids(actor: Actor, orders: list[Order], listed: bool = False) -> set[int]:
    """Ids of the requested orders the actor may assign or decline (one query, none
    when `listed`: the orders were read through the actor's scope, as a list's page is).
    In Manage Company mode the actor works as the company's own manager, who
    decides nothing: Assign and Decline stay on the partner's own screens."""
    if actor.managing_company_id:
        return set()
    requested = [o for o in orders if o.status == OrderStatus.REQUESTED]
    below = strictly_below(actor, {o.company_id for o in requested}, in_scope=listed)
    return {o.id for o in requested if o.company_id in below}


def can_decide(actor: Actor, order: Order) -> bool:
    return order.id in decidable_ids(actor, [order])


def can_cancel(actor: Actor, order: Order) -> bool:
    """The requesting company's own managers withdraw a request still requested."""
    return order.status == OrderStatus.REQUESTED and actor.works_in(order.company_id)


def _close(actor: Actor, order: Order, status: OrderStatus, reason: str, notify) -> Order:
    reason = required_text(reason, "reason", "A reason", 500)
    changed = db.session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.REQUESTED.value)
        .values(
            status=status.value,
            closed_by_id=actor.user_id,
            closed_at=clock.now(),
            close_reason=reason,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise Conflict(
            f"Order #{order.id} is no longer requested: it was "
            f"{OrderStatus(_status(order.id)).label.lower()} meanwhile."
        )
    renewal_requests.close([order.id])
    db.session.refresh(order)
    record(actor, status.value, order, before={"status": OrderStatus.REQUESTED.value})
    notify(order)
    return order


def _status(order_id: int) -> str:
    return db.session.scalar(select(Order.status).where(Order.id == order_id))


def _check_below(actor: Actor, orders: list[Order]) -> None:
    allowed = strictly_below(actor, {o.company_id for o in orders})
    own = [o for o in orders if o.company_id not in allowed]
    if own:
        raise Forbidden(
            f"{_numbers(own)}: a company's orders are assigned or declined by the managers "
            "above it, not by its own managers."
        )


def _check_requested(orders: list[Order]) -> None:
    done = [o for o in orders if o.status != OrderStatus.REQUESTED]
    if done:
        raise Conflict(
            "Nothing was assigned. "
            + "; ".join(f"Order #{o.id} is already {o.status_label.lower()}" for o in done)
            + "."
        )


def _numbers(orders: list[Order]) -> str:
    return ", ".join(f"Order #{o.id}" for o in orders)
