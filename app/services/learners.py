"""Learners: the people of a company who hold licenses."""

from __future__ import annotations

from sqlalchemy import exists, select

from app import clock
from app.errors import Invalid
from app.extensions import db
from app.models import Learner
from app.services import audit, licenses, reclaim
from app.services.validation import email_address, optional_text, required_text
from app.tenancy import Actor, get_many_scoped, get_scoped, require_company

AUDITED = ("email", "first_name", "last_name", "department", "active", "last_active_on")
_KEEP = object()  # an argument not given: the value stays


def add_learner(
    actor: Actor,
    company_id: int,
    *,
    email: str,
    first_name: str,
    last_name: str,
    department: str | None = None,
) -> Learner:
    """Add a learner to a company the actor may act on. The email is unique within
    the company (trimmed, case-insensitive). Raises Invalid or NotFound."""
    company = require_company(actor, company_id)
    address = email_address(email)
    _check_unique(company.id, address)
    learner = Learner(
        company_id=company.id,
        email=address,
        first_name=required_text(first_name, "first_name", "First name", 80),
        last_name=required_text(last_name, "last_name", "Last name", 80),
        department=optional_text(department, "department", "Group/department", 120),
        active=True,
        created_at=clock.now(),
    )
    db.session.add(learner)
    db.session.flush()
    audit.record(
        actor,
        "learner.added",
        company_id=company.id,
        entity="learner",
        entity_id=learner.id,
        after=audit.values(learner, AUDITED),
    )
    licenses.auto_license(actor, learner)
    return learner


def update_learner(
    actor: Actor,
    learner_id: int,
    *,
    email: str,
    first_name: str,
    last_name: str,
    department: str | None,
    last_active_on=_KEEP,
) -> Learner:
    learner = get_scoped(actor, Learner, learner_id)
    before = audit.values(learner, AUDITED)
    address = email_address(email)
    if address != learner.email:
        _check_unique(learner.company_id, address)
    learner.email = address
    learner.first_name = required_text(first_name, "first_name", "First name", 80)
    learner.last_name = required_text(last_name, "last_name", "Last name", 80)
    learner.department = optional_text(department, "department", "Group/department", 120)
    if last_active_on is not _KEEP:
        learner.last_active_on = reclaim.parse_last_active(last_active_on)
    db.session.flush()
    audit.record_change(actor, "learner.changed", learner, AUDITED, before, entity="learner")
    return learner


def set_learners_active(actor: Actor, learner_ids: list[int], active: bool) -> int:
    """Deactivate (or reactivate) learners; all of them or none. Returns how many."""
    learners = get_many_scoped(actor, Learner, learner_ids)
    audit.set_active(actor, learners, active, noun="learner", entity="learner")
    db.session.flush()
    return len(learners)


def _check_unique(company_id: int, address: str) -> None:
    taken = db.session.scalar(
        select(exists().where(Learner.company_id == company_id, Learner.email == address))
    )
    if taken:
        raise Invalid(f"{address} is already a learner of this company.", "email")
