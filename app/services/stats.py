"""Counts shown on the dashboard and beside list rows, one query per page."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Company, CompanyKind, Learner
from app.tenancy import Actor, scope


def learner_counts(company_ids: list[int]) -> dict[int, int]:
    """Active learners per company, for a page of companies, in one query."""
    if not company_ids:
        return {}
    rows = db.session.execute(
        select(Learner.company_id, func.count())
        .where(Learner.company_id.in_(company_ids), Learner.active)
        .group_by(Learner.company_id)
    )
    return dict(rows.all())


def dashboard_counts(actor: Actor) -> dict:
    """The Admin Dashboard's figures for what the actor may see: companies by kind
    (under its own company for an account manager) and active learners."""
    by_kind = dict(
        db.session.execute(
            select(Company.kind, func.count())
            .where(scope(actor, Company.id))
            .group_by(Company.kind)
        ).all()
    )
    if actor.company_id is not None:
        by_kind[CompanyKind(_kind_of(actor.company_id)).value] -= 1  # not itself
    learners = db.session.scalar(
        select(func.count()).where(scope(actor, Learner.company_id), Learner.active)
    )
    return {
        "partners": by_kind.get(CompanyKind.PARTNER.value, 0),
        "sub_partners": by_kind.get(CompanyKind.SUB_PARTNER.value, 0),
        "customers": by_kind.get(CompanyKind.CUSTOMER.value, 0),
        "learners": learners or 0,
    }


def _kind_of(company_id: int) -> str:
    return db.session.scalar(select(Company.kind).where(Company.id == company_id))
