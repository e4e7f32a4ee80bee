"""Allocate Licenses: stage the people picked (one by one, Select All over a filter,
or a spreadsheet), show the plan, then allocate to exactly those people — all or
nothing, in a few set-based statements whatever the number of people.

Seats come from the pool that expires last (a renewal gets the freshest licenses),
spilling to the next; the manager may choose the order instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, func, insert, literal, select, update

from app import clock, display
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.models import Learner, Order, Selection, SelectionMember
from app.services import audit, managed, pools, reclaim
from app.services.states import is_active, needs_license
from app.sql import joined_or_in
from app.tenancy import Actor, get_in_view, require_company_in_view, require_pk

NAMES_SHOWN = 10
# The order people of a selection are listed (and, with too few seats, served) in.
LIST_ORDER = (Learner.last_name, Learner.first_name, Learner.id)


@dataclass
class Plan:
    """What confirming a selection would do: how many seats from which orders."""

    selection: Selection
    chunks: list[tuple[Order, int]] = field(default_factory=list)
    free: int = 0
    licensed_now: list[Learner] = field(default_factory=list)
    licensed_count: int = 0

    @property
    def size(self) -> int:
        return self.selection.size

    @property
    def shortfall(self) -> int:
        return max(0, self.size - self.free)

    @property
    def expiries(self) -> list[datetime]:
        return sorted({order.expires_at for order, _ in self.chunks}, reverse=True)

    def problem(self) -> str | None:
        """Why the allocation cannot go ahead as confirmed, in the manager's words."""
        if self.licensed_count:
            return (
                f"{_names(self.licensed_now, self.licensed_count)} already "
                + ("has" if self.licensed_count == 1 else "have")
                + " an active license now. Nothing was allocated: confirm the remainder."
            )
        if self.shortfall:
            return shortage_message(self.size, self.free)
        return None


def shortage_message(needed: int, free: int) -> str:
    """The one wording of "not enough seats", for Allocate and the spreadsheet import."""
    return (
        f"{needed:,} selected, {display.count(free, 'seat')} free: "
        f"request {display.count(needed - free, 'more license', 'more licenses')}."
    )


def select_people(actor: Actor, company_id, learner_ids: list, source: str = "manual"):
    """Stage people picked one by one (ids posted from a tab). Every id must be a
    learner of the company; anything else is NotFound."""
    company = require_company_in_view(actor, company_id)
    managed.refuse_if_managed(actor, company.id)
    return stage(actor, company.id, ticked(company.id, learner_ids), source)


def ticked(company_id: int, learner_ids: list) -> Select:
    """The people ticked on a tab (ids as posted), all of them learners of the
    company — anything else is NotFound — as a query of their ids."""
    wanted = {require_pk(pk) for pk in learner_ids}
    found = select(Learner.id).where(Learner.company_id == company_id, Learner.id.in_(wanted))
    if not wanted or db.session.scalar(select(func.count()).select_from(found.subquery())) != len(
        wanted
    ):
        raise NotFound()
    return found


def select_matching(
    actor: Actor,
    company_id,
    learner_ids: Select,
    source: str = "select_all",
    *,
    include_flagged: bool = False,
):
    """Stage everybody a tab's current filter matches ("all N matching"), in one
    INSERT … SELECT. `learner_ids` is the filtered query of learner ids. People
    flagged do-not-renew (seat reclaim) are left out unless `include_flagged`."""
    company = require_company_in_view(actor, company_id)
    managed.refuse_if_managed(actor, company.id)
    now = clock.now()
    ids = learner_ids.where(Learner.company_id == company.id, needs_license(now))
    if not include_flagged:
        ids = ids.where(~reclaim.flagged(company, now))
    selection = stage(actor, company.id, ids, source)
    if not selection.size:
        if not include_flagged and flagged_matching(company, learner_ids):
            raise Invalid(
                "Everybody the current filter matches is flagged do-not-renew: "
                "tick Include them to allocate to them anyway."
            )
        raise Invalid("Nobody matches the current filter: nothing to allocate.")
    return selection


def flagged_matching(company, learner_ids: Select) -> int:
    """How many of the people a tab's filter matches are flagged do-not-renew."""
    ids = learner_ids.order_by(None).where(
        Learner.company_id == company.id, reclaim.flagged(company, clock.now())
    )
    return db.session.scalar(select(func.count()).select_from(ids.subquery()))


