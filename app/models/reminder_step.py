"""Reminder steps as data: each email the expiry of a group of licenses brings is a
step — when (a signed offset), to whom (an audience), with which words (a template,
a subject, a label on the Emails page) and for which licenses (a Free Trial's, or
the others). Planning (services/reminders.py), subjects, templates, who may read
the emails and the worker's re-reading at send time all follow the steps.

A step's identity is its **key**: its anchor and signed offset ("before-72h",
"before-30d", "after-0", "after-7d"), never a row id; the platform default's two
steps keep the email kinds they always had ("expiry_reminder", "expiry_notice").
An email's key is the step's key with the company, the local expiry day and the
recipient: written once, sent once, whatever schedule the company inherits later.

A negative offset counts from the group's earliest expiry instant, a zero or
positive one from its latest (every license in it expired). Day offsets keep the
same local wall time in the company's zone across a DST change; hour offsets are
exact hours. A step is due from its instant until the next step of the group's
schedule is (a step missed while the worker was down goes late only while it is
still ahead of the next one); a step before the expiry never after the licenses
expired, the last step for `CATCH_UP` (7 days). A step added to a schedule (or
whose audience changed) applies only to due instants from then on (`applies_from`);
so do all of a company's steps after its effective schedule, its recipients or its
local days change (`companies.reminders_since`: the schedule above cleared, a move,
the partner-handles toggle, a new time zone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

CATCH_UP = timedelta(days=7)  # the last step goes at most this late
MAX_DAYS = 366  # the furthest a step may be from the expiry


class Audience(StrEnum):
    COMPANY_MANAGERS = "company_managers"
    # The account managers of the nearest partner or sub-partner above the company
    # with active ones: one partner-side email per account manager, step and local
    # day of sending, listing the companies (services/reminders.py).
    ACCOUNT_MANAGERS = "account_managers"
    BOTH = "both"

    @property
    def label(self) -> str:
        return {
            "company_managers": "The company's managers",
            "account_managers": "The account managers above it",
            "both": "Both",
        }[self.value]

    @property
    def to_company(self) -> bool:
        return self is not Audience.ACCOUNT_MANAGERS

    @property
    def to_partner(self) -> bool:
        return self is not Audience.COMPANY_MANAGERS


@dataclass(frozen=True)
class Step:
    key: str  # the email kind, and the first part of each email's key
    offset: timedelta  # signed; see the module's docstring
    audience: Audience
    template: str  # under templates/emails/
    subject: str  # str.format with count, company, when
    label: str  # the email's kind on the Emails page
    # A Free Trial's step applies to Free Trial licenses only; the others never do.
    trial: bool = False
    in_days: bool = False  # whole days, at the same local wall time
    applies_from: datetime | None = None  # due instants before it are not this step's

    @property
    def before_expiry(self) -> bool:
        return self.offset < timedelta(0)

    def due(self, first: datetime, last: datetime, zone: str = "UTC") -> datetime:
        """The instant this step is due for a group expiring from `first` to `last`."""
        anchor = first if self.before_expiry else last
        if not self.in_days:
            return anchor + self.offset
        tz = ZoneInfo(zone)
        wall = anchor.astimezone(tz).replace(tzinfo=None) + timedelta(days=self.offset.days)
        return wall.replace(tzinfo=tz).astimezone(UTC)


def due_step(
    steps,
    first: datetime,
    last: datetime,
    at: datetime,
    zone: str = "UTC",
    since: datetime | None = None,
) -> Step | None:
    """The step of a schedule a group expiring from `first` to `last` is due at `at`
    (at most one: each runs until the next one's instant), if it applies then: its
    due instant not before the step's `applies_from` nor the company's `since`."""
    return due_span(steps, first, last, at, zone, since)[0]


# Bounds of a span with no step instant before or after it.
EVER_BEFORE = datetime(1970, 1, 1, tzinfo=UTC)
EVER_AFTER = datetime(9999, 1, 1, tzinfo=UTC)


def due_span(
    steps,
    first: datetime,
    last: datetime,
    at: datetime,
    zone: str = "UTC",
    since: datetime | None = None,
) -> tuple[Step | None, datetime, datetime]:
    """`due_step`'s answer and the span [from, until) around `at` over which it stays
    the same (the planning remembers quiet spans: services/reminders.py)."""
    # In offset order the instants are in time order too: a schedule's steps are
    # more than an hour apart (services/schedules.py), more than a DST shift. So the
    # step due is the last whose instant has come, and the instants after the first
    # still ahead are never computed.
    current, following = None, None
    for step in sorted(steps, key=lambda s: s.offset):
        instant = step.due(first, last, zone)
        if instant > at:
            following = instant
            break
        current = instant, step
    if current is None:
        return None, EVER_BEFORE, following or EVER_AFTER
    due, step = current
    end = following if following is not None else due + CATCH_UP
    if step.before_expiry:
        end = min(end, first)
    if at >= end:
        return None, end, following or EVER_AFTER
    floors = [t for t in (step.applies_from, since) if t is not None]
    if floors and due < max(floors):
        return None, due, end
    return step, due, end


# --- Step keys ----------------------------------------------------------------------

KEY = re.compile(r"(before|after)-(\d{1,4})([dh])|after-0")
# The platform default's steps keep the email kinds they had before schedules.
LEGACY_KINDS = {"before-72h": "expiry_reminder", "after-0": "expiry_notice"}
KEYS_OF_KINDS = {kind: key for key, kind in LEGACY_KINDS.items()}


def parse_key(key: str) -> tuple[timedelta, bool] | None:
    """A step key's signed offset and whether it counts in days; None if it is not
    a step key."""
    match = KEY.fullmatch(key or "")
    if match is None:
        return None
    if key == "after-0":
        return timedelta(0), False
    anchor, amount, unit = match.group(1), int(match.group(2)), match.group(3)
    days = amount if unit == "d" else amount / 24
    if amount == 0 or days > MAX_DAYS:
        return None
    sign = -1 if anchor == "before" else 1
    delta = timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
    return sign * delta, unit == "d"


def key_label(key: str) -> str:
    """A step key in words: "72 hours before", "30 days before", "on the day",
    "7 days after"."""
    if key == "after-0":
        return "on the day"
    match = KEY.fullmatch(key)
    amount, unit = int(match.group(2)), "day" if match.group(3) == "d" else "hour"
    return f"{amount} {unit}{'s' if amount != 1 else ''} {match.group(1)}"


def step_of(key: str, audience: Audience, applies_from: datetime | None = None) -> Step:
    """The step a schedule's key stands for (the default's words for its two)."""
    offset, in_days = parse_key(key)
    kind = LEGACY_KINDS.get(key, key)
    base = STEPS_BY_KEY.get(kind)
    if base is not None:
        return replace(base, audience=audience, applies_from=applies_from)
    before = offset < timedelta(0)
    words = key_label(key).removesuffix(" before").removesuffix(" after")
    return Step(
        key=kind,
        offset=offset,
        audience=audience,
        template="expiry_reminder.txt" if before else "expiry_notice.txt",
        subject="{count} for {company} " + ("expire on {when}" if before else "expired on {when}"),
        label=f"Licenses expire in {words}" if before else f"Licenses expired {words} ago",
        in_days=in_days,
        applies_from=applies_from,
    )


DEFAULT_STEPS: tuple[Step, ...] = (
    Step(
        key="expiry_reminder",
        offset=timedelta(hours=-72),
        audience=Audience.COMPANY_MANAGERS,
        template="expiry_reminder.txt",
        subject="{count} for {company} expire on {when}",
        label="Licenses expire in 72 hours",
    ),
    Step(
        key="expiry_notice",
        offset=timedelta(0),
        audience=Audience.COMPANY_MANAGERS,
        template="expiry_notice.txt",
        subject="{count} for {company} expired on {when}",
        label="Licenses expired today",
    ),
)
# The Free Trial's own emails (each with its Upgrade Now link): fixed steps.
TRIAL_STEPS: tuple[Step, ...] = (
    Step(
        key="trial_expiry",
        offset=timedelta(days=-3),
        audience=Audience.COMPANY_MANAGERS,
        template="trial_expiry.txt",
        subject="Security Awareness Training – Free Trial Expiry",
        label="Free Trial Expiry",
        trial=True,
        in_days=True,
    ),
    Step(
        key="trial_expired",
        offset=timedelta(0),
        audience=Audience.COMPANY_MANAGERS,
        template="trial_expired.txt",
        subject="Security Awareness Training – Free Trial Expired",
        label="Free Trial Expired",
        trial=True,
    ),
)
STEPS_BY_KEY = {step.key: step for step in DEFAULT_STEPS + TRIAL_STEPS}


# A partner-side email's kind: this prefix and the step's kind ("am:before-30d").
PARTNER_KIND = "am:"


def step_for(kind: str) -> Step | None:
    """The step an email of this kind was written for (None: not a step's email)."""
    if kind.startswith(PARTNER_KIND):
        step = step_for(kind.removeprefix(PARTNER_KIND))
        if step is None:
            return None
        return replace(step, audience=Audience.ACCOUNT_MANAGERS, label=f"{step.label} (companies)")
    if kind in STEPS_BY_KEY:
        return STEPS_BY_KEY[kind]
    if parse_key(kind) is not None:
        return step_of(kind, Audience.COMPANY_MANAGERS)
    return None


def expiry_window(at: datetime, steps=DEFAULT_STEPS + TRIAL_STEPS) -> tuple[datetime, datetime]:
    """(after, up to): the expiry instants of the licenses some step may be due for
    at `at` — a group's own instants decide which step is due. A day of margin
    covers day steps kept at their wall time across a DST change."""
    earliest = max((s.offset for s in steps if not s.before_expiry), default=timedelta(0))
    latest = min((s.offset for s in steps if s.before_expiry), default=timedelta(0))
    margin = timedelta(hours=1) if any(s.in_days for s in steps) else timedelta(0)
    return at - earliest - CATCH_UP - margin, at - latest + margin
