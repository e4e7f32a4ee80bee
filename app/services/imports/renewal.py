"""Renew Licences: the renewal import's commit — exactly the people of the review,
all or nothing, once, through the same allocation as Select All."""

from __future__ import annotations

from sqlalchemy import func, select

from app import clock
from app.errors import Conflict, Invalid
from app.extensions import db
from app.models import ImportKind, Learner
from app.services import managed
from app.services.allocation import Plan, allocate, stage
from app.services.imports.batches import finish, get_reviewed
from app.services.imports.review import Summary, taken_learners
from app.services.states import is_active
from app.tenancy import Actor


class StaleReview(Conflict):
    """The people or seats changed since the review: it must be shown again."""


def commit_renewal(actor: Actor, batch_id, include_flagged: bool = False) -> Plan:
    """Allocate to exactly the people of the review (and those it listed as flagged
    do-not-renew, when included), all or nothing, through the allocation service.
    A review that went stale (someone renewed, seats gone) raises Conflict; a batch
    commits once."""
    batch = get_reviewed(
        actor,
        batch_id,
        ImportKind.RENEWAL,
        "These licenses were already renewed.",
        "Review the file before renewing.",
    )
    managed.refuse_if_managed(actor, batch.company_id)
    renewed = db.session.scalar(
        select(func.count()).where(
            Learner.id.in_(taken_learners(batch, include_flagged)), is_active(clock.now())
        )
    )
    if renewed:
        raise StaleReview(
            f"The review went stale: {renewed} of these people have an "
            "active license now. Nothing was renewed; the file was checked "
            "again below."
        )
    selection = stage(actor, batch.company_id, taken_learners(batch, include_flagged), "import")
    if not selection.size:
        raise Invalid("Nobody in this file can be renewed.")
    summary = Summary.of(batch)
    if include_flagged and summary.problem_with_flagged and not summary.problem:
        # The review named this shortage beside Include them: not a stale review.
        raise Invalid(summary.problem_with_flagged)
    done = allocate(actor, selection.id)
    finish(actor, batch, selection_id=selection.id, after={"renewed": done.size})
    return done
