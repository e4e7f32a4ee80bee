"""Small key/value settings shared by every process (e.g. the clock offset)."""

from __future__ import annotations

from flask_appbuilder import Model
from sqlalchemy import String, bindparam, select
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.sql import read


class AppSetting(Model):
    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))

    @classmethod
    def get(cls, key: str) -> str | None:
        """The setting's value, by Core with the statement built once: the clock's
        offset is read on most requests outside production, and the ORM's own read
        cost five times its SQL. Settings are written by `put`, which flushes."""
        return read(_VALUE, {"key": key}).scalar()

    @classmethod
    def put(cls, key: str, value: str) -> None:
        row = db.session.get(cls, key)
        if row is None:
            db.session.add(cls(key=key, value=value))
        else:
            row.value = value
        db.session.flush()


_VALUE = select(AppSetting.value).where(AppSetting.key == bindparam("key"))
