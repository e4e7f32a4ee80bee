"""Signs of life of the background processes, in the database (the source of truth
the web reads without needing Redis): each worker and scheduler writes its own row
every few seconds, and each periodic job records its last run."""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.types import UTCDateTime


class Heartbeat(Model):
    """One background process: a worker ("idle", "busy", "stopped") or a scheduler
    ("leading", "standby", "stopped"). Times are real (wall-clock) instants: the
    application clock's demo offset never makes a live worker look dead."""

    __tablename__ = "heartbeats"
    __table_args__ = (Index("ix_heartbeats_role_seen", "role", "seen_at"),)

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PeriodicRun(Model):
    """The last run of one periodic job (app/jobs/periodic.py's SCHEDULE)."""

    __tablename__ = "periodic_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # running, ok, failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    detail: Mapped[str | None] = mapped_column(String(500))
