"""Learners: the people of a company who hold licenses (they never log in)."""

from __future__ import annotations

from datetime import date, datetime

from flask_appbuilder import Model
from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.company import Company
from app.models.types import UTCDateTime


class Learner(Model):
    __tablename__ = "learners"
    __table_args__ = (
        UniqueConstraint("company_id", "email", name="uq_learners_company_email"),
        # The lists' order: by last name, then id (FAB's tie-breaker for paging).
        Index("ix_learners_company_last_name", "company_id", "last_name", "id"),
        Index("ix_learners_company_department", "company_id", "department"),
        Index("ix_learners_email", "email"),
        Index("ix_learners_company_license", "company_id", "license_expires_at"),
        # The seat position's counts (expiring, expired) and the Expired tab's count:
        # index-only ranges over the active people of a company.
        Index(
            "ix_learners_active_license",
            "company_id",
            "license_expires_at",
            sqlite_where=text("active = 1"),
            postgresql_where=text("active"),
        ),
        # The people a manager flagged or cleared (services/reclaim.py): the renewal
        # tabs count their flagged people from these few when the company's rule is off.
        Index(
            "ix_learners_flag_word",
            "company_id",
            "license_expires_at",
            sqlite_where=text("do_not_renew IS NOT NULL"),
            postgresql_where=text("do_not_renew IS NOT NULL"),
        ),
        # The tabs filtered by type: a state's range within one type.
        Index(
            "ix_learners_active_type",
            "company_id",
            "license_type",
            "license_expires_at",
            sqlite_where=text("active = 1"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="RESTRICT", name="fk_learners_company_id")
    )
    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    department: Mapped[str | None] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # When the person's latest license expires; NULL when never licensed or when
    # the seat was taken back. Active, expired and unlicensed are derived from it
    # against the clock in every query (never stored as a status).
    license_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The type of that latest license (LicenseType), NULL with it.
    license_type: Mapped[str | None] = mapped_column(String(16))
    # Seat reclaim (services/reclaim.py): the day the person was last active in the
    # training (none: unknown, never flagged by the company's rule), and a manager's
    # do-not-renew flag — NULL follows the company's rule, true flags, false clears.
    last_active_on: Mapped[date | None] = mapped_column(Date)
    do_not_renew: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    company: Mapped[Company] = relationship(Company, lazy="selectin")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def __repr__(self) -> str:
        return f"{self.full_name} <{self.email}>"
