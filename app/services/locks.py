"""Row locks that serialise work on one company across transactions.

Starting a trial, granting NFR seats, assigning orders (which may move people),
Upgrade Now and editing a reminder schedule each lock their companies' rows first:
a second transaction on the same company waits, then reads what the first
committed. Always in id order, so two of them never deadlock. (SQLite serialises
writers anyway; FOR UPDATE is left out there.)"""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Company


def lock_companies(*company_ids: int) -> None:
    db.session.execute(
        select(Company.id)
        .where(Company.id.in_(set(company_ids)))
        .order_by(Company.id)
        .with_for_update()
    )
