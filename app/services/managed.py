"""Managed companies: while a company's plan is Managed (it holds an assigned,
unexpired Managed pool: `pools.paid_type`), its own customer managers do not change
its licenses — no Request, Cancel, Allocate, Deallocate, Import Licence Renewal or
Request renewal. Its account managers do, in Manage Company mode. The customer
managers keep Learners (with automatic licensing as set), Users and every read.

Every changing service calls `refuse_if_managed`; a refusal is a 403 with the one
message below, whatever the route (`ManagedByPartner`). Templates hide the buttons
with `licenses_managed`.
"""

from __future__ import annotations

from app import clock
from app.errors import Forbidden
from app.extensions import db
from app.models import Company, LicenseType
from app.services import pools
from app.tenancy import Actor


class ManagedByPartner(Forbidden):
    """A customer manager tried to change a Managed company's licenses."""


def licenses_managed(actor: Actor, company_id: int | None) -> bool:
    """Whether the actor is a customer manager of a company whose plan is Managed."""
    if not actor.is_customer_manager or company_id is None:
        return False
    return pools.paid_type(company_id, clock.now()) == LicenseType.MANAGED.value


def refusal(actor: Actor, company_id: int | None) -> str | None:
    """What a Managed company's customer manager is told (None for anyone else)."""
    if not licenses_managed(actor, company_id):
        return None
    company = db.session.get(Company, company_id)
    above = company.parent.name if company.parent else "the platform"
    return f"Your account manager at {above} manages licenses for this company."


def refuse_if_managed(actor: Actor, company_id: int | None) -> None:
    message = refusal(actor, company_id)
    if message:
        raise ManagedByPartner(message)
