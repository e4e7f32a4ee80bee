"""An API key: a manager's credential for the REST API (services/api_keys.py).

The key itself is shown once: `lr_<prefix>_<secret>`, 32 random bytes behind a
random visible prefix. Only its SHA-256 is kept, found by the prefix (an indexed
look-up, no slow password hash on every call). A key acts as its user — same role
and scope — optionally read-only, optionally limited to one company of that scope
(and the companies under it)."""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.company import Company
from app.models.types import UTCDateTime
from app.models.user import AppUser


class ApiKey(Model):
    __tablename__ = "api_keys"
    __table_args__ = (
        Index("ux_api_keys_prefix", "prefix", unique=True),
        # The API keys screen: a company's keys, newest first.
        Index("ix_api_keys_company_created", "company_id", "created_at"),
        Index("ix_api_keys_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The user the key acts as, and that user's company (whose managers see the key).
    user_id: Mapped[int] = mapped_column(
        ForeignKey("ab_user.id", ondelete="CASCADE", name="fk_api_keys_user_id")
    )
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE", name="fk_api_keys_company_id")
    )
    limited_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE", name="fk_api_keys_limited_to_id")
    )
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64))
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL", name="fk_api_keys_created_by_id")
    )
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL", name="fk_api_keys_revoked_by_id")
    )
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_from: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[AppUser] = relationship(AppUser, foreign_keys=[user_id], lazy="joined")
    limited_to: Mapped[Company | None] = relationship(
        Company, foreign_keys=[limited_to_id], lazy="selectin"
    )


class ApiRequest(Model):
    """A change made through the API with an `Idempotency-Key`: its answer, kept so
    that the same key sent again (a retry after a lost answer) gets the same answer
    and changes nothing more."""

    __tablename__ = "api_requests"
    __table_args__ = (Index("ux_api_requests_key", "api_key_id", "idempotency_key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE", name="fk_api_requests_api_key_id")
    )
    idempotency_key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    # SHA-256 of the query and body sent: the same key with other data is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
