"""Licenses (seats held by people) and selections (the exact people a manager
confirmed for an allocation, staged in the database so Select All over 50,000
people and spreadsheet renewals are set-based)."""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.company import Company
from app.models.learner import Learner
from app.models.order import TYPE_CHECK, LicenseType, Order
from app.models.types import UTCDateTime


class License(Model):
    """One seat of an order held by one person, from allocation until it expires with
    its order or is taken back (`ended_at`)."""

    __tablename__ = "licenses"
    __table_args__ = (
        Index("ix_licenses_learner_ended", "learner_id", "ended_at"),
        Index("ix_licenses_order", "order_id"),
        Index("ix_licenses_company_expires", "company_id", "expires_at"),
        Index("ix_licenses_expires_at", "expires_at"),
        # The sweep's work list: expired licenses whose transition is not recorded.
        Index(
            "ix_licenses_unrecorded",
            "expires_at",
            postgresql_where=text("expiry_recorded_at IS NULL"),
            sqlite_where=text("expiry_recorded_at IS NULL"),
        ),
        CheckConstraint(TYPE_CHECK, name="ck_licenses_license_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(
        ForeignKey("learners.id", ondelete="RESTRICT", name="fk_licenses_learner_id")
    )
    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="RESTRICT", name="fk_licenses_order_id")
    )
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="RESTRICT", name="fk_licenses_company_id")
    )
    license_type: Mapped[str] = mapped_column(
        String(16), default=LicenseType.PREMIUM.value, server_default=LicenseType.PREMIUM.value
    )
    allocated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The order's expiry, copied so expiry lists and sweeps are indexed range scans.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    allocated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL", name="fk_licenses_allocated_by")
    )
    # The selection it was allocated from (kept for the record; selections are
    # transient, so no foreign key).
    selection_id: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(32))
    # When the expiry sweep recorded its transition to Expired (in the audit trail).
    expiry_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    learner: Mapped[Learner] = relationship(Learner, lazy="selectin")
    order: Mapped[Order] = relationship(Order, lazy="selectin")
    company: Mapped[Company] = relationship(Company, lazy="selectin")


class Selection(Model):
    """The people a manager picked (one by one, Select All, or a spreadsheet), staged
    for the confirmation; allocated at most once (`used_at`)."""

    __tablename__ = "selections"
    __table_args__ = (Index("ix_selections_company_created", "company_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE", name="fk_selections_company_id")
    )
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL", name="fk_selections_created_by")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    company: Mapped[Company] = relationship(Company, lazy="selectin")


class SelectionMember(Model):
    """A staged person, numbered 1..size so allocation takes seats in position ranges.

    Staging rows are transient and written 50,000 at a time: the primary key is
    their only index and nothing is foreign-keyed — not the learners (staging
    selects them from the learners table), nor the selection (`stage` writes the
    members right after flushing it, in the same transaction; on PostgreSQL the
    per-row check was two thirds of staging's time). A selection is used once,
    right away, and never deleted while it has members.
    """

    __tablename__ = "selection_members"

    selection_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(Integer)
