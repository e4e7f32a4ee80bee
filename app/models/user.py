"""Managers: Flask-AppBuilder users tied to a company (FAB's `extendsecurity` pattern)."""

from __future__ import annotations

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.company import Company


class AppUser(User):
    """A user who logs in. Platform admins have no company; every manager has one."""

    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="RESTRICT", name="fk_ab_user_company_id"),
        nullable=True,
        index=True,
    )
    company: Mapped[Company | None] = relationship(Company, lazy="joined")

    @property
    def role_names(self) -> set[str]:
        return {role.name for role in self.roles}

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()
