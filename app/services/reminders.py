"""The expiry sweep, the reminder steps (models/reminder_step.py: by default the
72-hour reminder and the expiry-day notice) and the daily digest — planned as
outbox rows (one key per step, company, local expiry day and recipient), so a key is
written once and sent once whatever runs twice.

A company's licenses expiring on the same local day (`orders.expires_on`) form one
group — its Free Trial licenses a group of their own, which only the trial's steps
address; each step is due relative to the group's earliest or latest expiry instant.
Licenses renewed, taken back, or whose learner was deactivated are left out; a group
with none left gets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import NamedTuple

from flask import current_app, render_template
from sqlalchemy import (
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    tuple_,
    union,
    update,
)
from sqlalchemy.orm import lazyload
from sqlalchemy.sql.elements import ColumnElement

from app import clock, display
from app.extensions import db
from app.models import (
    AppUser,
    AuditEvent,
    Company,
    CompanyTree,
    Email,
    EmailKind,
    EmailState,
    Learner,
    License,
    Order,
    OrderStatus,
    ReminderCheck,
    ReminderPart,
    ReminderRun,
    ReminderSchedule,
    WebhookEvent,
)
from app.models.reminder_step import (
    EVER_BEFORE,
    PARTNER_KIND,
    TRIAL_STEPS,
    Audience,
    Step,
    due_span,
    due_step,
    expiry_window,
    step_for,
)
from app.models.types import UTCDateTime
from app.services import emails, pools, reclaim, schedules, trials, webhooks
from app.services.emails import queue_email
from app.services.notifications import (
    Recipient,
    company_managers,
    company_managers_of,
    request_recipients,
    request_recipients_of,
)
from app.services.trials import TRIAL
from app.sql import aware, count_if, insert_ignore, iso_instant, json_object, read, upsert

DIGEST_LEAD = timedelta(hours=72)  # the digest names licenses expiring this soon
NAMES_LISTED = 20
SWEEP_CHUNK = 10_000


def sweep(at: datetime) -> int:
    """Record each license's transition to Expired once, in the audit trail, in
    chunks of set-based statements. Returns how many were recorded."""
    recorded = 0
    while True:
        due = (
            select(License.id)
            .where(
                License.expiry_recorded_at.is_(None),
                License.ended_at.is_(None),
                License.expires_at <= at,
            )
            .limit(SWEEP_CHUNK)
        )
        rows = db.session.execute(
            update(License)
            .where(License.id.in_(due.scalar_subquery()))
            .values(expiry_recorded_at=at)
            .returning(License.id),
            # No License of the session is read again: none to bring up to date.
            execution_options={"synchronize_session": False},
        ).all()
        if not rows:
            return recorded
        ids = [license_id for (license_id,) in rows]
        # Their audit rows written by the database, the JSON built there: as
        # parameters they cost ~20 µs a row (binding, JSON in Python), 4× the SQL.
        db.session.execute(
            insert(AuditEvent.__table__).from_select(
                ["at", "company_id", "interface", "action", "entity", "entity_id", "after"],
                select(
                    literal(at, UTCDateTime()),
                    License.company_id,
                    literal("worker"),
                    literal("license.expired"),
                    literal("license"),
                    License.id,
                    json_object(
                        learner_id=License.learner_id, expired_at=iso_instant(License.expires_at)
                    ),
                ).where(License.id.in_(ids)),
            )
        )
        _expired(ids, at)
        recorded += len(rows)


def _expired(license_ids: list[int], at: datetime) -> None:
    """The webhook events of licenses just recorded expired: one per group (company,
    local expiry day, trial or not) and sweep, with how many expired then (a group's
    licenses may expire over several sweeps: assigned at other times of day)."""
    if not webhooks.listening("licenses.expired"):
        return
    trial = License.license_type == TRIAL
    news = []
    for company_id, day, is_trial, count in db.session.execute(
        select(License.company_id, Order.expires_on, trial, func.count())
        .join(Order, Order.id == License.order_id)
        .where(License.id.in_(license_ids))
        .group_by(License.company_id, Order.expires_on, trial)
    ):
        news.append(
            webhooks.News(
                "licenses.expired",
                company_id,
                {
                    "local_day": day.isoformat(),
                    "licenses": count,
                    "free_trial": bool(is_trial),
                    "people_url": webhooks.people_link(company_id, "expired"),
                },
                key=f"licenses.expired:{company_id}:{day.isoformat()}:{int(bool(is_trial))}"
                f":{at.isoformat()}",
            )
        )
    webhooks.emit_many(news)


@dataclass
class Group:
    company_id: int
    day: date
    first: datetime
    last: datetime
    count: int  # people who still need a renewal (the email is about them)
    trial: bool = False  # Free Trial licenses (addressed by the trial's steps only)
    total: int = 0  # every person of the group, with those renewed since
    flagged: int = 0  # still to renew but flagged do-not-renew (seat reclaim)

    @property
    def key(self) -> tuple:
        return self.company_id, self.day, self.trial

    @cached_property
    def nothing_to_do(self) -> str | None:
        """Why a step would have nothing to say (it is recorded skipped, not sent)."""
        if self.count:
            return None
        if self.flagged:
            renewed = self.total - self.flagged
            return (
                f"Skipped: of {display.count(self.total, 'person', 'people')}, "
                f"{display.number(renewed)} renewed and {display.number(self.flagged)} "
                "flagged do-not-renew — nothing to do."
            )
        return (
            f"Skipped: all {display.count(self.total, 'person', 'people')} hold a license "
            f"beyond {display.day(self.day)} (renewed) — nothing to do."
        )


def plan(at: datetime, only=None) -> int:
    """Write the rows of the step each group is due at `at` under its company's
    schedule (a Free Trial's groups: the trial's steps); `only`: for these companies
    alone. Returns how many were new.

    A run costs what is new rather than what is in the window: the groups are
    placed by their orders, those known to be quiet now are passed over in SQL
    (`ReminderCheck`), the others get their due step, one query drops those whose
    step every current recipient already has (sent or waiting; a skipped one is
    looked at again when its company changed), and only the rest are counted from
    their licenses and told. The groups found quiet are remembered, the others
    marked to be looked at again; so a run after a whole run whose window only moved
    forward reads only the groups something woke (`_woken`), not its whole window.

    Its reads of plain columns run by Core (`sql.read`: a first run over 1,000,000
    licenses spent ~8 % of its time in the ORM's execution of them), so the session
    is flushed once here: what it writes itself goes by Core or is flushed at once."""
    db.session.flush()
    whole = only is None
    last = _last_run() if whole else None
    # Changes stamped before this run but committed while it reads must still wake
    # the groups it remembers: they are remembered as of a while back.
    checked = clock.now() - WRITE_LAG
    window = expiry_window(at, schedules.every_step() + TRIAL_STEPS)
    if last is not None and last.checked_at is None:
        last = None  # the first whole run
    elif last is not None and last.clock_offset != _offset():
        # The demo's or the tests' clock moved (never in production): what was learnt
        # under another clock may lie ahead of this one's changes.
        db.session.execute(delete(ReminderCheck).where(ReminderCheck.checked_at > checked))
        last = None
    days, looked_at = _days(window, at, only, last)
    effective = schedules.effective_many({d.company_id for d in days})
    settings = {
        company_id: (zone, by_partner, since)
        for company_id, zone, by_partner, since in read(
            select(
                Company.id,
                Company.timezone,
                Company.partner_handles_renewals,
                Company.reminders_since,
            ).where(Company.id.in_(effective))
        )
    }

    def span_of(group) -> tuple[Step | None, datetime, datetime]:
        steps = TRIAL_STEPS if group.trial else effective[group.company_id].steps
        zone, _, since = settings[group.company_id]
        return due_span(steps, group.first, group.last, at, zone, since)

    spans = {d.key: span_of(d) for d in days}
    due = {key: step for key, (step, _, _) in spans.items() if step is not None}
    recipients = Recipients()
    unsettled, quiet = _unsettled(due, settings, recipients)
    for key in _untold(due, quiet):  # (a group's webhook does not wait on its emails)
        unsettled.setdefault(key, None)
        quiet.discard(key)
    quiet |= {key for key, (step, _, _) in spans.items() if step is None}
    written = 0
    partner_side: dict[str, tuple[Step, list[Group]]] = {}
    news: list[webhooks.News] = []
    company_side_due: list[tuple[Group, Step]] = []
    for group in _groups(list(unsettled)):
        step = span_of(group)[0]  # from the licenses' own instants
        if step is None:
            continue
        company_side, to_partner = _sides(step, settings[group.company_id][1])
        if company_side:
            company_side_due.append((group, step))
        if to_partner:
            partner_side.setdefault(step.key, (step, []))[1].append(group)
        if step.before_expiry and not group.nothing_to_do:
            news.append(_expiring(group, step))
        if group.nothing_to_do:  # recorded skipped: looked at again after a change
            quiet.add(group.key)
    written += _tell(company_side_due, settings, at, recipients)
    for step, listed in partner_side.values():
        written += _tell_partners(step, listed, at)
    webhooks.emit_many(news)
    if whole:
        # A run for some companies comes just before a change that wakes every
        # group (schedules.before_change): what it learnt would not outlive it.
        _remember(looked_at, {key: spans[key][1:] for key in quiet}, checked)
        _prune(window, last)
        _ran(checked, window)
    return written


def _untold(due: dict[tuple, Step], quiet: set) -> set[tuple]:
    """Of the groups quiet for their emails (every recipient has the step — or there
    is nobody to email), those whose due step before expiry a webhook still has to
    hear of: they are looked at like the others."""
    steps = {key: step for key, step in due.items() if key in quiet and step.before_expiry}
    if not steps or not webhooks.listening("licenses.expiring"):
        return set()
    hearing = webhooks.heard_in({c for c, _, _ in steps}, "licenses.expiring")
    keys = {_expiring_key(step.key, *key): key for key, step in steps.items() if key[0] in hearing}
    if not keys:
        return set()
    told = set(db.session.scalars(select(WebhookEvent.key).where(WebhookEvent.key.in_(keys))))
    return {key for text, key in keys.items() if text not in told}


def _expiring_key(step_key: str, company_id: int, day: date, trial: bool) -> str:
    return f"licenses.expiring:{step_key}:{company_id}:{day.isoformat()}:{int(trial)}"


def _expiring(group: Group, step: Step) -> webhooks.News:
    """The webhook event of a reminder step due for a group with people to renew:
    one per step and group (company, local expiry day, trial or not)."""
    day = group.day.isoformat()
    return webhooks.News(
        "licenses.expiring",
        group.company_id,
        {
            "step": step.key,
            "step_label": step.label,
            "local_day": day,
            "first_expiry": group.first.isoformat(),
            "last_expiry": group.last.isoformat(),
            "people": group.count,
            "flagged_do_not_renew": group.flagged,
            "free_trial": group.trial,
            "people_url": webhooks.people_link(group.company_id, "expiring"),
        },
        key=_expiring_key(step.key, *group.key),
    )


# Longer than any transaction that writes what wakes a remembered group: every
# writer of the audit trail stamps its events with the time it writes them (the
# sweep with the instant it acts as: back-dating it with `--at` may leave a skipped
# group unwoken until its next step — harmless, an expiry changes nobody's email).
WRITE_LAG = timedelta(minutes=10)


def _sides(step: Step, by_partner: bool) -> tuple[bool, bool]:
    """(the company's own email, the partner-side listing) a step brings: a company
    whose partner handles its renewals gets the partner-side one only."""
    company_side = step.audience.to_company
    if step.audience is Audience.BOTH and by_partner:
        company_side = False  # its account managers get the partner-side email
    return company_side, step.audience.to_partner


@dataclass(frozen=True)
class Day:
    """A group as its orders place it: its company, local expiry day, kind, and the
    first and last of its orders' expiry instants."""

    company_id: int
    day: date
    trial: bool
    first: datetime
    last: datetime

    @property
    def key(self) -> tuple:
        return self.company_id, self.day, self.trial


GROUPS_PER_QUERY = 500  # (company, day) pairs in one query's IN list

# Every order of a local day expires within this of any other (a day is 23 to 25
# hours long).
DAY_SPAN = timedelta(hours=26)


def _days(
    window: tuple[datetime, datetime], at: datetime, only=None, last: ReminderRun | None = None
) -> tuple[list[Day], dict[tuple, tuple[int, int]]]:
    """The groups with an order expiring in the window (after, up to] — each with
    its whole day's orders, found by reading a day more on each side — less those
    remembered quiet at `at`; placed by their orders with a license in the group.
    With them, every group looked at (not passed over): {key: (orders, newest id)}.

    `last`: the last whole run. It probed the audit trail for every group of its
    window it passed over, and rewrote the check of every other (`_remember`), so
    for those groups only what was audited since it looked is probed here — one set
    for the run rather than a walk up the tree per group; and when the window only
    moved forward, only the groups `_woken` names are read."""
    after, up_to = window
    trial = Order.license_type == TRIAL
    of_companies = Order.company_id.in_(list(only)) if only is not None else true()
    pairs = _woken(window, at, last) if last is not None else None
    if pairs is None:
        parts = [true()]  # the whole window
    else:
        parts = [
            _of_pairs(pairs[start : start + GROUPS_PER_QUERY])
            for start in range(0, len(pairs), GROUPS_PER_QUERY)
        ]
    looked_at: dict[tuple, tuple[int, int]] = {}
    for part in parts:
        groups = (
            select(
                Order.company_id,
                Order.expires_on,
                trial.label("trial"),
                func.count(Order.id).label("orders"),
                func.max(Order.id).label("last_order_id"),
                func.min(Order.expires_at).label("first"),
                func.max(Order.expires_at).label("last"),
            )
            .where(
                Order.expires_at > after - DAY_SPAN,
                Order.expires_at <= up_to + DAY_SPAN,
                Order.status == OrderStatus.ASSIGNED.value,
                of_companies,
                part,
            )
            .group_by(Order.company_id, Order.expires_on, trial)
            .having(func.max(Order.expires_at) > after, func.min(Order.expires_at) <= up_to)
            .subquery()
        )
        looked_at.update(_not_quiet(groups, at, last))
    if not looked_at:
        return [], {}
    # Their instants, from the orders with a license in the group.
    licensed = (
        select(License.id)
        .join(Learner, Learner.id == License.learner_id)
        .where(License.order_id == Order.id, _in_group())
    )
    days = []
    pairs = sorted({(c, d) for c, d, _ in looked_at})
    for start in range(0, len(pairs), GROUPS_PER_QUERY):
        for c, d, t, first, last_at in read(
            select(
                Order.company_id,
                Order.expires_on,
                trial,
                func.min(Order.expires_at),
                func.max(Order.expires_at),
            )
            .where(
                _of_pairs(pairs[start : start + GROUPS_PER_QUERY]),
                Order.status == OrderStatus.ASSIGNED.value,
                exists(licensed),
            )
            .group_by(Order.company_id, Order.expires_on, trial)
        ):
            if (c, d, bool(t)) in looked_at:
                days.append(Day(c, d, bool(t), aware(first), aware(last_at)))
    return days, looked_at


def _not_quiet(groups, at: datetime, last: ReminderRun | None) -> dict[tuple, tuple[int, int]]:
    """Of the groups a subquery of `_days` finds, those not remembered quiet at `at`:
    {(company, day, trial): (its orders, its newest order's id)}."""
    check = ReminderCheck
    never = literal(EVER_BEFORE, UTCDateTime())
    # Nothing in the company or above it that could end a skip's reason or change
    # who is told (a manager added: every such change is audited) since it looked.
    audited = exists().where(
        CompanyTree.descendant_id == check.company_id,
        AuditEvent.company_id == CompanyTree.ancestor_id,
        AuditEvent.at >= check.checked_at,
    )
    if last is not None:
        probed = and_(groups.c.last > last.window_after, groups.c.first <= last.window_up_to)
        since = check.company_id.in_(_audited_since(last))
        audited = or_(and_(probed, since), and_(~probed, audited))
    quiet = and_(
        check.orders == groups.c.orders,
        check.last_order_id == groups.c.last_order_id,
        check.quiet_from <= at,
        check.quiet_until > at,
        # No schedule edited or cleared, no company restarted (schedules.restart).
        check.checked_at >= func.coalesce(_latest(ReminderSchedule.updated_at), never),
        check.checked_at >= func.coalesce(_latest(Company.reminders_since), never),
        ~audited,
    )
    return {
        (c, d, bool(t)): (n, newest)
        for c, d, t, n, newest in read(
            select(
                groups.c.company_id,
                groups.c.expires_on,
                groups.c.trial,
                groups.c.orders,
                groups.c.last_order_id,
            )
            .outerjoin(
                check,
                and_(
                    check.company_id == groups.c.company_id,
                    check.group_day == groups.c.expires_on,
                    check.trial == groups.c.trial,
                ),
            )
            .where(or_(check.company_id.is_(None), ~quiet))
        )
    }


def _audited_since(last: ReminderRun):
    """The companies with something audited in them or above them since the last
    whole run looked (a subquery)."""
    return select(CompanyTree.descendant_id).where(
        CompanyTree.ancestor_id.in_(
            select(AuditEvent.company_id).where(AuditEvent.at >= last.checked_at)
        )
    )


# More (company, day) pairs woken than this, and a run reads its whole window.
WOKEN_MAX = 4 * GROUPS_PER_QUERY


def _woken(window: tuple[datetime, datetime], at: datetime, last: ReminderRun) -> list | None:
    """The (company, local day) pairs a run after the whole run `last` need look
    at, when its window only moved forward: every other group of its window was in
    `last`'s, which remembered it quiet until after `at` — and nothing that could
    wake it happened since (its orders change only by audited actions). They are
    the groups whose quiet span has ended or that `last` looked at without finding
    them quiet (`_remember`), the groups of companies with something audited
    since, and those of the window's new expiry instants. None: read the whole
    window — it moved back, a schedule changed or a company restarted, or too many
    woke."""
    after, up_to = window
    last_after, last_up_to = _window_of(last)
    if after < last_after or up_to < last_up_to:
        return None
    since = aware(last.checked_at)
    changes = read(
        select(_latest(ReminderSchedule.updated_at), _latest(Company.reminders_since))
    ).one()
    if any(changed is not None and aware(changed) >= since for changed in changes):
        return None
    assigned = Order.status == OrderStatus.ASSIGNED.value
    first_day, last_day = _days_around(window)
    woken = union(
        select(ReminderCheck.company_id, ReminderCheck.group_day).where(
            ReminderCheck.quiet_until <= at,
            ReminderCheck.group_day.between(first_day, last_day),
        ),
        # (A group new to the window has its first order in the new part of it.)
        select(Order.company_id, Order.expires_on).where(
            assigned, Order.expires_at > last_up_to, Order.expires_at <= up_to
        ),
        select(Order.company_id, Order.expires_on).where(
            assigned,
            Order.expires_at > after - DAY_SPAN,
            Order.expires_at <= up_to + DAY_SPAN,
            Order.company_id.in_(_audited_since(last)),
        ),
    ).limit(WOKEN_MAX + 1)
    pairs = sorted(tuple(row) for row in read(woken))
    return None if len(pairs) > WOKEN_MAX else pairs


def _window_of(run: ReminderRun) -> tuple[datetime, datetime]:
    return aware(run.window_after), aware(run.window_up_to)


def _days_around(window: tuple[datetime, datetime]) -> tuple[date, date]:
    """The local expiry days a window's groups can fall on, in any time zone."""
    after, up_to = window
    reach = DAY_SPAN + timedelta(days=1)
    return (after - reach).date(), (up_to + reach).date()


def _last_run() -> ReminderRun:
    """The last whole run's row, locked until this run commits: whole runs never
    overlap, so none remembers a group as of before the last one looked. (A whole
    run is a transaction of its own — the worker's job —, so it takes this lock
    before any other: it never waits for it while holding one.)"""
    db.session.execute(insert_ignore(ReminderRun.__table__).values(id=1))
    return db.session.execute(
        select(ReminderRun)
        .where(ReminderRun.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)  # (`_ran` writes it by Core)
    ).scalar_one()


def _ran(checked: datetime, window: tuple[datetime, datetime]) -> None:
    """The run recorded by Core, on the table and its columns (an entity's column in
    the WHERE would make it the ORM's UPDATE, which first looks for the row among the
    session's objects to change them too); `_last_run` reloads the row."""
    run = ReminderRun.__table__
    db.session.execute(
        update(run)
        .where(run.c.id == 1)
        .values(
            checked_at=checked,
            window_after=window[0],
            window_up_to=window[1],
            clock_offset=_offset(),
        )
    )


def _offset() -> float:
    return clock.offset().total_seconds()


def _prune(window: tuple[datetime, datetime], last: ReminderRun | None) -> None:
    """Drop the checks of days no window reaches again (once a day: when the first
    day a window can reach moved on)."""
    first_day = _days_around(window)[0]
    if last is not None and _days_around(_window_of(last))[0] == first_day:
        return
    checks = ReminderCheck.__table__  # (by Core: see `_ran`)
    db.session.execute(delete(checks).where(checks.c.group_day < first_day))


def _latest(column):
    """The latest value of a column, as a scalar subquery."""
    return select(func.max(column)).scalar_subquery()


def _remember(looked_at: dict[tuple, tuple[int, int]], quiet: dict, checked: datetime) -> None:
    """A check for every group looked at (one statement): those found quiet with
    their quiet span (`quiet`: {key: (from, until)}), the others quiet never — the
    next run looks at them again (`_woken` finds them by `quiet_until`) —, so every
    group of a whole run's window leaves a check."""
    never = (EVER_BEFORE, EVER_BEFORE)
    upsert(
        ReminderCheck,
        ["company_id", "group_day", "trial"],
        [
            {
                "company_id": key[0],
                "group_day": key[1],
                "trial": key[2],
                "orders": orders,
                "last_order_id": last_order_id,
                "quiet_from": quiet.get(key, never)[0],
                "quiet_until": quiet.get(key, never)[1],
                "checked_at": checked,
            }
            for key, (orders, last_order_id) in looked_at.items()
        ],
    )


# States of a step's row that a planning run looks at again: skipped with nothing
# to do, or cancelled by the worker with nothing left to say (emails.unskip).
REVISITED = (EmailState.SKIPPED.value, EmailState.CANCELLED.value)


def _unsettled(
    due: dict[tuple, Step], settings, recipients: Recipients
) -> tuple[dict[tuple, str | None], set]:
    """The groups (company, day, trial) whose due step some current recipient lacks
    (None) — or has only skipped or cancelled (the step's key), looked at again once
    something changed in the company since; and the quiet ones: every recipient has
    it (sent or waiting), or it is skipped and nothing changed."""
    if not due:
        return {}, set()
    companies = {c for c, _, _ in due}
    first, last = min(d for _, d, _ in due), max(d for _, d, _ in due)
    keys = {step.key for step in due.values()}
    has: dict[tuple, set] = {}  # (company, day, step key): recipients with it
    revisited: dict[tuple, datetime] = {}  # ... with a skipped or cancelled row: since
    for c, d, k, user_id, state, created in read(
        select(
            Email.company_id,
            Email.group_day,
            Email.kind,
            Email.recipient_user_id,
            Email.state,
            Email.created_at,
        ).where(
            Email.company_id.in_(companies),
            Email.group_day.between(first, last),
            Email.kind.in_(keys),
        )
    ):
        has.setdefault((c, d, k), set()).add(user_id)
        if state in REVISITED:
            revisited[c, d, k] = min(aware(created), revisited.get((c, d, k), aware(created)))
    changed = _changed_since(revisited)
    for key in changed:  # their skipped or cancelled rows are looked at again
        has.pop(key, None)
    listed: dict[tuple, set] = {}
    for c, d, k, user_id in read(
        select(
            ReminderPart.company_id,
            ReminderPart.group_day,
            ReminderPart.step_key,
            ReminderPart.user_id,
        ).where(
            ReminderPart.step_key.in_(keys),
            ReminderPart.company_id.in_(companies),
            ReminderPart.group_day.between(first, last),
        )
    ):
        listed.setdefault((c, d, k), set()).add(user_id)
    managers, above = _recipient_ids(due, settings, recipients)
    left, quiet = {}, set()
    for key, step in due.items():
        company_id, by_partner = key[0], settings[key[0]][1]
        company_side, to_partner = _sides(step, by_partner)
        written_as = (company_id, key[1], step.key)
        told = set()
        if company_side:  # (when the partner handles its renewals: its account managers)
            told = above[company_id] if _to_above(step, by_partner) else managers[company_id]
        if told - has.get(written_as, set()) or (
            to_partner and above[company_id] - listed.get(written_as, set())
        ):
            left[key] = step.key if written_as in revisited else None
        else:
            quiet.add(key)  # every recipient has it, or it is skipped and nothing changed
    return left, quiet


class Recipients:
    """Who a run's steps go to, read once per run for the groups it looks at and
    again for those it tells: each company's managers, and the account managers
    above it (`request_recipients_of`)."""

    def __init__(self) -> None:
        self._managers: dict[int, list[Recipient]] = {}
        self._above: dict[int, list[Recipient]] = {}

    def managers(self, company_ids) -> dict[int, list[Recipient]]:
        return self._of(company_ids, self._managers, company_managers_of)

    def above(self, company_ids) -> dict[int, list[Recipient]]:
        return self._of(company_ids, self._above, request_recipients_of)

    @staticmethod
    def _of(company_ids, known: dict, read) -> dict[int, list[Recipient]]:
        known.update(read(set(company_ids) - known.keys()))
        return {company_id: known[company_id] for company_id in company_ids}


def _recipient_ids(due: dict[tuple, Step], settings, recipients: Recipients) -> tuple[dict, dict]:
    """Each due company's managers and the account managers above it, by id (two
    queries; the companies' own managers only where a step goes to them)."""
    own, above = set(), set()
    for (company_id, _, _), step in due.items():
        company_side, to_partner = _sides(step, settings[company_id][1])
        if company_side and not _to_above(step, settings[company_id][1]):
            own.add(company_id)
        if to_partner or (company_side and _to_above(step, settings[company_id][1])):
            above.add(company_id)
    managers = {c: {u.id for u in users} for c, users in recipients.managers(own).items()}
    nearest = {c: {u.id for u in users} for c, users in recipients.above(above).items()}
    return managers, nearest


def current_body(email: Email) -> str | None:
    """A step's email as it reads now, for the worker to send; None when nothing is
    left to say (renewed, taken back, deactivated meanwhile) or its step is over (a
    send delayed past the next step's instant, or past the expiry of a step before
    it: the late step goes only while it is still ahead of the next)."""
    db.session.flush()  # (its reads go by Core: `plan`)
    step = step_for(email.kind)
    now = clock.now()
    if email.kind.startswith(PARTNER_KIND):
        return _partner_body(email, step, now)
    group = _group(email.company_id, email.group_day, step.trial)
    if group is None:
        return None
    company = db.session.get(Company, email.company_id)
    steps = TRIAL_STEPS if step.trial else schedules.effective(company.id).steps
    still = due_step(steps, group.first, group.last, now, company.timezone)
    if still is None or still.key != step.key:
        return None
    user = db.session.get(AppUser, email.recipient_user_id) if email.recipient_user_id else None
    return _render(group, step, user, now, sending=True)


def is_step_email(email: Email) -> bool:
    """Whether the email was written for a reminder step (re-read when sent)."""
    return step_for(email.kind) is not None


def digest(at: datetime) -> int:
    """One daily email per account manager about the companies under it whose
    licenses expired in the last day or expire within 72 hours, if any — unless its
    company turned the digest off."""
    expiring = and_(License.expires_at > at, License.expires_at <= at + DIGEST_LEAD)
    expired = and_(License.expires_at > at - timedelta(days=1), License.expires_at <= at)
    rows = db.session.execute(
        select(CompanyTree.ancestor_id, Company.name, count_if(expiring), count_if(expired))
        .join(License, License.company_id == CompanyTree.descendant_id)
        .join(Company, Company.id == License.company_id)
        .join(Learner, Learner.id == License.learner_id)
        .where(CompanyTree.depth > 0, _still_relevant(), expiring | expired)
        .group_by(CompanyTree.ancestor_id, Company.name)
        .order_by(CompanyTree.ancestor_id, Company.name)
    ).all()
    by_ancestor: dict[int, list] = {}
    for ancestor_id, name, soon, gone in rows:
        by_ancestor.setdefault(ancestor_id, []).append((name, int(soon or 0), int(gone or 0)))
    silent = set(
        db.session.scalars(
            select(Company.id).where(Company.id.in_(by_ancestor), Company.send_digest.is_(False))
        )
    )
    written = 0
    for ancestor_id, companies in by_ancestor.items():
        if ancestor_id in silent:
            continue  # its partner turned the digest off
        for user in company_managers(ancestor_id):
            written += _queue_digest(user, ancestor_id, companies, at)
    return written


def _still_relevant():
    """Licenses worth telling about: not taken back, their learner active and not
    holding a newer license."""
    return and_(
        License.ended_at.is_(None), Learner.active, Learner.license_expires_at == License.expires_at
    )


def _groups(wanted: list[tuple]) -> list[Group]:
    """The groups (company, local expiry day, trial) as their licenses stand, a few
    hundred per query."""
    found = []
    for start in range(0, len(wanted), GROUPS_PER_QUERY):
        chunk = wanted[start : start + GROUPS_PER_QUERY]
        found += _count_groups({(c, d) for c, d, _ in chunk}, {(c, d, t) for c, d, t in chunk})
    return found


def _changed_since(rows: dict[tuple, datetime]) -> set[tuple]:
    """Of skipped or cancelled rows {(company, day, step key): written at}, those
    whose company changed since: a skip's reason (everybody renewed or flagged) goes
    away only by a change to its people's licenses, flags, activity or the company's
    rule — each audited under the company — so the others need no second look."""
    if not rows:
        return set()
    latest = dict(
        read(
            select(AuditEvent.company_id, func.max(AuditEvent.at))
            .where(
                AuditEvent.company_id.in_({c for c, _, _ in rows}),
                AuditEvent.at >= min(rows.values()),
            )
            .group_by(AuditEvent.company_id)
        ).all()
    )
    return {
        key for key, since in rows.items() if key[0] in latest and aware(latest[key[0]]) >= since
    }


def _orders_of(days: set[tuple]):
    """The assigned orders of these (company, local expiry day) pairs: a group's
    licenses are read by order (an index lookup each)."""
    return select(Order.id).where(_of_pairs(days), Order.status == OrderStatus.ASSIGNED.value)


def _of_pairs(days) -> ColumnElement[bool]:
    """Orders of these (company, local expiry day) pairs, the companies named too:
    their index finds the orders (the pairs alone are checked against every
    assigned order)."""
    return and_(
        Order.company_id.in_(sorted({c for c, _ in days})),
        tuple_(Order.company_id, Order.expires_on).in_(sorted(days)),
    )


def _count_groups(days: set[tuple], wanted: set[tuple]) -> list[Group]:
    orders = _orders_of(days)
    trial = License.license_type == TRIAL
    flagged = reclaim.flagged_anywhere(clock.now())
    rows = read(
        select(
            License.company_id,
            Order.expires_on,
            func.min(License.expires_at),
            func.max(License.expires_at),
            count_if(and_(_still_relevant(), ~flagged)),
            trial,
            func.count(),
            count_if(and_(_still_relevant(), flagged)),
        )
        .join(Order, Order.id == License.order_id)
        .join(Learner, Learner.id == License.learner_id)
        .where(License.order_id.in_(orders), _in_group())
        .group_by(License.company_id, Order.expires_on, trial)
    ).all()
    return [
        Group(c, d, aware(first), aware(last), int(n or 0), bool(t), total, int(f or 0))
        for c, d, first, last, n, t, total, f in rows
        if (c, d, bool(t)) in wanted
    ]


def _group(company_id: int, day: date, trial: bool) -> Group | None:
    """The group as it stands now; None when nobody in it needs a renewal."""
    return _live_groups([(company_id, day, trial)]).get((company_id, day, trial))


def _live_groups(wanted: list[tuple]) -> dict[tuple, Group]:
    """`_group` of many (company, day, trial) keys, by key: those with somebody who
    needs a renewal."""
    return {group.key: group for group in _groups(wanted) if group.count}


# A license whose holder was renewed at a renewal request's (or an upgrade's)
# assignment ended then; its person still belongs to the group, with nothing to do.
RENEWED_ENDS = ("renewed", "upgraded")


def _in_group_license():
    return or_(License.ended_at.is_(None), License.end_reason.in_(RENEWED_ENDS))


def _in_group():
    """The people of a group: its licenses not taken back, their learners active
    (those renewed since included: a step with only them is skipped)."""
    return and_(_in_group_license(), Learner.active)


class Named(NamedTuple):
    """A person a step's email names (read as three columns, not as a Learner; a
    tuple: hundreds are made per run)."""

    first_name: str
    last_name: str
    email: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def _holders_of(groups: list[Group], now: datetime) -> dict[tuple, list[Named]]:
    """The people each group's email names (the first NAMES_LISTED by name, those
    flagged do-not-renew left out), by group key, in one query."""
    if not groups:
        return {}
    trial = License.license_type == TRIAL
    group_key = (License.company_id, Order.expires_on, trial)
    ranked = (
        select(
            License.learner_id,
            License.company_id.label("c"),
            Order.expires_on.label("d"),
            trial.label("t"),
            func.row_number()
            .over(
                partition_by=group_key,
                order_by=(Learner.last_name, Learner.first_name, Learner.id),
            )
            .label("n"),
        )
        .join(Order, Order.id == License.order_id)
        .join(Learner, Learner.id == License.learner_id)
        .where(
            License.order_id.in_(_orders_of({(g.company_id, g.day) for g in groups})),
            _still_relevant(),
            ~reclaim.flagged_anywhere(now),
        )
        .subquery()
    )
    wanted = {g.key for g in groups}
    named: dict[tuple, list[Named]] = {key: [] for key in wanted}
    for first, last, email, c, d, t in read(
        select(
            Learner.first_name, Learner.last_name, Learner.email, ranked.c.c, ranked.c.d, ranked.c.t
        )
        .join(ranked, ranked.c.learner_id == Learner.id)
        .where(ranked.c.n <= NAMES_LISTED)
        .order_by(ranked.c.c, ranked.c.d, ranked.c.t, ranked.c.n)
    ):
        if (c, d, bool(t)) in wanted:
            named[c, d, bool(t)].append(Named(first, last, email))
    return named


class NamedCompany(NamedTuple):
    """A company as a step's email names it (four columns read, not a Company: one
    per group told)."""

    id: int
    name: str
    timezone: str
    inactive_days: int | None


@dataclass
class Facts:
    """What the step emails of some groups say besides the group itself, read once
    for all of them: the companies, their free seats and requests awaiting approval,
    and the people each group's email names."""

    companies: dict[int, NamedCompany]
    free: dict[int, int]
    requests: dict[int, list[Order]]
    people: dict[tuple, list[Named]]

    @classmethod
    def of(cls, groups: list[Group], now: datetime) -> Facts:
        """The facts of these groups' emails; the people named only for the groups
        with something to say (a skipped step's row carries its reason alone)."""
        told = list({g.key: g for g in groups if not g.nothing_to_do}.values())
        told_ids = {g.company_id for g in told}
        return cls(
            {
                row.id: NamedCompany(*row)
                for row in read(
                    select(Company.id, Company.name, Company.timezone, Company.inactive_days).where(
                        Company.id.in_({g.company_id for g in groups})
                    )
                )
            },
            pools.free_seats_of(told_ids, now),
            _open_requests_of(told_ids),
            _holders_of(told, now),
        )


def _tell(
    due: list[tuple[Group, Step]], settings: dict, at: datetime, recipients: Recipients
) -> int:
    """Write each group's step email to each recipient, once per key — or, with
    nothing to do, record it skipped with the reason. A skipped key whose reason
    went away (a renewal request declined) while the step is still due goes now,
    late, with the real time left. A constant number of statements for any number
    of groups: the recipients, the keys written before, the emails' facts, one
    INSERT (and an UPDATE per key sent again)."""
    if not due:
        return 0
    to_above = {g.company_id for g, step in due if _to_above(step, settings[g.company_id][1])}
    managers = recipients.managers({g.company_id for g, _ in due} - to_above)
    above = recipients.above(to_above)
    letters = []  # (key, group, step, recipient)
    for group, step in due:
        for user in (above if group.company_id in to_above else managers)[group.company_id]:
            key = f"{step.key}:company-{group.company_id}:{group.day.isoformat()}:user-{user.id}"
            letters.append((key, group, step, user))
    states = _states_of([letter[0] for letter in letters])
    # Keys written before are left alone, unless skipped (or cancelled) and there is
    # something to say now.
    letters = [
        (key, group, step, user)
        for key, group, step, user in letters
        if key not in states or (states[key] in REVISITED and not group.nothing_to_do)
    ]
    facts = Facts.of([group for _, group, _, _ in letters], at)
    fresh, again = [], []
    for key, group, step, user in letters:
        company = facts.companies[group.company_id]
        body = group.nothing_to_do or _render(group, step, user, at, facts=facts)
        subject = step.subject.format(
            count=display.count(group.count or group.total, "license"),
            company=company.name,
            when=display.day(group.day),
        )
        letter = {
            "key": key,
            "skipped": group.nothing_to_do,
            "kind": step.key,
            "company_id": group.company_id,
            "recipient": user.email,
            "recipient_user_id": user.id,
            "subject": subject,
            "body": body,
            "group_day": group.day,
        }
        (again if key in states else fresh).append(letter)
    written = emails.queue_emails(fresh)
    # A key another planner wrote meanwhile, or one skipped before: sent again if
    # it was skipped and there is something to say now.
    again += [x for x in fresh if x["key"] not in written and not x["skipped"]]
    resent = [emails.unskip(x["key"], x["subject"], x["body"]) for x in again]
    return len(written) + sum(email_id is not None for email_id in resent)


def _states_of(keys: list[str]) -> dict[str, str]:
    """The state of each email key already written."""
    found = {}
    for start in range(0, len(keys), GROUPS_PER_QUERY):
        found.update(
            read(
                select(Email.key, Email.state).where(
                    Email.key.in_(keys[start : start + GROUPS_PER_QUERY])
                )
            ).all()
        )
    return found


def _to_above(step: Step, by_partner: bool) -> bool:
    """Whether a company-side step goes to the account managers above instead."""
    return step.audience is Audience.COMPANY_MANAGERS and bool(by_partner)


def _render(
    group: Group,
    step: Step,
    user: Recipient | AppUser | None,
    now: datetime,
    sending: bool = False,
    facts: Facts | None = None,
) -> str:
    """A step's email as of `now` (the time left is real); `sending`: the message
    itself (a trial's carries the recipient's own Upgrade Now link), not the copy
    the Emails page shows. `facts`: read for many groups at once (else for this
    one)."""
    facts = facts or Facts.of([group], now)
    company = facts.companies[group.company_id]
    return render_template(
        f"emails/{step.template}",
        group=group,
        company=company,
        user=user,
        people=facts.people[group.key],
        more=max(0, group.count - NAMES_LISTED),
        base_url=current_app.config["BASE_URL"],
        left=display.time_left(group.first, now),
        for_partner=user is not None and user.company_id != company.id,
        covers=None if group.trial else _covers(group, facts.free.get(company.id, 0), now),
        requests=facts.requests.get(company.id, []),
        upgrade_url=(
            trials.upgrade_url(trials.of(company.id), user, sending=sending)
            if group.trial
            else None
        ),
    )


# --- Partner-side steps: one email per account manager, step and local day -----------


def _tell_partners(step: Step, groups: list[Group], at: datetime) -> int:
    """The partner-side email of a step: each account manager above the due groups'
    companies (the nearest partner or sub-partner with active ones) gets one email
    per step and local day of sending (its own company's zone), listing the
    companies — each company once per step and expiry day (`ReminderPart`). A
    company due after that day's email went out is listed in the next day's."""
    by_user: dict[int, tuple[Recipient, list[Group]]] = {}
    recipients: dict[int, list[Recipient]] = {}
    for group in sorted(groups, key=lambda g: (g.company_id, g.day)):
        if group.nothing_to_do:
            continue  # not listed; looked at again while the step is due
        if group.company_id not in recipients:
            recipients[group.company_id] = request_recipients(group.company_id)
        for user in recipients[group.company_id]:
            by_user.setdefault(user.id, (user, []))[1].append(group)
    written = 0
    for _, (user, mine) in sorted(by_user.items()):  # one lock order for every planner
        listed = set(
            read(
                select(ReminderPart.company_id, ReminderPart.group_day).where(
                    ReminderPart.step_key == step.key,
                    ReminderPart.user_id == user.id,
                    tuple_(ReminderPart.company_id, ReminderPart.group_day).in_(
                        [(g.company_id, g.day) for g in mine]
                    ),
                )
            ).all()
        )
        new = [g for g in mine if (g.company_id, g.day) not in listed]
        if new:
            written += _list_for(user, step, new, at)
    return written


def _list_for(user: Recipient, step: Step, groups: list[Group], at: datetime) -> int:
    """Add the groups to the account manager's email of the step for today — a new
    one, or today's while it waits (locked, so the worker cannot send it meanwhile);
    once today's went out, to tomorrow's, held until that local day. Each company is
    recorded once (a concurrent planner's rows are left alone). 1 if an email was
    written."""
    home = db.session.get(Company, user.company_id) if user.company_id else None
    zone = home.timezone if home else "UTC"
    today = display.local(at, zone).date()
    written = 0
    for day in (today, today + timedelta(days=1)):
        email, new = _partner_email(user, step, home, day, groups, zone, hold=day != today)
        if email is not None:
            break
    else:
        return 0  # both went out (a very late run): the next run tries again
    db.session.execute(
        insert_ignore(ReminderPart),
        [
            {
                "step_key": step.key,
                "company_id": g.company_id,
                "group_day": g.day,
                "user_id": user.id,
                "email_id": email.id,
            }
            for g in groups
        ],
    )
    written += new
    count = db.session.scalar(select(func.count()).where(ReminderPart.email_id == email.id))
    db.session.execute(
        update(Email)
        .where(Email.id == email.id)
        .values(body=_partner_body(email, step, at) or "", subject=_partner_subject(step, count))
        .execution_options(synchronize_session=False)
    )
    return written


def _partner_email(
    user, step: Step, home, day, groups, zone, hold: bool
) -> tuple[Email | None, bool]:
    """The account manager's email of the step for `day`, locked, if it still waits
    to be sent (made when missing; `hold`: not sent before that local day)."""
    key = f"{PARTNER_KIND}{step.key}:user-{user.id}:{day.isoformat()}"
    mine = select(Email).where(Email.key == key).with_for_update()
    email = db.session.scalar(mine)
    new = False
    if email is None:
        new = (
            queue_email(
                key=key,
                kind=f"{PARTNER_KIND}{step.key}",
                company_id=home.id if home else groups[0].company_id,
                recipient=user.email,
                recipient_user_id=user.id,
                subject=_partner_subject(step, len(groups)),
                body="",
                group_day=day,
            )
            is not None
        )
        email = db.session.scalar(mine.execution_options(populate_existing=True))
        if new and hold:  # tomorrow's: not before that day begins
            email.next_attempt_at = datetime.combine(day, time(), tzinfo=display.zone(zone))
            db.session.flush()
    if email.state != EmailState.PENDING.value:
        return None, False
    return email, new


def _partner_subject(step: Step, companies: int) -> str:
    return f"{step.label}: {companies} of your companies"


def _partner_body(email: Email, step: Step, now: datetime) -> str | None:
    """The partner-side email as of `now`: each company listed with what is left
    (None when nothing is: the worker cancels it)."""
    parts = read(
        select(ReminderPart.company_id, ReminderPart.group_day)
        .where(ReminderPart.email_id == email.id)
        .order_by(ReminderPart.group_day, ReminderPart.company_id)
    ).all()
    companies = {
        c.id: c
        for c in db.session.scalars(select(Company).where(Company.id.in_({p[0] for p in parts})))
    }
    # Those renewed meanwhile are left out: nothing left to say about them.
    live = _live_groups([(company_id, day, False) for company_id, day in parts])
    groups = [live[key] for key in ((c, d, False) for c, d in parts) if key in live]
    if not groups:
        return None
    # Each company's free seats and waiting requests, named on its line.
    free = pools.free_seats_of({g.company_id for g in groups}, now)
    waiting = _open_requests_of({g.company_id for g in groups})
    lines = [
        (
            companies[g.company_id],
            g.day,
            g,
            _covers(g, free.get(g.company_id, 0), now),
            waiting.get(g.company_id, []),
        )
        for g in groups
    ]
    user = db.session.get(AppUser, email.recipient_user_id) if email.recipient_user_id else None
    return render_template(
        "emails/partner_step.txt",
        user=user,
        step=step,
        lines=lines,
        now=now,
        base_url=current_app.config["BASE_URL"],
    )


def _open_requests_of(company_ids) -> dict[int, list[Order]]:
    """Each company's requests awaiting approval (the first five), for the emails."""
    waiting: dict[int, list[Order]] = {}
    if not company_ids:
        return waiting
    for order in db.session.scalars(
        select(Order)
        .options(lazyload("*"))  # (the emails name its number and quantity only)
        .where(Order.company_id.in_(list(company_ids)), Order.status == OrderStatus.REQUESTED.value)
        .order_by(Order.company_id, Order.id)
    ):
        mine = waiting.setdefault(order.company_id, [])
        if len(mine) < 5:
            mine.append(order)
    return waiting


def _covers(group: Group, free: int, now: datetime) -> str | None:
    """What the company's free seats do for the group's people, in words ("9 free
    seats cover them: allocate after expiry"); None without free seats."""
    if not free:
        return None
    seats = display.count(free, "free seat")
    verb = "covers" if free == 1 else "cover"
    whom = "them" if free >= group.count else f"{display.number(free)} of them"
    when = "allocate them now" if group.first <= now else "allocate after expiry"
    return f"{seats} {verb} {whom}: {when}"


def _queue_digest(user: Recipient, ancestor_id: int, companies: list, at: datetime) -> int:
    body = render_template(
        "emails/digest.txt",
        user=user,
        companies=companies,
        base_url=current_app.config["BASE_URL"],
        day=at.date(),
    )
    return (
        queue_email(
            key=f"digest:{at.date().isoformat()}:user-{user.id}",
            kind=EmailKind.DIGEST.value,
            company_id=ancestor_id,
            recipient=user.email,
            recipient_user_id=user.id,
            subject=f"Licenses expiring or expired under {len(companies)} of your companies",
            body=body,
        )
        is not None
    )
