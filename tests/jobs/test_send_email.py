"""Sending outbox rows through a real SMTP server on loopback: every row ends sent,
retrying (then failed), failed, or needs attention — and none is sent twice."""

from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.jobs.emails import send_due, send_email
from app.models import Email
from app.services.emails import RETRY_DELAYS, claim, queue_email


def outbox_row(session, tree, key="k", recipient="manager@example.com"):
    email_id = queue_email(
        key=key,
        kind="order_requested",
        company_id=tree.customer.id,
        recipient=recipient,
        subject="License Request Notification",
        body="Hello.\n.line starting with a dot\nBye.",
    )
    session.commit()
    return email_id


def state(session, email_id):
    session.expire_all()
    return session.get(Email, email_id)


def test_a_row_is_sent_once_and_marked_sent(tree, session, smtp):
    email_id = outbox_row(session, tree)
    assert send_email(email_id) == "sent"
    assert send_email(email_id) == "skipped"
    (message,) = smtp.to("manager@example.com")
    assert message["Subject"] == "License Request Notification"
    assert ".line starting with a dot" in message.get_payload()
    row = state(session, email_id)
    assert (row.state, row.attempts) == ("sent", 1)
    assert row.message_id == message["Message-ID"] and row.sent_at is not None


def test_without_a_mail_server_rows_stay_in_the_outbox(tree, session):
    email_id = outbox_row(session, tree)
    assert send_email(email_id) == "outbox"
    assert state(session, email_id).state == "pending"


def test_a_4xx_reply_retries_later_with_backoff_then_sends(tree, session, smtp):
    smtp.data_replies.append("451 4.3.0 Try again later")
    email_id = outbox_row(session, tree)
    assert send_email(email_id) == "retrying"
    row = state(session, email_id)
    assert "451" in row.last_error
    assert row.next_attempt_at - clock.now() > RETRY_DELAYS[0] - timedelta(seconds=5)
    assert send_email(email_id) == "skipped"  # not due yet
    row.next_attempt_at = clock.now()
    session.commit()
    assert send_email(email_id) == "sent"
    assert len(smtp.to("manager@example.com")) == 1
    assert state(session, email_id).attempts == 2


def test_a_5xx_reply_fails_the_row_with_the_error(tree, session, smtp):
    smtp.data_replies.append("550 5.1.1 No such mailbox")
    email_id = outbox_row(session, tree)
    assert send_email(email_id) == "failed"
    row = state(session, email_id)
    assert row.state == "failed" and "550" in row.last_error
    assert smtp.messages == []


def test_a_refused_connection_retries(tree, session, app):
    app.config["MAIL_SERVER"] = "127.0.0.1"
    mail_state = app.extensions["mail"]
    saved = (mail_state.server, mail_state.port, mail_state.suppress)
    # Nothing listens on port 1.
    mail_state.server, mail_state.port, mail_state.suppress = "127.0.0.1", 1, False
    try:
        email_id = outbox_row(session, tree)
        assert send_email(email_id) == "retrying"
        assert "Connection refused" in state(session, email_id).last_error
    finally:
        mail_state.server, mail_state.port, mail_state.suppress = saved
        app.config["MAIL_SERVER"] = None


def test_a_connection_dropped_after_the_data_needs_attention_and_is_not_resent(tree, session, smtp):
    smtp.drop_after_data = 1
    email_id = outbox_row(session, tree)
    assert send_email(email_id) == "needs_attention"
    row = state(session, email_id)
    assert row.state == "needs_attention" and "after the message was sent" in row.last_error
    assert send_email(email_id) == "skipped"
    assert send_due() == {}


def test_retries_end_in_failed_after_the_last_delay(tree, session, smtp):
    email_id = outbox_row(session, tree)
    for _ in RETRY_DELAYS:
        smtp.data_replies.append("421 busy")
    outcomes = []
    for _ in RETRY_DELAYS:
        session.execute(
            Email.__table__.update().where(Email.id == email_id).values(next_attempt_at=None)
        )
        session.commit()
        outcomes.append(send_email(email_id))
    assert outcomes[-1] == "failed" and set(outcomes[:-1]) == {"retrying"}
    assert "gave up after 5 attempts" in state(session, email_id).last_error


def test_two_claims_of_one_row_give_it_to_one_sender(tree, session):
    email_id = outbox_row(session, tree)
    assert claim(email_id, clock.now()) is not None
    assert claim(email_id, clock.now()) is None


def test_send_due_sends_every_pending_row(tree, session, smtp):
    ids = [outbox_row(session, tree, key=f"k{i}", recipient=f"m{i}@example.com") for i in range(3)]
    assert send_due() == {"sent": 3}
    assert {state(session, i).state for i in ids} == {"sent"}
    assert session.scalars(select(Email.state)).all() == ["sent"] * 3
