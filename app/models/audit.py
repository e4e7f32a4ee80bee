"""The audit trail: append-only rows written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.company import Company
from app.models.types import UTCDateTime
from app.models.user import AppUser


class AuditEvent(Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_company_at", "company_id", "at"),
        Index("ix_audit_events_entity", "entity", "entity_id"),
        Index("ix_audit_events_actor_at", "actor_id", "at"),
        Index("ix_audit_events_action_at", "action", "at"),
        # The Audit Log's order over a whole tree: newest first, id as FAB's tie-breaker;
        # with the company, the companies audited lately without a visit to each event
        # (the reminder planning).
        Index("ix_audit_events_at_id", "at", "id", "company_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL", name="fk_audit_events_actor_id")
    )
    # The company the change was in, and the company the actor was managing (manage
    # mode) when it made it.
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL", name="fk_audit_events_company_id")
    )
    on_behalf_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL", name="fk_audit_events_on_behalf_of")
    )
    interface: Mapped[str] = mapped_column(String(16))
    # Through what, beyond the interface: the API key's label.
    via: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)

    actor: Mapped[AppUser | None] = relationship(AppUser, lazy="selectin")
    company: Mapped[Company | None] = relationship(
        Company, foreign_keys=[company_id], lazy="selectin"
    )
    on_behalf_of: Mapped[Company | None] = relationship(
        Company, foreign_keys=[on_behalf_of_id], lazy="selectin"
    )