def plan(actor: Actor, selection_id, order_id=None) -> Plan:
    """The allocation a confirmation would make, and any reason it cannot."""
    selection = get_selection(actor, selection_id)
    now = clock.now()
    chosen = require_pk(order_id) if order_id not in (None, "") else None
    result = Plan(selection=selection)
    remaining = selection.size
    available = pools.open_pools(selection.company_id, now, chosen)
    result.free = pools.free_seats(available)
    for order in available:
        take = min(remaining, order.free)
        if take:
            result.chunks.append((order, take))
            remaining -= take
    licensed = members(selection.id).where(is_active(now))
    result.licensed_count = db.session.scalar(select(func.count()).select_from(licensed.subquery()))
    if result.licensed_count:
        result.licensed_now = list(
            db.session.scalars(
                select(Learner)
                .where(Learner.id.in_(licensed))
                .order_by(Learner.last_name)
                .limit(NAMES_SHOWN)
            )
        )
    return result


def allocate(actor: Actor, selection_id, order_id=None, *, automatic: bool = False) -> Plan:
    """Allocate seats to exactly the staged people. Raises Conflict (someone gained a
    license, too few seats, seats taken meanwhile, already confirmed) and changes
    nothing then; the caller's transaction is rolled back. `automatic`: the
    automatic licensing of new learners (an import), which a Managed company's own
    managers keep (services/managed.py)."""
    result = plan(actor, selection_id, order_id)
    selection = result.selection
    if not automatic:
        managed.refuse_if_managed(actor, selection.company_id)
    if selection.used_at is not None:
        raise Conflict("These people were already given their licenses (confirmed before).")
    if result.problem():
        raise Conflict(result.problem())
    now = clock.now()
    # Positions go to the pools freshest first; the statements run the other way,
    # from the pool expiring first, so each writes expiry keys above the previous
    # one's and the expiry indexes (learners', licenses') grow at their right edge
    # instead of splitting pages in their middle. Every pool's seats are taken
    # before anyone is licensed: concurrent allocations queue on the orders' rows
    # (always locked in this one order) before either holds a learner's row.
    ranges = list(reversed(_position_ranges(result.chunks)))
    for order, count, _ in ranges:
        _take_seats(order, count, now)
    for order, count, after in ranges:
        _license_people(actor, selection, order, (after, after + count), count, now)
    mark_used(selection, now, "These people were already given their licenses (confirmed before).")
    audit.record(
        actor,
        "licenses.allocated",
        company_id=selection.company_id,
        entity="selection",
        entity_id=selection.id,
        after={
            "people": selection.size,
            "source": selection.source,
            "orders": {str(o.id): n for o, n in result.chunks},
            "expires_at": [e.isoformat() for e in result.expiries],
        },
    )
    return result


def allocate_first(actor: Actor, selection_id, order_id=None) -> Plan:
    """Too few seats: allocate the free ones now, to the first people of the
    selection in its list's order (`members_page`: last name, first name) — the rest
    keep needing one. All or nothing, like `allocate`."""
    result = plan(actor, selection_id, order_id)
    if result.selection.used_at is not None:
        raise Conflict("These people were already given their licenses (confirmed before).")
    if result.licensed_count:
        raise Conflict(result.problem())
    if not result.free:
        raise Conflict(f"No seats are free: {shortage_message(result.size, 0)}")
    first = members(result.selection.id).order_by(*LIST_ORDER).limit(min(result.free, result.size))
    part = stage(actor, result.selection.company_id, first, result.selection.source)
    return allocate(actor, part.id, order_id)


def remainder(actor: Actor, selection_id) -> Selection:
    """A new selection of the same people minus those who gained a license since."""
    selection = get_selection(actor, selection_id)
    managed.refuse_if_managed(actor, selection.company_id)
    still = members(selection.id).where(needs_license(clock.now()))
    fresh = stage(actor, selection.company_id, still, selection.source)
    if not fresh.size:
        raise Invalid("Everybody in this selection has an active license now.")
    return fresh


TICKED_LIMIT = 1000


def ticked_ids(selection: Selection) -> set[int]:
    """The people of a selection picked one by one, to tick again on the list (none
    for Select All or a spreadsheet: their people are a filter or a file)."""
    if selection.source != "manual":
        return set()
    return set(db.session.scalars(members(selection.id).limit(TICKED_LIMIT)))


