"""Reminder schedules: which steps (models/reminder_step.py) a company's expiring
licenses bring, and to whom.

A company has at most one schedule, used by itself and by every company under it
without its own — the nearest wins (one closure-table lookup); none above: the
platform default (the guide's: 72 hours before, and on the day, to the company's
managers). An account manager edits its own company's schedule (the default for
its subtree) and any company's under it; every manager sees its company's
effective schedule and where it comes from. Every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update

from app import clock
from app.errors import Forbidden, Invalid
from app.extensions import db
from app.models import Company, CompanyTree
from app.models.reminder_schedule import ReminderSchedule, ReminderScheduleStep
from app.models.reminder_step import (
    DEFAULT_STEPS,
    KEYS_OF_KINDS,
    Audience,
    Step,
    key_label,
    parse_key,
    step_of,
)
from app.services import audit, locks
from app.tenancy import Actor, require_company, subtree_ids

MAX_STEPS = 8
AUDIENCES = tuple(Audience)


@dataclass(frozen=True)
class Effective:
    """A company's schedule as it applies: its steps, and the company whose schedule
    it is (None: the platform default)."""

    steps: tuple[Step, ...]
    source: Company | None
    changed: ReminderSchedule | None = None  # its row: when and by whom it last changed

    @property
    def keys(self) -> list[str]:
        return [key_of(step) for step in self.steps]


def key_of(step: Step) -> str:
    """A step's key ("before-72h"), whatever email kind it keeps."""
    return KEYS_OF_KINDS.get(step.key, step.key)


def effective(company_id: int) -> Effective:
    """The schedule that applies to a company, and where it comes from."""
    return effective_many([company_id])[company_id]


def effective_many(company_ids) -> dict[int, Effective]:
    """Each company's effective schedule, for a set of companies (two queries)."""
    ids = set(company_ids)
    if not ids:
        return {}
    nearest = (
        select(
            CompanyTree.descendant_id,
            ReminderSchedule.id,
            func.row_number()
            .over(partition_by=CompanyTree.descendant_id, order_by=CompanyTree.depth)
            .label("rank"),
        )
        .join(ReminderSchedule, ReminderSchedule.company_id == CompanyTree.ancestor_id)
        .where(CompanyTree.descendant_id.in_(ids))
        .subquery()
    )
    chosen = dict(
        db.session.execute(
            select(nearest.c.descendant_id, nearest.c.id).where(nearest.c.rank == 1)
        ).all()
    )
    schedules, sources = {}, {}
    if chosen:  # (most companies have the default: nothing more to read)
        schedules = {
            s.id: s
            for s in db.session.scalars(
                select(ReminderSchedule).where(ReminderSchedule.id.in_(set(chosen.values())))
            )
        }
        sources = {
            c.id: c
            for c in db.session.scalars(
                select(Company).where(Company.id.in_({s.company_id for s in schedules.values()}))
            )
        }
    # One Effective per schedule, shared by the companies using it.
    made = {
        schedule.id: Effective(_steps(schedule), sources[schedule.company_id], schedule)
        for schedule in schedules.values()
    }
    default = Effective(DEFAULT_STEPS, None)
    return {company_id: made.get(chosen.get(company_id), default) for company_id in ids}


def every_step() -> tuple[Step, ...]:
    """The default's steps and every schedule's (for the planning window)."""
    keys = set(db.session.scalars(select(ReminderScheduleStep.step_key).distinct()))
    return DEFAULT_STEPS + tuple(step_of(k, Audience.COMPANY_MANAGERS) for k in sorted(keys))


def _steps(schedule: ReminderSchedule) -> tuple[Step, ...]:
    """Its steps in time order: the earliest before the expiry first."""
    made = (step_of(r.step_key, Audience(r.audience), r.applies_from) for r in schedule.steps)
    return tuple(sorted(made, key=lambda step: step.offset))


# --- Editing --------------------------------------------------------------------------


def may_edit(actor: Actor, company_id: int) -> bool:
    """Account managers (and the platform admin) edit the schedules of their own
    company and the companies under it."""
    return actor.may_manage_others and company_id is not None


def set_schedule(actor: Actor, company_id, steps: list[tuple[str, str]]) -> Effective:
    """Give a company a schedule of its own: [(step key, audience)], checked. A step
    whose key the company's schedule had already keeps applying as it did; a new one
    applies only to due instants from now on — so does one whose audience changed.
    Raises Invalid, Forbidden, NotFound."""
    company = _editable(actor, company_id)
    wanted = _check(steps)
    before = effective(company.id)
    before_change(_using(company.id, before.source))
    kept = {(key_of(s), s.audience.value): s.applies_from for s in before.steps}
    now = clock.now()
    schedule = db.session.scalar(
        select(ReminderSchedule).where(ReminderSchedule.company_id == company.id)
    )
    if schedule is None:
        schedule = ReminderSchedule(company_id=company.id, updated_at=now)
        db.session.add(schedule)
        db.session.flush()
    else:
        db.session.execute(
            delete(ReminderScheduleStep).where(ReminderScheduleStep.schedule_id == schedule.id)
        )
        db.session.expire(schedule, ["steps"])
    schedule.updated_at, schedule.updated_by_id = now, actor.user_id
    db.session.add_all(
        ReminderScheduleStep(
            schedule_id=schedule.id,
            step_key=key,
            audience=audience,
            applies_from=kept.get((key, audience), now),
        )
        for key, audience in wanted
    )
    db.session.flush()
    db.session.expire(schedule, ["steps"])
    after = effective(company.id)
    _record(actor, company, "schedule.set", before, after)
    return after


