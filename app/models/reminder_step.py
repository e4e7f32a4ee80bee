"""Reminder steps as data: each email the expiry of a group of licenses brings is a
step — when (a signed offset), to whom (an audience), with which words (a template,
a subject, a label on the Emails page) and for which license types. Planning
(services/reminders.py), subjects, templates, who may read the emails and the
worker's re-reading at send time all follow this list: a new step is one entry
(and its template).

A negative offset counts from the group's earliest expiry instant: the step is due
that long before it and goes while that instant is still ahead (late after an
outage, never after the licenses expired). A zero or positive offset counts from
the group's latest expiry instant (every license in it expired): the step is due
then and goes for `CATCH_UP` (7 days) after. An email's key is the step's key with
the company, the local expiry day and the recipient: written once, sent once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

CATCH_UP = timedelta(days=7)  # a step after the expiry goes at most this late


class Audience(StrEnum):
    # The company's own managers. (Account managers above it come with reminder
    # schedules, together with who may read those emails.)
    COMPANY_MANAGERS = "company_managers"


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

    @property
    def before_expiry(self) -> bool:
        return self.offset < timedelta(0)

    def is_due(self, first: datetime, last: datetime, at: datetime) -> bool:
        """Whether a group expiring from `first` to `last` gets this step at `at`."""
        if self.before_expiry:
            return first + self.offset <= at < first
        due = last + self.offset
        return due <= at < due + CATCH_UP


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
    # The Free Trial's own emails (each with its Upgrade Now link).
    Step(
        key="trial_expiry",
        offset=timedelta(days=-3),
        audience=Audience.COMPANY_MANAGERS,
        template="trial_expiry.txt",
        subject="Security Awareness Training – Free Trial Expiry",
        label="Free Trial Expiry",
        trial=True,
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
STEPS_BY_KEY = {step.key: step for step in DEFAULT_STEPS}


def step_for(kind: str) -> Step | None:
    """The step an email of this kind was written for (None: not a step's email)."""
    return STEPS_BY_KEY.get(kind)


def expiry_window(at: datetime, steps=DEFAULT_STEPS) -> tuple[datetime, datetime]:
    """(after, up to): the expiry instants of the licenses some step may be due for
    at `at` — a group's own instants decide which step is due."""
    earliest = max((s.offset for s in steps if not s.before_expiry), default=timedelta(0))
    latest = min((s.offset for s in steps if s.before_expiry), default=timedelta(0))
    return at - earliest - CATCH_UP, at - latest
