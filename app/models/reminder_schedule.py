"""A company's reminder schedule: its steps (reminder_step.py says what a step is),
used by the company and every company under it without one of its own (the
nearest wins; services/schedules.py). No row: the platform default."""

from __future__ import annotations

from datetime import date, datetime

from flask_appbuilder import Model
from sqlalchemy import Boolean, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.types import UTCDateTime
from app.models.user import AppUser


class ReminderSchedule(Model):
    __tablename__ = "reminder_schedules"
    __table_args__ = (Index("ux_reminder_schedules_company", "company_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE", name="fk_reminder_schedules_company_id")
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL", name="fk_reminder_schedules_updated_by")
    )

    updated_by: Mapped[AppUser | None] = relationship(AppUser, lazy="selectin")
    steps: Mapped[list[ReminderScheduleStep]] = relationship(
        "ReminderScheduleStep",
        lazy="selectin",
        cascade="all, delete-orphan",
        order_by="ReminderScheduleStep.step_key",
    )


class ReminderScheduleStep(Model):
    """One step of a schedule: its key (its identity: anchor and signed offset,
    "before-72h", "after-0"), its audience, and the instant it was added to this
    schedule (or the key to the schedule this one replaced): it applies only to due
    instants from then on, so a step added today never mails the groups whose due
    instant is already past."""

    __tablename__ = "reminder_schedule_steps"
    __table_args__ = (
        CheckConstraint(
            "audience IN ('company_managers', 'account_managers', 'both')",
            name="ck_reminder_schedule_steps_audience",
        ),
    )

    schedule_id: Mapped[int] = mapped_column(
        ForeignKey(
            "reminder_schedules.id",
            ondelete="CASCADE",
            name="fk_reminder_schedule_steps_schedule_id",
        ),
        primary_key=True,
    )
    step_key: Mapped[str] = mapped_column(String(16), primary_key=True)
    audience: Mapped[str] = mapped_column(String(32))
    applies_from: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReminderPart(Model):
    """A company's group in an account manager's partner-side email: one row per
    (step, company, local expiry day, account manager), so each company appears in
    exactly one such email per step and expiry day; `email_id` is the email that
    lists it (one per account manager, step and local day of sending)."""

    __tablename__ = "reminder_parts"
    __table_args__ = (Index("ix_reminder_parts_email", "email_id"),)

    step_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE", name="fk_reminder_parts_company_id"),
        primary_key=True,
    )
    group_day: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("ab_user.id", ondelete="CASCADE", name="fk_reminder_parts_user_id"),
        primary_key=True,
    )
    email_id: Mapped[int] = mapped_column(
        ForeignKey("emails.id", ondelete="CASCADE", name="fk_reminder_parts_email_id")
    )


class ReminderCheck(Model):
    """What the planning learnt about a group (company, local expiry day, Free Trial
    or not) when it last looked: nothing to do from `quiet_from` until `quiet_until`
    (no step due, or the due step already written and not skipped). A later run
    passes over the group in SQL while that holds, its orders are the same ones
    (`orders`, `last_order_id`), no schedule or company's `reminders_since` changed
    after `checked_at`, and nothing was audited in the company since — every change
    that could end a skip's reason, or leave the worker nothing to say, is
    (services/reminders.py). A group looked at and not found quiet keeps a check
    quiet never (`quiet_until` ever before): the next run looks at it again."""

    __tablename__ = "reminder_checks"
    __table_args__ = (Index("ix_reminder_checks_quiet_until", "quiet_until"),)

    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE", name="fk_reminder_checks_company_id"),
        primary_key=True,
    )
    group_day: Mapped[date] = mapped_column(Date, primary_key=True)
    trial: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
    last_order_id: Mapped[int] = mapped_column(Integer)
    quiet_from: Mapped[datetime] = mapped_column(UTCDateTime())
    quiet_until: Mapped[datetime] = mapped_column(UTCDateTime())
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReminderRun(Model):
    """The last whole planning run (one row, id 1): as of when it looked (its
    `checked_at`) and the window of expiry instants it covered. That run passed over
    each group of its window only after probing the audit trail since the group's
    `ReminderCheck.checked_at`, and rewrote the check of every group it looked at —
    so the next run need only probe what was audited since `checked_at` for the
    groups of that window, and if its window only moved forward, read only the
    groups woken since (services/reminders.py). Whole runs lock this row: they
    never overlap."""

    __tablename__ = "reminder_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_up_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The demo/test clock's offset then (app/clock.py): a run under another offset
    # cannot rely on what this one learnt.
    clock_offset: Mapped[float | None] = mapped_column(Float)
