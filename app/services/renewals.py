"""Renewals: one row per company of an account manager's subtree with its own seat
and expiry figures, sortable by any figure and filtered by ranges — the grid an MSP
renews 2,000 customers from (product.md, "Renewals at MSP scale").

Every figure is the company's own: its active learners, the seats of its pools
(assigned, unexpired orders), its people expiring within 30 and 90 days or
expired (active people whose last license expired), its next expiry, its open
requests. A sub-partner's row also carries its subtree's totals. The figures come
from three grouped queries joined to the page's companies — one statement for a
page, whatever its size — plus one for the page's sub-partners' subtree totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, case, func, literal, select, type_coerce

from app import clock
from app.extensions import db
from app.models import Company, CompanyKind, CompanyTree, Learner, Order, OrderStatus
from app.models.types import UTCDateTime
from app.services import pools
from app.services.states import is_active, is_expired, is_expiring
from app.sql import count_if, like_any
from app.tenancy import Actor, Screen, screen_scope


@dataclass(frozen=True)
class Figure:
    """A column of Renewals: its key (URL and export), label and kind."""

    key: str
    label: str
    kind: str = "count"  # "count" (a range filter) or "instant"


FIGURES = [
    Figure("learners", "Learners"),
    Figure("assigned", "Seats assigned"),
    Figure("allocated", "Allocated"),
    Figure("free", "Free"),
    Figure("expiring_30", "Expiring in 30 days"),
    Figure("expiring_90", "Expiring in 90 days"),
    Figure("expired", "Expired"),
    Figure("next_expiry", "Next expiry", "instant"),
    Figure("open_requests", "Open requests"),
    Figure("open_seats", "Seats requested"),
]
COUNTS = [f.key for f in FIGURES if f.kind == "count"]
SORTABLE = {"name", "plan", *(f.key for f in FIGURES)}
PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Query:
    """What the screen asks for: a name search, ranges per figure (inclusive, None
    for open), an order and a page."""

    search: str = ""
    ranges: dict[str, tuple[int | None, int | None]] | None = None
    sort: str = "expiring_30"
    descending: bool = True
    page: int = 0
    page_size: int = PAGE_SIZE


@dataclass
class Row:
    company_id: int
    name: str
    kind: str
    figures: dict
    plan: str = "—"  # pools.plan_label: Managed, Free Trial, Premium, NFR only
    subtree: dict | None = None  # a sub-partner's subtree totals (itself included)

    @property
    def next_expiry(self) -> datetime | None:
        return self.figures["next_expiry"]


@dataclass
class Page:
    rows: list[Row]
    total: int
    query: Query


def page(actor: Actor, query: Query) -> Page:
    """One page of the actor's companies with their figures (partner screen: the
    whole subtree, Manage Company mode or not)."""
    table = figures_query(actor, clock.now()).subquery()
    filtered = select(table).where(*conditions(table, query))
    if query.ranges:
        total = db.session.scalar(select(func.count()).select_from(filtered.subquery()))
    else:  # the companies alone: the figures would be computed only to be counted
        companies = select(Company.id).where(screen_scope(actor, Company.id, Screen.PARTNER))
        if query.search:
            companies = companies.where(like_any(query.search, Company.name))
        total = db.session.scalar(select(func.count()).select_from(companies.subquery()))
    rows = db.session.execute(
        filtered.order_by(*ordering(table, query))
        .limit(query.page_size)
        .offset(query.page * query.page_size)
    ).all()
    result = [_row(r) for r in rows]
    _add_subtree_totals(actor, result)
    return Page(result, total or 0, query)


def all_rows(actor: Actor, query: Query):
    """Every company the query matches, in its order (the exports), streamed."""
    table = figures_query(actor, clock.now()).subquery()
    statement = select(table).where(*conditions(table, query)).order_by(*ordering(table, query))
    for row in db.session.execute(statement.execution_options(yield_per=500)):
        yield _row(row)


def figures_query(actor: Actor, now: datetime) -> Select:
    """Every company in the actor's scope with its own figures, as one SELECT."""
    in_scope = screen_scope(actor, Company.id, Screen.PARTNER)
    people = _people(now, screen_scope(actor, Learner.company_id, Screen.PARTNER)).subquery()
    seats = _seats(now, screen_scope(actor, Order.company_id, Screen.PARTNER)).subquery()
    requests = _requests(screen_scope(actor, Order.company_id, Screen.PARTNER)).subquery()
    zero = literal(0)
    assigned = func.coalesce(seats.c.assigned, zero)
    allocated = func.coalesce(seats.c.allocated, zero)
    return (
        select(
            Company.id.label("company_id"),
            Company.name.label("name"),
            Company.kind.label("kind"),
            func.coalesce(seats.c.plan, zero).label("plan"),
            func.coalesce(people.c.learners, zero).label("learners"),
            assigned.label("assigned"),
            allocated.label("allocated"),
            (assigned - allocated).label("free"),
            func.coalesce(people.c.expiring_30, zero).label("expiring_30"),
            func.coalesce(people.c.expiring_90, zero).label("expiring_90"),
            func.coalesce(people.c.expired, zero).label("expired"),
            people.c.next_expiry.label("next_expiry"),
            func.coalesce(requests.c.open_requests, zero).label("open_requests"),
            func.coalesce(requests.c.open_seats, zero).label("open_seats"),
        )
        .outerjoin(people, people.c.company_id == Company.id)
        .outerjoin(seats, seats.c.company_id == Company.id)
        .outerjoin(requests, requests.c.company_id == Company.id)
        .where(in_scope)
    )


