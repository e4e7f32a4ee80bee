"""Uploaded spreadsheets and their staged rows (so a 100,000-row review is a few SQL
statements with bounded memory, and the commit applies exactly what was reviewed)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.company import Company
from app.models.types import UTCDateTime


class ImportKind(StrEnum):
    RENEWAL = "renewal"  # Import Licence Renewal: renew the people of a file
    LEARNERS = "learners"  # Import Learners: add or update the people of a file


class ImportStatus(StrEnum):
    """uploaded → reviewed (as often as the columns change) → committed, or expired
    after 24 hours without a commit."""

    UPLOADED = "uploaded"
    REVIEWED = "reviewed"
    COMMITTED = "committed"
    EXPIRED = "expired"


class ImportBatch(Model):
    __tablename__ = "import_batches"
    __table_args__ = (Index("ix_import_batches_company_created", "company_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE", name="fk_import_batches_company_id")
    )
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL", name="fk_import_batches_created_by")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(16))  # ImportKind
    # The user's file name is only shown; the file is stored under a server-made name.
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str | None] = mapped_column(String(64))
    file_kind: Mapped[str] = mapped_column(String(8))
    encoding: Mapped[str | None] = mapped_column(String(16))
    delimiter: Mapped[str | None] = mapped_column(String(4))
    sheets: Mapped[list | None] = mapped_column(JSON)
    sheet: Mapped[str | None] = mapped_column(String(255))
    header_row: Mapped[int | None] = mapped_column(Integer)
    columns: Mapped[dict | None] = mapped_column(JSON)  # what each chosen column holds
    auto_license: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.UPLOADED.value)
    summary: Mapped[dict | None] = mapped_column(JSON)
    selection_id: Mapped[int | None] = mapped_column(Integer)
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    company: Mapped[Company] = relationship(Company, lazy="selectin")

    @property
    def is_renewal(self) -> bool:
        return self.kind == ImportKind.RENEWAL

    @property
    def is_committed(self) -> bool:
        return self.status == ImportStatus.COMMITTED


class ImportRow(Model):
    """One data row of a reviewed file: its cell, the address read from it, the
    learner it matched, and why it is not taken (NULL: taken)."""

    # No index beyond the primary key: the review writes every row once (one
    # INSERT … SELECT from its staging table, where duplicates and learners are
    # found), and summaries, downloads and commits scan one batch by its key. No
    # foreign key either: PostgreSQL checked it by a trigger per row, half of that
    # INSERT's time. What deletes a batch deletes its rows (a company's deletion:
    # `companies.delete_company`).
    __tablename__ = "import_rows"

    batch_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # import_batches.id
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(String(320))
    email: Mapped[str | None] = mapped_column(String(320))
    learner_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(200))
    first_name: Mapped[str | None] = mapped_column(String(80))
    last_name: Mapped[str | None] = mapped_column(String(80))
    department: Mapped[str | None] = mapped_column(String(120))
    last_active_on: Mapped[date | None] = mapped_column(Date)  # Import Learners, optional
