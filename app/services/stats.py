"""Counts shown on the dashboard."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Company, CompanyKind, Learner
from app.tenancy import Actor, screen_scope


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
