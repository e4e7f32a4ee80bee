"""The outbox: email rows, written in the same transaction as the change that causes
them, and the state machine a worker drives them through.

pending/retrying --claim--> sending --> sent | retrying (transient) | failed (permanent)
                                    --> needs_attention (connection lost after the
                                        message was handed over: never resent by itself)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from app import clock
from app.errors import Conflict
from app.extensions import db
from app.models import Email, EmailState
from app.sql import insert_ignore
from app.tenancy import Actor, get_many_scoped

# Wait before attempt n+1 after a transient failure; after the last, the row fails.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
CLAIMABLE = (EmailState.PENDING.value, EmailState.RETRYING.value)
# Where a session keeps the ids of the rows to hand to the worker once it commits.
OUTBOX = "outbox"


def dispatch_after_commit(*email_ids: int) -> None:
    """Hand these rows to the worker when (and only if) this transaction commits
    (app/jobs/dispatch.py)."""
    db.session.info.setdefault(OUTBOX, set()).update(email_ids)


def take_dispatched(session) -> set[int]:
    """The rows noted for the worker in `session`, forgotten there."""
    return session.info.pop(OUTBOX, None) or set()


def queue_email(
    *,
    key: str,
    skipped: str | None = None,
    kind: str,
    company_id: int,
    recipient: str,
    subject: str,
    body: str,
    recipient_user_id: int | None = None,
    order_id: int | None = None,
    group_day=None,
) -> int | None:
    """Write one email row unless its key exists (then None: a key is sent once).
    Its id is dispatched to the worker after the transaction commits — unless it is
    `skipped` (the reason): then it is recorded, not sent."""
    return queue_emails(
        [
            {
                "key": key,
                "skipped": skipped,
                "kind": kind,
                "company_id": company_id,
                "recipient": recipient,
                "subject": subject,
                "body": body,
                "recipient_user_id": recipient_user_id,
                "order_id": order_id,
                "group_day": group_day,
            }
        ]
    ).get(key)


def queue_emails(letters: list[dict]) -> dict[str, int]:
    """`queue_email` for many rows (each a dict of its arguments) in one statement:
    {key: id} of the rows written, those whose key existed left out."""
    if not letters:
        return {}
    now = clock.now()
    pending, skipped = EmailState.PENDING.value, EmailState.SKIPPED.value
    rows = [
        {
            "key": letter["key"],
            "kind": letter["kind"],
            "company_id": letter["company_id"],
            "recipient": letter["recipient"],
            "subject": letter["subject"][:200],
            "body": letter["body"],
            "recipient_user_id": letter.get("recipient_user_id"),
            "order_id": letter.get("order_id"),
            "group_day": letter.get("group_day"),
            "state": skipped if letter.get("skipped") else pending,
            "last_error": letter["skipped"][:500] if letter.get("skipped") else None,
            "attempts": 0,
            "created_at": now,
        }
        for letter in letters
    ]
    # On the table, not the entity: one multi-row INSERT … RETURNING, where the ORM's
    # bulk path would split the rows by which of their values are NULL.
    table = Email.__table__
    written = dict(
        db.session.execute(
            insert_ignore(table, "key").returning(table.c.key, table.c.id), rows
        ).all()
    )
    dispatch_after_commit(
        *(written[row["key"]] for row in rows if row["key"] in written and row["state"] == pending)
    )
    return written


def claim(email_id: int, now: datetime) -> Email | None:
    """Take a row for sending (pending, or retrying and due) with a conditional
    update, so two workers never both send it. None if someone else has it."""
    claimed = db.session.execute(
        update(Email)
        .where(
            Email.id == email_id,
            Email.state.in_(CLAIMABLE),
            (Email.next_attempt_at.is_(None)) | (Email.next_attempt_at <= now),
        )
        .values(state=EmailState.SENDING.value, claimed_at=now, attempts=Email.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    return db.session.get(Email, email_id, populate_existing=True)


def mark_sent(email_id: int, message_id: str, now: datetime) -> None:
    _finish(
        email_id,
        state=EmailState.SENT.value,
        sent_at=now,
        message_id=message_id,
        last_error=None,
        next_attempt_at=None,
    )


def mark_transient_failure(email_id: int, error: str, now: datetime) -> str:
    """Retry later with backoff; after the last delay the row is failed."""
    attempts = db.session.scalar(select(Email.attempts).where(Email.id == email_id))
    if attempts >= len(RETRY_DELAYS):
        mark_failed(email_id, f"gave up after {attempts} attempts: {error}")
        return EmailState.FAILED.value
    _finish(
        email_id,
        state=EmailState.RETRYING.value,
        last_error=error[:500],
        next_attempt_at=now + RETRY_DELAYS[attempts - 1],
    )
    return EmailState.RETRYING.value


def mark_failed(email_id: int, error: str) -> None:
    _finish(email_id, state=EmailState.FAILED.value, last_error=error[:500], next_attempt_at=None)


def unskip(key: str, subject: str, body: str) -> int | None:
    """A skipped row — or one the worker cancelled with nothing left to say — whose
    reason went away while its step is still due: pending again, with the words of
    now, dispatched after the commit. None if the key is neither."""
    email_id = db.session.scalar(
        update(Email)
        .where(
            Email.key == key,
            Email.state.in_((EmailState.SKIPPED.value, EmailState.CANCELLED.value)),
        )
        .values(
            state=EmailState.PENDING.value,
            last_error=None,
            subject=subject[:200],
            body=body,
            next_attempt_at=None,
        )
        .returning(Email.id)
        .execution_options(synchronize_session=False)
    )
    if email_id is not None:
        dispatch_after_commit(email_id)
    return email_id


def mark_cancelled(email_id: int, why: str) -> None:
    """Nothing left to say when it was due: recorded, never sent."""
    _finish(email_id, state=EmailState.CANCELLED.value, last_error=why[:500], next_attempt_at=None)


def recover_stuck(now: datetime, after: timedelta = timedelta(minutes=10)) -> int:
    """Rows left *sending* past `after` (a worker killed mid-send): the outcome is
    unknown, so they need attention — never resent automatically."""
    return db.session.execute(
        update(Email)
        .where(Email.state == EmailState.SENDING.value, Email.claimed_at < now - after)
        .values(
            state=EmailState.NEEDS_ATTENTION.value,
            last_error="the worker stopped while sending: delivery unknown",
        )
        .execution_options(synchronize_session=False)
    ).rowcount


def mark_needs_attention(email_id: int, error: str) -> None:
    _finish(
        email_id,
        state=EmailState.NEEDS_ATTENTION.value,
        last_error=error[:500],
        next_attempt_at=None,
    )


def due_ids(now: datetime, limit: int = 1000) -> list[int]:
    """Rows waiting to be sent now: pending, or retrying and due."""
    return list(
        db.session.scalars(
            select(Email.id)
            .where(
                Email.state.in_(CLAIMABLE),
                (Email.next_attempt_at.is_(None)) | (Email.next_attempt_at <= now),
            )
            .order_by(Email.id)
            .limit(limit)
        )
    )


def retry(actor: Actor, email_ids: list[int]) -> int:
    """Send failed (or needs-attention) emails again; the admin decides. All or none."""
    rows = get_many_scoped(actor, Email, email_ids)
    stuck = [r for r in rows if r.state not in (EmailState.FAILED, EmailState.NEEDS_ATTENTION)]
    if stuck:
        raise Conflict(
            "Only failed or needs-attention emails can be retried: "
            + ", ".join(f"#{r.id} is {r.state_label.lower()}" for r in stuck)
        )
    for row in rows:
        row.state, row.next_attempt_at = EmailState.RETRYING.value, clock.now()
        dispatch_after_commit(row.id)
    db.session.flush()
    return len(rows)


def _finish(email_id: int, **values) -> None:
    db.session.execute(
        update(Email)
        .where(Email.id == email_id, Email.state == EmailState.SENDING.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
