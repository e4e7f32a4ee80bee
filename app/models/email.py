"""Emails are rows first (an outbox): written in the same transaction as the change
that causes them, then sent by a worker job that claims each row before SMTP."""

from __future__ import annotations

import enum
from datetime import date, datetime

from flask_appbuilder import Model
from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.company import Company
from app.models.reminder_step import STEPS_BY_KEY, step_for
from app.models.types import UTCDateTime


class EmailState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"
    NEEDS_ATTENTION = "needs_attention"
    # Nothing left to say when it was due (the licenses were renewed or taken back).
    CANCELLED = "cancelled"
    # A reminder step with nothing to do when it was due: recorded with its reason
    # (`last_error`), not sent — unless the reason goes away while the step is due.
    SKIPPED = "skipped"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class EmailKind(enum.StrEnum):
    ORDER_REQUESTED = "order_requested"
    ORDER_ASSIGNED = "order_assigned"
    ORDER_DECLINED = "order_declined"
    ORDER_CANCELLED = "order_cancelled"
    DIGEST = "digest"

    @property
    def label(self) -> str:
        return {
            "order_requested": "License Request Notification",
            "order_assigned": "License Assigned Notification",
            "order_declined": "License Request Declined",
            "order_cancelled": "License Request Cancelled",
            "digest": "Daily license digest",
        }.get(self.value, self.value.replace("_", " ").title())


# Emails addressed to the company's own managers; the other kinds go to the account
# managers above it (a request, a cancellation, the daily digest).
TO_COMPANY_MANAGERS = (
    EmailKind.ORDER_ASSIGNED.value,
    EmailKind.ORDER_DECLINED.value,
    *STEPS_BY_KEY,
)
# ... and every step of a schedule written to them (kinds "before-30d", "after-7d").
COMPANY_STEP_KIND_PREFIXES = ("before-", "after-")


def kind_label(kind: str) -> str:
    """An email kind in words: a reminder step's label, or the kind's."""
    step = step_for(kind)
    return step.label if step else EmailKind(kind).label


class Email(Model):
    __tablename__ = "emails"
    __table_args__ = (
        CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'retrying', 'failed', 'needs_attention',"
            " 'cancelled', 'skipped')",
            name="ck_emails_state",
        ),
        Index("ix_emails_state_next_attempt", "state", "next_attempt_at"),
        Index("ix_emails_company_created", "company_id", "created_at"),
        Index("ix_emails_order", "order_id"),
        # The Emails page's order over a whole tree: newest first, then id.
        Index("ix_emails_created_id", "created_at", "id"),
        # The reminder planning's look-up of the steps written for each group.
        Index("ix_emails_group", "company_id", "group_day", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # One key per (what, recipient): a key is never sent twice.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="RESTRICT", name="fk_emails_company_id")
    )
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL", name="fk_emails_order_id")
    )
    recipient_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL", name="fk_emails_recipient_user_id")
    )
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=EmailState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message_id: Mapped[str | None] = mapped_column(String(200))
    # For expiry emails: the company's local day whose licenses they are about.
    group_day: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    company: Mapped[Company] = relationship(Company, lazy="selectin")

    @property
    def state_label(self) -> str:
        return EmailState(self.state).label

    @property
    def kind_label(self) -> str:
        return kind_label(self.kind)
