"""Seat reclaim: people not worth renewing are flagged *do-not-renew*.

A person is flagged when a manager of the company flagged them, or — unless a
manager cleared the flag on them — when the company's rule says so: "flag people
inactive for N days" (`companies.inactive_days`, set by account managers, off by
default) and their last-active date is more than N days before today (in the
company's zone). No last-active date: never flagged by the rule.

Renewal requests leave flagged people out and say how many; reminder emails count
them apart, and a step whose remaining people are all flagged is skipped.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, or_, select

from app import display
from app.errors import Forbidden, Invalid, NotFound
from app.extensions import db
from app.models import Company, Learner
from app.services import audit
from app.tenancy import Actor, get_many_scoped, require_company, strictly_below

MAX_INACTIVE_DAYS = 3650


def cutoff(company: Company, now: datetime) -> date | None:
    """The company's rule as a day: people last active before it are flagged (None:
    the rule is off)."""
    if not company.inactive_days:
        return None
    return _day(company.inactive_days, company.timezone, now)


def _day(inactive_days: int, zone: str, now: datetime) -> date:
    return display.local(now, zone).date() - timedelta(days=inactive_days)


def flagged(company: Company, now: datetime):
    """A WHERE clause on learners: the company's people flagged do-not-renew now."""
    return flagged_before(cutoff(company, now))


def flagged_before(day) -> ColumnElement[bool]:
    """Flagged by a manager, or (no manager's word) last active before `day` — a
    date or a SQL expression giving each person's company's cutoff; None: no rule."""
    if day is None:
        # Only a manager's word: read from ix_learners_flag_word (the people with
        # one), which the IS NOT NULL term lets the planner use; never NULL, so its
        # negation is exact too.
        return and_(Learner.do_not_renew.is_not(None), Learner.do_not_renew.is_(True))
    rule = and_(Learner.last_active_on.is_not(None), Learner.last_active_on < day)
    if isinstance(day, ColumnElement):
        # A company without a rule has no cutoff (NULL): never flagged by it. Without
        # this term the comparison is NULL there, and so is the negation — its people
        # would be neither flagged nor not.
        rule = and_(day.is_not(None), rule)
    return or_(Learner.do_not_renew.is_(True), and_(Learner.do_not_renew.is_(None), rule))


def flag_reason(person: Learner, day: date | None) -> str | None:
    """Why one person is flagged (the reading of `flagged` for a listed row, `day`
    being the company's `cutoff`), or None."""
    if person.do_not_renew is not None:
        return "Flagged by a manager" if person.do_not_renew else None
    if day is not None and person.last_active_on is not None and person.last_active_on < day:
        return f"Inactive since {person.last_active_on.isoformat()}"
    return None


def flagged_anywhere(now: datetime):
    """The same WHERE clause over the people of every company (one query for the
    companies whose rule is on: each gets its cutoff day)."""
    rules = db.session.execute(
        select(Company.id, Company.inactive_days, Company.timezone).where(
            Company.inactive_days.is_not(None)
        )
    ).all()
    cutoffs = {company_id: _day(days, zone, now) for company_id, days, zone in rules}
    return flagged_before(case(cutoffs, value=Learner.company_id, else_=None) if cutoffs else None)


def set_flag(actor: Actor, learner_ids: list, flag: bool) -> int:
    """Flag people do-not-renew (or clear the flag, overriding the company's rule):
    any manager of the company in view, all of them or none. Returns how many."""
    people = get_many_scoped(actor, Learner, learner_ids)
    if not all(actor.works_in(p.company_id) for p in people):
        raise NotFound()
    for person in people:
        person.do_not_renew = bool(flag)
    db.session.flush()
    audit.record(
        actor,
        "learners.flagged" if flag else "learners.unflagged",
        company_id=people[0].company_id,
        entity="learner",
        entity_id=people[0].id if len(people) == 1 else None,
        after={"people": len(people), "learner_ids": sorted(p.id for p in people)},
    )
    return len(people)


def set_inactive_days(actor: Actor, company_id, days) -> Company:
    """The company's rule: flag people inactive for `days` days (empty: off). Set by
    the account managers of the company or above it."""
    company = require_company(actor, company_id)
    if not actor.may_manage_others or (
        actor.managing_company_id is None
        and company.id != actor.company_id
        and company.id not in strictly_below(actor, {company.id})
    ):
        raise Forbidden("Seat reclaim is set by account managers.", "inactive_days")
    before = company.inactive_days
    company.inactive_days = parse_days(days)
    db.session.flush()
    if before != company.inactive_days:
        audit.record(
            actor,
            "company.changed",
            company_id=company.id,
            entity="company",
            entity_id=company.id,
            before={"inactive_days": before},
            after={"inactive_days": company.inactive_days},
        )
    return company


def parse_days(value) -> int | None:
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdecimal() and 1 <= int(text) <= MAX_INACTIVE_DAYS):
        raise Invalid(
            f"Flag people inactive for a whole number of days from 1 to {MAX_INACTIVE_DAYS:,}, "
            "or leave it empty (off).",
            "inactive_days",
        )
    return int(text)


def parse_last_active(value) -> date | None:
    """A last-active date as typed or imported: YYYY-MM-DD (empty: unknown)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise Invalid(
            f"'{text[:40]}' is not a date: write the last-active date as YYYY-MM-DD.",
            "last_active_on",
        ) from None