def conditions(table, query: Query) -> list:
    found = []
    if query.search:
        found.append(like_any(query.search, table.c.name))
    for key, (low, high) in (query.ranges or {}).items():
        if key not in COUNTS:
            continue
        if low is not None:
            found.append(table.c[key] >= low)
        if high is not None:
            found.append(table.c[key] <= high)
    return found


def ordering(table, query: Query) -> list:
    """The query's order, then name and id (a stable page); companies without a next
    expiry last, whichever the direction."""
    column = table.c[query.sort] if query.sort in SORTABLE else table.c.expiring_30
    direction = column.desc() if query.descending else column.asc()
    return [column.is_(None), direction, table.c.name, table.c.company_id]


def _people(now: datetime, scope) -> Select:
    expires = Learner.license_expires_at
    upcoming = case((is_active(now), expires))
    return (
        select(
            Learner.company_id.label("company_id"),
            func.count().label("learners"),
            count_if(is_expiring(now)).label("expiring_30"),
            count_if(is_expiring(now, timedelta(days=90))).label("expiring_90"),
            count_if(is_expired(now)).label("expired"),
            type_coerce(func.min(upcoming), UTCDateTime()).label("next_expiry"),
        )
        .where(scope, Learner.active)
        .group_by(Learner.company_id)
    )


def _seats(now: datetime, scope) -> Select:
    return (
        select(
            Order.company_id.label("company_id"),
            func.sum(Order.quantity).label("assigned"),
            func.sum(Order.allocated).label("allocated"),
            pools.plan_rank().label("plan"),
        )
        .where(scope, pools.is_pool(now))
        .group_by(Order.company_id)
    )


def _requests(scope) -> Select:
    return (
        select(
            Order.company_id.label("company_id"),
            func.count().label("open_requests"),
            func.sum(Order.quantity).label("open_seats"),
        )
        .where(scope, Order.status == OrderStatus.REQUESTED.value)
        .group_by(Order.company_id)
    )


def _row(row) -> Row:
    values = row._mapping
    figures = {f.key: values[f.key] for f in FIGURES}
    for key in COUNTS:
        figures[key] = int(figures[key] or 0)
    return Row(
        values["company_id"],
        values["name"],
        values["kind"],
        figures,
        pools.plan_label(values["plan"]),
    )


def _add_subtree_totals(actor: Actor, rows: list[Row]) -> None:
    """A sub-partner's row: its subtree's totals too (one grouped query per page)."""
    subs = [r for r in rows if r.kind == CompanyKind.SUB_PARTNER]
    if not subs:
        return
    per_company = figures_query(actor, clock.now()).subquery()
    totals = db.session.execute(
        select(
            CompanyTree.ancestor_id,
            *(func.sum(per_company.c[key]).label(key) for key in COUNTS),
            type_coerce(func.min(per_company.c.next_expiry), UTCDateTime()).label("next_expiry"),
        )
        .join(per_company, per_company.c.company_id == CompanyTree.descendant_id)
        .where(CompanyTree.ancestor_id.in_([r.company_id for r in subs]))
        .group_by(CompanyTree.ancestor_id)
    ).all()
    by_company = {t[0]: t for t in totals}
    for row in subs:
        found = by_company.get(row.company_id)
        if found is not None:
            mapping = found._mapping
            row.subtree = {key: int(mapping[key] or 0) for key in COUNTS}
            row.subtree["next_expiry"] = mapping["next_expiry"]
