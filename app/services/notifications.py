"""Who is told what about an order, written to the outbox in the change's transaction."""

from __future__ import annotations

from typing import NamedTuple

from flask import current_app, render_template
from sqlalchemy import select

from app import clock, display
from app.extensions import db
from app.models import AppUser, CompanyTree, EmailKind, Order
from app.services import orders, renewal_requests, trials
from app.services.emails import queue_email
from app.services.managers import platform_admins_query


class Recipient(NamedTuple):
    """A manager an email goes to: what the emails use of the user, read as five
    columns (hundreds per reminder planning run; as Flask-AppBuilder user entities
    the same read took twice as long)."""

    id: int
    first_name: str
    last_name: str
    email: str
    company_id: int | None


RECIPIENT = (AppUser.id, AppUser.first_name, AppUser.last_name, AppUser.email, AppUser.company_id)


def request_recipients(company_id: int) -> list[Recipient]:
    """The account managers of the nearest partner or sub-partner above the company
    that has any (active); at the top, the platform admins."""
    return request_recipients_of([company_id])[company_id]


def request_recipients_of(company_ids) -> dict[int, list[Recipient]]:
    """`request_recipients` for many companies (one query, and one for the admins if
    some company has nobody above it)."""
    ids = list(company_ids)
    found: dict[int, list[Recipient]] = {}
    nearest: dict[int, int] = {}
    if ids:
        for company_id, depth, *user in db.session.execute(
            select(CompanyTree.descendant_id, CompanyTree.depth, *RECIPIENT)
            .join(CompanyTree, CompanyTree.ancestor_id == AppUser.company_id)
            .where(CompanyTree.descendant_id.in_(ids), CompanyTree.depth > 0, AppUser.active)
            .order_by(CompanyTree.descendant_id, CompanyTree.depth, AppUser.id)
        ):
            if nearest.setdefault(company_id, depth) == depth:
                found.setdefault(company_id, []).append(Recipient(*user))
    if len(found) < len(set(ids)):
        admins = platform_admins()
        for company_id in ids:
            found.setdefault(company_id, admins)
    return found


def company_managers(company_id: int) -> list[Recipient]:
    """The company's managers, as email recipients: its active users."""
    return company_managers_of([company_id])[company_id]


def company_managers_of(company_ids) -> dict[int, list[Recipient]]:
    """`company_managers` for many companies, in one query."""
    found: dict[int, list[Recipient]] = {company_id: [] for company_id in company_ids}
    if found:
        for user in db.session.execute(
            select(*RECIPIENT)
            .where(AppUser.company_id.in_(list(found)), AppUser.active)
            .order_by(AppUser.id)
        ):
            found[user.company_id].append(Recipient(*user))
    return found


def platform_admins() -> list[Recipient]:
    users = platform_admins_query().with_only_columns(*RECIPIENT).order_by(AppUser.id)
    return [Recipient(*user) for user in db.session.execute(users)]


def order_requested(order: Order) -> None:
    """A renewal request's email names its people (the first ten)."""
    people = renewal_requests.people_names(order.id) if order.renewal else []
    _tell(request_recipients(order.company_id), EmailKind.ORDER_REQUESTED, order, people=people)


def order_assigned(order: Order, moved: dict[str, int] | None = None) -> None:
    """One email: a renewal request's says who was licensed and which seats stay
    free; a partial approval's says how many of how many, and why the rest was
    declined (naming a renewal request's people left out); one that moved people
    off a trial or the other paid type says how many ({type: people})."""
    outcome = renewal_requests.last_outcome(order.id) if order.renewal else None
    rest = orders.remainder_of(order)
    declined = renewal_requests.people_names(rest.id) if rest and rest.renewal else []
    _tell(
        company_managers(order.company_id),
        EmailKind.ORDER_ASSIGNED,
        order,
        outcome=outcome,
        rest=rest,
        declined=declined,
        moved=moved or {},
        left=trials.still_on_trial(order.company_id, clock.now()) if moved else ([], 0),
    )


def order_declined(order: Order) -> None:
    _tell(company_managers(order.company_id), EmailKind.ORDER_DECLINED, order)


def order_cancelled(order: Order) -> None:
    _tell(request_recipients(order.company_id), EmailKind.ORDER_CANCELLED, order)


def _tell(recipients: list[Recipient], kind: EmailKind, order: Order, **context) -> None:
    base_url = current_app.config["BASE_URL"]
    for user in recipients:
        body = render_template(
            f"emails/{kind.value}.txt", order=order, user=user, base_url=base_url, **context
        )
        queue_email(
            key=f"{kind.value}:order-{order.id}:user-{user.id}",
            kind=kind.value,
            company_id=order.company_id,
            order_id=order.id,
            recipient=user.email,
            recipient_user_id=user.id,
            subject=f"{kind.label}: {display.count(order.quantity, 'license')} "
            f"for {order.company.name}",
            body=body,
        )
