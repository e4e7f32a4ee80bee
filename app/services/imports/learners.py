"""Import Learners: the learner import's commit — add the new people and update the
known ones (never deletes anyone), in set-based statements; new people get free
seats when the company licenses automatically and the manager kept it on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, literal, select, update

from app import clock
from app.extensions import db
from app.models import Company, ImportBatch, ImportKind, ImportRow, Learner
from app.services import pools, trials
from app.services.allocation import allocate, stage
from app.services.imports.batches import finish, get_reviewed
from app.tenancy import Actor


@dataclass(frozen=True)
class LearnersImported:
    added: int
    updated: int
    licensed: int


def commit_learners(actor: Actor, batch_id) -> LearnersImported:
    batch = get_reviewed(
        actor,
        batch_id,
        ImportKind.LEARNERS,
        "This file was already imported.",
        "Review the file before importing.",
    )
    added = _insert_new_learners(batch, clock.now())
    updated = _update_known_learners(batch)
    licensed = _license_new_learners(actor, batch)
    done = LearnersImported(added, updated, licensed)
    finish(actor, batch, after={"added": added, "updated": updated, "licensed": licensed})
    return done


def _insert_new_learners(batch: ImportBatch, now: datetime) -> int:
    new = (
        select(
            literal(batch.company_id),
            ImportRow.email,
            ImportRow.first_name,
            ImportRow.last_name,
            ImportRow.department,
            ImportRow.last_active_on,
            literal(True),
            literal(now, Learner.created_at.type),
        )
        .where(
            ImportRow.batch_id == batch.id,
            ImportRow.reason.is_(None),
            ImportRow.learner_id.is_(None),
        )
        .order_by(ImportRow.row_number)
    )
    columns = [
        "company_id",
        "email",
        "first_name",
        "last_name",
        "department",
        "last_active_on",
        "active",
    ]
    db.session.execute(insert(Learner).from_select([*columns, "created_at"], new))
    _match_learners_added(batch)
    return db.session.scalar(
        select(func.count()).where(
            ImportRow.batch_id == batch.id, ImportRow.reason.is_(None), ImportRow.detail == "added"
        )
    )


def _match_learners_added(batch: ImportBatch) -> None:
    match = (
        select(Learner.id)
        .where(Learner.company_id == batch.company_id, Learner.email == ImportRow.email)
        .scalar_subquery()
    )
    db.session.execute(
        update(ImportRow)
        .where(
            ImportRow.batch_id == batch.id,
            ImportRow.reason.is_(None),
            ImportRow.learner_id.is_(None),
        )
        .values(learner_id=match, detail="added")
        .execution_options(synchronize_session=False)
    )


def _update_known_learners(batch: ImportBatch) -> int:
    changed = db.session.execute(
        update(Learner)
        .where(
            Learner.id == ImportRow.learner_id,
            ImportRow.batch_id == batch.id,
            ImportRow.reason.is_(None),
            ImportRow.detail.is_(None),
        )
        .values(
            first_name=func.coalesce(ImportRow.first_name, Learner.first_name),
            last_name=func.coalesce(ImportRow.last_name, Learner.last_name),
            department=func.coalesce(ImportRow.department, Learner.department),
            last_active_on=func.coalesce(ImportRow.last_active_on, Learner.last_active_on),
        )
        .execution_options(synchronize_session=False)
    )
    return changed.rowcount


def _license_new_learners(actor: Actor, batch: ImportBatch) -> int:
    company = db.session.get(Company, batch.company_id)
    trial = trials.seat_for_new_people(company, clock.now())
    free = trial.free if trial else pools.company_free_seats(company.id, clock.now())
    # A running trial licenses its new people whatever the settings.
    if not (trial or (batch.auto_license and company.auto_license)) or not free:
        return 0
    new = (
        select(ImportRow.learner_id)
        .where(ImportRow.batch_id == batch.id, ImportRow.detail == "added")
        .order_by(ImportRow.row_number)
        .limit(free)
    )
    selection = stage(actor, company.id, new, "import")
    if not selection.size:
        return 0
    return allocate(actor, selection.id, trial.id if trial else None, automatic=True).size