def get_selection(actor: Actor, selection_id) -> Selection:
    return get_in_view(actor, Selection, selection_id, fresh=True)


def members_page(selection_id: int, limit: int = 20) -> list[Learner]:
    return list(
        db.session.scalars(
            select(Learner)
            .where(Learner.id.in_(members(selection_id)))
            .order_by(*LIST_ORDER)
            .limit(limit)
        )
    )


def stage(actor: Actor, company_id: int, learner_ids: Select, source: str) -> Selection:
    """Stage the people a query of learner ids returns, numbered, in one INSERT … SELECT."""
    selection = Selection(
        company_id=company_id,
        created_by_id=actor.user_id,
        created_at=clock.now(),
        source=source,
        size=0,
    )
    db.session.add(selection)
    db.session.flush()
    inner = learner_ids.subquery()  # may carry its own ORDER BY … LIMIT
    people = select(inner.c[0]).distinct().subquery().c[0]
    db.session.execute(
        insert(SelectionMember).from_select(
            ["selection_id", "learner_id", "position"],
            select(literal(selection.id), people, func.row_number().over(order_by=people)),
        )
    )
    # Counted, not read from the INSERT's row count (not reported for INSERT … SELECT
    # through psycopg by SQLAlchemy).
    selection.size = db.session.scalar(
        select(func.count()).where(SelectionMember.selection_id == selection.id)
    )
    db.session.flush()
    return selection


def members(selection_id: int) -> Select:
    return (
        select(Learner.id)
        .join(SelectionMember, SelectionMember.learner_id == Learner.id)
        .where(SelectionMember.selection_id == selection_id)
    )


def _take_seats(order: Order, count: int, now: datetime) -> None:
    if not pools.take_seats(order.id, count, now):
        raise Conflict(
            f"Seats of order {order.number} were taken meanwhile; nothing was "
            "allocated. Review the allocation again."
        )


def _position_ranges(chunks: list[tuple[Order, int]]) -> list[tuple[Order, int, int]]:
    """Each pool's share of the staged people: (order, count, positions after)."""
    ranges, done = [], 0
    for order, count in chunks:
        ranges.append((order, count, done))
        done += count
    return ranges


def _license_people(actor, selection, order, positions: tuple[int, int], count: int, now) -> None:
    """Point the people staged at `positions` (after, up to) at their new license
    (only those still without one: the database decides, so two allocations never
    license one person twice), then record the licenses."""
    in_chunk = (
        SelectionMember.selection_id == selection.id,
        SelectionMember.position > positions[0],
        SelectionMember.position <= positions[1],
    )
    staged = joined_or_in(Learner.id, SelectionMember.learner_id, *in_chunk)
    if pools.point_people(staged, order, now) != count:
        raise Conflict(
            "Someone in this selection was given a license meanwhile; nothing "
            "was allocated. Review the allocation again."
        )
    chunk = select(SelectionMember.learner_id).where(*in_chunk)
    pools.record_licenses(
        actor, selection.company_id, order, chunk, now, selection.id, people=count
    )


def mark_used(selection: Selection, now: datetime, refusal: str) -> None:
    """A selection is confirmed once: a second confirmation is a Conflict (`refusal`)."""
    marked = db.session.execute(
        update(Selection)
        .where(Selection.id == selection.id, Selection.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if marked != 1:
        raise Conflict(refusal)
    selection.used_at = now


def _names(people: list[Learner], total: int) -> str:
    shown = ", ".join(p.full_name or p.email for p in people)
    return shown + (f" and {total - len(people)} more" if total > len(people) else "")


# A staged selection lives this long: confirmed or abandoned, it is gone after.
SELECTION_TTL = timedelta(days=1)


def discard_stale(now: datetime) -> int:
    """Delete the selections staged over a day ago, confirmed or not, with their
    members (up to 50,000 rows each for a Select All): the worker's periodic
    clean-up. Nothing refers to a selection by key (licenses and import batches
    keep its id as a record); no order waits on one (a renewal request keeps its
    people in `order_people`). Returns how many selections went."""
    stale = select(Selection.id).where(Selection.created_at < now - SELECTION_TTL)
    db.session.execute(
        delete(SelectionMember)
        .where(SelectionMember.selection_id.in_(stale.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return db.session.execute(
        delete(Selection)
        .where(Selection.created_at < now - SELECTION_TTL)
        .execution_options(synchronize_session=False)
    ).rowcount