def clear_schedule(actor: Actor, company_id) -> Effective:
    """The company uses the schedule above it again (or the platform default) — it
    and the companies under it that used its own, from now on (`restart`)."""
    company = _editable(actor, company_id)
    before = effective(company.id)
    inheriting = _using(company.id, company) if before.source == company else []
    before_change(inheriting)
    db.session.execute(delete(ReminderSchedule).where(ReminderSchedule.company_id == company.id))
    restart(inheriting)
    db.session.flush()
    after = effective(company.id)
    if before.source is not None and before.source.id == company.id:
        _record(actor, company, "schedule.cleared", before, after)
    return after


def _using(company_id: int, source: Company | None) -> list[int]:
    """The company and the companies under it whose schedule is `source`'s (None:
    the platform default)."""
    subtree = db.session.scalars(subtree_ids(company_id))
    return [
        below
        for below, schedule in effective_many(subtree).items()
        if (schedule.source.id if schedule.source else None) == (source.id if source else None)
    ]


def before_change(company_ids) -> None:
    """Before a change of these companies' schedule, recipients or local days: the
    steps due by now are planned under the settings they fell due under, as the
    next planning run would have (`restart` then keeps the change from reaching
    back to them)."""
    from app.services import reminders  # (it reads the schedules)

    ids = list(company_ids)
    if ids:
        reminders.plan(clock.now(), only=ids)


def restart(company_ids) -> None:
    """Only the steps due from now on apply to these companies: their schedule, their
    recipients or their local days just changed, and catch-up is for a worker's
    downtime, not for a change (a step already sent to others never goes again)."""
    ids = list(company_ids)
    if ids:
        db.session.execute(
            update(Company)
            .where(Company.id.in_(ids))
            .values(reminders_since=clock.now())
            .execution_options(synchronize_session="fetch")
        )


def parse_step(text: str) -> tuple[str, str]:
    """A step as the CLI writes it: KEY[:AUDIENCE], the audience "company", "partner"
    or "both" ("before-30d", "before-7d:partner", "after-0:both")."""
    key, _, audience = str(text or "").strip().partition(":")
    audience = audience.strip().lower() or "company"
    return key.strip().lower(), CLI_AUDIENCES.get(audience, audience)


CLI_AUDIENCES = {
    "company": Audience.COMPANY_MANAGERS.value,
    "partner": Audience.ACCOUNT_MANAGERS.value,
    "both": Audience.BOTH.value,
}


def step_key(amount, unit: str, anchor: str) -> str:
    """The key of a step the screen describes: amount, "days"/"hours", "before"/"after"."""
    text = str(amount if amount is not None else "").strip()
    if not (text.isascii() and text.isdecimal() and len(text) <= 4):
        raise Invalid("Each step's time is a whole number of days or hours.", "steps")
    if int(text) == 0:
        return "after-0"
    return f"{anchor}-{int(text)}{'d' if unit == 'days' else 'h'}"


def _check(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if not steps:
        raise Invalid("A schedule needs at least one step (or use the one above).", "steps")
    if len(steps) > MAX_STEPS:
        raise Invalid(f"A schedule has at most {MAX_STEPS} steps.", "steps")
    offered = {a.value for a in AUDIENCES}
    seen: dict[timedelta, str] = {}
    checked = []
    for key, audience in steps:
        key = str(key or "").strip().lower()
        parsed = parse_key(key)
        if parsed is not None:
            key = canonical(parsed)  # "before-072h" is "before-72h"
        if parsed is None:
            raise Invalid(
                f"'{key}' is not a step: write it as before-72h, before-30d, after-0 or "
                "after-7d (up to 366 days).",
                "steps",
            )
        if audience not in offered:
            raise Invalid(
                "Each step goes to the company's managers, the account managers above it, or both.",
                "steps",
            )
        # Across a DST change a day step and an hour step an hour apart can fall on
        # the same instant: one would never go.
        near = next((k for o, k in seen.items() if abs(o - parsed[0]) <= timedelta(hours=1)), None)
        if near is not None:
            raise Invalid(
                f"'{key_label(key)}' and '{key_label(near)}' are the same step, or an hour "
                "apart: keep one.",
                "steps",
            )
        seen[parsed[0]] = key
        checked.append((key, audience))
    return checked


def _editable(actor: Actor, company_id) -> Company:
    company = require_company(actor, company_id)
    if not may_edit(actor, company.id):
        raise Forbidden("Reminder schedules are set by account managers.")
    # Two edits of one company at once: the second waits, then sees the first's.
    locks.lock_companies(company.id)
    return company


def canonical(parsed: tuple[timedelta, bool]) -> str:
    """The one key of an offset: "before-72h", "before-30d", "after-0"."""
    offset, in_days = parsed
    if not offset:
        return "after-0"
    anchor = "before" if offset < timedelta(0) else "after"
    amount = abs(offset.days) if in_days else abs(int(offset.total_seconds() // 3600))
    return f"{anchor}-{amount}{'d' if in_days else 'h'}"


def _record(actor: Actor, company: Company, action: str, before: Effective, after: Effective):
    audit.record(
        actor,
        action,
        company_id=company.id,
        entity="company",
        entity_id=company.id,
        before=describe(before),
        after=describe(after),
    )


def describe(schedule: Effective) -> dict:
    return {
        "steps": [f"{key_of(s)}:{s.audience.value}" for s in schedule.steps],
        "from": schedule.source.name if schedule.source else "platform default",
    }
