"""Sending outbox rows. A row is claimed (committed) before SMTP is called and
marked after, so no key is ever sent twice, whatever retries or restarts happen."""

from __future__ import annotations

import logging

from app import clock, mailer
from app.services import emails, reminders
from app.transaction import transaction

log = logging.getLogger(__name__)


def send_email(email_id: int) -> str:
    """Send one row; returns its new state ("outbox" when no mail server is set up,
    "skipped" when it is not claimable: already sent, taken, or not due)."""
    if not mailer.configured():
        return "outbox"
    with transaction():
        row = emails.claim(email_id, clock.now())
        message = _message(row) if row else None
        if row and message is None:
            emails.mark_cancelled(
                email_id,
                "not sent: nothing left to say when it was due — the licenses were "
                "renewed, taken back or their learners deactivated, or its step was "
                "over (the next one was due)",
            )
            return "cancelled"
    if message is None:
        return "skipped"
    try:
        message_id = mailer.send(*message)
    except mailer.TransientMailError as exc:
        with transaction():
            return emails.mark_transient_failure(email_id, str(exc), clock.now())
    except mailer.PermanentMailError as exc:
        with transaction():
            emails.mark_failed(email_id, str(exc))
        return "failed"
    except mailer.UnknownOutcomeError as exc:
        with transaction():
            emails.mark_needs_attention(email_id, str(exc))
        return "needs_attention"
    with transaction():
        emails.mark_sent(email_id, message_id, clock.now())
    return "sent"


def _message(row) -> tuple[str, str, str] | None:
    """What to send: expiry emails are re-read at sending time, so a renewal between
    planning and sending leaves no stale email (None: nothing left to say)."""
    if reminders.is_step_email(row):
        body = reminders.current_body(row)
        return (row.recipient, row.subject, body) if body else None
    return row.recipient, row.subject, row.body


def send_due() -> dict[str, int]:
    """Send every due row in this process (operators: `flask emails send-due`)."""
    with transaction():
        ids = emails.due_ids(clock.now())
    outcomes: dict[str, int] = {}
    for email_id in ids:
        state = send_email(email_id)
        outcomes[state] = outcomes.get(state, 0) + 1
    return outcomes
