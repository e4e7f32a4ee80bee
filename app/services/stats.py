"""Counts shown on the dashboard and beside list rows, one query per page."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Company, CompanyKind, Learner
from app.tenancy import Actor, screen_scope


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
    """The Admin Dashboard's figures for the company in view: the companies under it
    (an account manager's subtree, the whole platform for the admin) and its active
    learners. In Manage Company mode, the managed company's own figures."""
    in_view = actor.company_in_view
    companies = select(Company.kind, func.count()).where(screen_scope(actor, Company.id))
    if in_view is not None:
        companies = companies.where(Company.id != in_view)
    by_kind = dict(db.session.execute(companies.group_by(Company.kind)).all())
    learners = db.session.scalar(
        select(func.count()).where(screen_scope(actor, Learner.company_id), Learner.active)
    )
    return {
        "partners": by_kind.get(CompanyKind.PARTNER.value, 0),
        "sub_partners": by_kind.get(CompanyKind.SUB_PARTNER.value, 0),
        "customers": by_kind.get(CompanyKind.CUSTOMER.value, 0),
        "learners": learners or 0,
    }
