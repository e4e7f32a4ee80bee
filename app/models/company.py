"""The company tree: partners (MSPs) -> sub-partners (any depth) -> customers."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.types import UTCDateTime


class CompanyKind(enum.StrEnum):
    PARTNER = "partner"
    SUB_PARTNER = "sub_partner"
    CUSTOMER = "customer"

    @property
    def label(self) -> str:
        return {"partner": "Partner", "sub_partner": "Sub-partner", "customer": "Customer"}[
            self.value
        ]

    @property
    def manages_others(self) -> bool:
        return self is not CompanyKind.CUSTOMER


class Company(Model):
    __tablename__ = "companies"
    __table_args__ = (
        CheckConstraint("kind IN ('partner', 'sub_partner', 'customer')", name="ck_companies_kind"),
        CheckConstraint(
            "(kind = 'partner') = (parent_id IS NULL)", name="ck_companies_partner_is_root"
        ),
        CheckConstraint(
            "inactive_days IS NULL OR inactive_days BETWEEN 1 AND 3650",
            name="ck_companies_inactive_days",
        ),
        Index("ix_companies_parent_id", "parent_id"),
        Index("ix_companies_name", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="RESTRICT", name="fk_companies_parent_id")
    )
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # New learners get a free seat automatically (the client's platform does this).
    auto_license: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Set by the account managers above: the reminder steps meant for this company's
    # managers go to them instead (no order is made automatically).
    partner_handles_renewals: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # A partner's or sub-partner's account managers get the daily digest (unless off).
    send_digest: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Seat reclaim, set by account managers: people inactive this many days are
    # flagged do-not-renew (NULL: off, the default).
    inactive_days: Mapped[int | None] = mapped_column(Integer)
    # Reminder steps due before this instant are not this company's any more: its
    # schedule, its recipients or its groups changed then (services/schedules.py).
    reminders_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    # join_depth: a self-referential eager load needs one (without it nothing is eager).
    parent: Mapped[Company | None] = relationship(remote_side=[id], lazy="selectin", join_depth=1)

    @property
    def kind_enum(self) -> CompanyKind:
        return CompanyKind(self.kind)

    @property
    def kind_label(self) -> str:
        return self.kind_enum.label

    def __repr__(self) -> str:
        return self.name


class CompanyTree(Model):
    """Closure table: one row per (ancestor, descendant) pair, itself included.

    "Every company under X" is one indexed lookup on ancestor_id; a move rewrites
    the moved subtree's rows in two set-based statements (services/companies.py).
    """

    __tablename__ = "company_tree"
    __table_args__ = (Index("ix_company_tree_descendant", "descendant_id", "depth"),)

    ancestor_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE", name="fk_company_tree_ancestor"),
        primary_key=True,
    )
    descendant_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE", name="fk_company_tree_descendant"),
        primary_key=True,
    )
    depth: Mapped[int] = mapped_column(Integer)
