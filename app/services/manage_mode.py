"""Manage Company mode: an account manager works in a company's own screens.

The mode itself lives in the web session (views/manage.py); these rules decide
who may enter it, re-check it on every request, and audit entering and leaving.
"""

from __future__ import annotations

from app.errors import Forbidden
from app.extensions import db
from app.models import AppUser, Company
from app.services import audit
from app.tenancy import Actor, may_act_on, require_company


def enter(actor: Actor, company_ids: list) -> Company:
    """Start managing one company of the actor's subtree (any company for the admin).
    Raises Forbidden (customer managers, several or own company) or NotFound."""
    if not actor.may_manage_others:
        raise Forbidden("Only account managers can manage other companies.")
    if len(company_ids) != 1:
        raise Forbidden("Choose one company to manage.")
    company = require_company(actor, company_ids[0])
    if company.id == actor.company_id:
        raise Forbidden("This is your own company: its screens are already yours.")
    audit.record(
        actor,
        "manage_mode.entered",
        company_id=company.id,
        entity="company",
        entity_id=company.id,
        after={"managing": company.name},
    )
    return company


def leave(actor: Actor, company_id: int) -> None:
    audit.record(
        actor,
        "manage_mode.left",
        company_id=company_id,
        entity="company",
        entity_id=company_id,
        before={"managing": _name(company_id)},
    )


def still_allowed(actor: Actor, user: AppUser | None, company_id: int) -> str | None:
    """None if the actor may keep managing the company; otherwise why not."""
    if user is None or not user.is_authenticated or not user.active:
        return "your account is no longer active"
    if not actor.may_manage_others:
        return "your role does not manage other companies"
    if not may_act_on(actor, company_id):
        return "that company is no longer in your companies"
    return None


def _name(company_id: int) -> str | None:
    company = db.session.get(Company, company_id)
    return company.name if company else None
