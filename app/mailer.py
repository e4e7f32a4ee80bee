"""SMTP at the edge: send one outbox row through Flask-Mail's connection, telling
apart the failures the outbox treats differently.

The SMTP conversation is driven phase by phase so that a connection lost *after*
the message was handed over (outcome unknown: it may have been delivered) is not
mistaken for one lost before (safe to retry).
"""

from __future__ import annotations

import re
import smtplib
from email.utils import make_msgid

from flask import current_app
from flask_mail import Message

from app.extensions import mail


class MailError(Exception):
    """Base for the delivery outcomes that are not "sent"."""


class TransientMailError(MailError):
    """Not delivered; try again later (refused connection, 4xx)."""


class PermanentMailError(MailError):
    """Not delivered and never will be (5xx)."""


class UnknownOutcomeError(MailError):
    """The connection dropped after the message was handed over: maybe delivered."""


def configured() -> bool:
    """A mail server is set up and sending is not suppressed (Flask-Mail's TESTING)."""
    state = current_app.extensions["mail"]
    return bool(current_app.config.get("MAIL_SERVER")) and not state.suppress


def send(recipient: str, subject: str, body: str) -> str:
    """Deliver one message; returns its Message-ID or raises a MailError."""
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    message_id = make_msgid(domain=_domain(sender))
    message = Message(
        subject=subject,
        recipients=[recipient],
        body=body,
        sender=sender,
    )
    message.msgId = message_id
    payload = _dot_stuffed(message.as_bytes())
    try:
        smtp = mail.connect().configure_host()  # Flask-Mail's settings: TLS, SSL, login
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise TransientMailError(f"{type(exc).__name__}: {exc}") from exc
    try:
        _converse(smtp, sender, recipient, payload)
    except MailError:
        raise
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise TransientMailError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        _hang_up(smtp)
    return message_id


def _hang_up(smtp: smtplib.SMTP) -> None:
    """QUIT politely; a connection that is already gone must not mask the outcome."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _converse(smtp: smtplib.SMTP, sender: str, recipient: str, payload: bytes) -> None:
    smtp.ehlo_or_helo_if_needed()
    _expect(smtp.mail(sender), {250})
    _expect(smtp.rcpt(recipient), {250, 251})
    smtp.putcmd("data")
    _expect(smtp.getreply(), {354})
    smtp.send(payload)  # handed over: from here on a lost connection is unknown
    try:
        reply = smtp.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise UnknownOutcomeError(f"connection lost after the message was sent: {exc}") from exc
    _expect(reply, {250})


def _expect(reply: tuple[int, bytes], accepted: set[int]) -> None:
    code, text = reply
    if code in accepted:
        return
    detail = f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    if 500 <= code < 600:
        raise PermanentMailError(detail)
    raise TransientMailError(detail)


def _dot_stuffed(raw: bytes) -> bytes:
    data = re.sub(rb"\r\n|\n|\r", b"\r\n", raw)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _domain(sender: str) -> str:
    return sender.rsplit("@", 1)[-1].strip(">") or "localhost"
