"""Small key/value settings shared by every process (e.g. the clock offset)."""

from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class AppSetting(Model):
    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))

    @classmethod
    def get(cls, key: str) -> str | None:
        return db.session.scalar(select(cls.value).where(cls.key == key))

    @classmethod
    def put(cls, key: str, value: str) -> None:
        row = db.session.get(cls, key)
        if row is None:
            db.session.add(cls(key=key, value=value))
        else:
            row.value = value
        db.session.flush()
