"""Directory sync (the API's `PUT /companies/{id}/learners:bulk`): up to MAX_PEOPLE
people at once, added or updated by email through Import Learners' own review and
commit — so the same rules, messages and set-based statements — all or nothing: any
person refused refuses the whole call, and nothing changes."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import delete

from app.errors import Invalid
from app.extensions import db
from app.models import ImportRow
from app.services.imports.batches import delete_file, upload
from app.services.imports.learners import commit_learners
from app.services.imports.review import LAST_ACTIVE, reason_text, rejected_page, review
from app.tenancy import Actor

MAX_PEOPLE = 1000
# Not refusals: a person already up to date, or deactivated here (reactivating is
# the manager's decision, one by one).
PASSED_OVER = {"unchanged", "deactivated"}
COLUMNS = ("email", "first_name", "last_name", "department", LAST_ACTIVE)
FIRST_ROW = 2  # the file's rows: its header, then learners[0]


class PeopleRefused(Invalid):
    """Some people were refused: each with its index in the call and its reason."""

    def __init__(self, message: str, refused: list[dict]):
        super().__init__(message, "learners")
        self.errors = refused


@dataclass(frozen=True)
class Synced:
    added: int
    updated: int
    unchanged: int
    deactivated: int
    licensed: int


def sync(actor: Actor, company_id, people: list[dict], auto_license: bool = True) -> Synced:
    """Add the people not known by their email and update the others (names,
    department, last active day). Raises PeopleRefused (nothing changed)."""
    if not 1 <= len(people) <= MAX_PEOPLE:
        raise Invalid(f"Send 1 to {MAX_PEOPLE:,} people per call.", "learners")
    given = [c for c in COLUMNS if any(p.get(_key(c)) is not None for p in people)]
    batch = upload(actor, company_id, "learners", "api.csv", io.BytesIO(_csv(people, given)))
    try:
        found = review(actor, batch.id, 1, {c: i for i, c in enumerate(given)}, auto_license)
        refusals = [r for r in found.reasons if r not in PASSED_OVER and found.reasons[r]]
        if refusals:
            refused = [
                {"index": row.row_number - FIRST_ROW, "reason": _reason(row)}
                for row in rejected_page(batch.id, limit=MAX_PEOPLE)
                if row.reason not in PASSED_OVER
            ]
            first = refused[0]
            raise PeopleRefused(
                f"{len(refused):,} of {len(people):,} people refused, nothing changed: "
                f"the first, learners[{first['index']}], is {first['reason']}.",
                refused,
            )
        passed = {r: found.reasons.get(r, 0) for r in PASSED_OVER}
        done = commit_learners(actor, batch.id)
    except BaseException:
        delete_file(batch)  # the batch row goes with the rollback
        raise
    # The batch stays (the audit trail names it); its rows served their purpose.
    db.session.execute(delete(ImportRow).where(ImportRow.batch_id == batch.id))
    return Synced(
        done.added, done.updated, passed["unchanged"], passed["deactivated"], done.licensed
    )


def _reason(row) -> str:
    """A refusal in the call's own terms (its people are counted from 0)."""
    if row.reason == "duplicate":
        return f"a duplicate of learners[{int(row.detail) - FIRST_ROW}]"
    return reason_text(row.reason, row.detail)


def _key(column: str) -> str:
    return "last_active_on" if column == LAST_ACTIVE else column


def _csv(people: list[dict], columns: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(columns)
    for person in people:
        writer.writerow([_text(person.get(_key(c))) for c in columns])
    return out.getvalue().encode()


def _text(value) -> str:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
