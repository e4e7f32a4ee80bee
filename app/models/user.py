"""Managers: Flask-AppBuilder users tied to a company (FAB's `extendsecurity` pattern)."""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.company import Company
from app.models.types import UTCDateTime


class AppUser(User):
    """A user who logs in. Platform admins have no company; every manager has one."""

    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="RESTRICT", name="fk_ab_user_company_id"),
        nullable=True,
        index=True,
    )
    company: Mapped[Company | None] = relationship(Company, lazy="joined")
    # The sign-in this instance was loaded for (services/sessions.py): Flask-Login
    # keeps `get_id()` in the cookie, so the cookie names a session, not a user.
    session_token = None

    def get_id(self) -> str:
        return self.session_token or ""

    @property
    def role_names(self) -> set[str]:
        return {role.name for role in self.roles}

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class UserSession(Model):
    """One sign-in. The browser's signed cookie carries only a random token; its hash
    is here, so signing out ends that session on the server (a copied cookie opens
    nothing afterwards), and a password change, a deactivation or "Sign out
    everywhere" ends all of a user's sessions. Times are real (wall-clock) instants:
    the demo clock offset never signs anyone out."""

    __tablename__ = "user_sessions"
    __table_args__ = (
        Index("ix_user_sessions_user_open", "user_id", "ended_at"),
        Index("ix_user_sessions_started", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("ab_user.id", ondelete="CASCADE", name="fk_user_sessions_user_id")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_reason: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(45))
