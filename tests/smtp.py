"""A real SMTP server on loopback (aiosmtpd) that records what it receives and can
be told to refuse, fail or drop the connection after the data, for the outbox tests."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message

from aiosmtpd.controller import Controller

from tests.servers import free_port


@dataclass
class Mailbox:
    """What the server received, and how it should answer the next DATA."""

    messages: list[Message] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)  # e.g. "451 try later"
    drop_after_data: int = 0  # drop the connection (no reply) this many times
    delay: float = 0.0  # seconds to wait before answering each DATA (a slow server)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in m["To"]]

    def subjects(self) -> list[str]:
        return [m["Subject"] for m in self.messages]


class RecordingHandler:
    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):
        if self.mailbox.delay:
            await asyncio.sleep(self.mailbox.delay)
        with self.mailbox.lock:
            if self.mailbox.drop_after_data:
                self.mailbox.drop_after_data -= 1
                server.transport.abort()
                return "250 never seen"
            if self.mailbox.data_replies:
                return self.mailbox.data_replies.pop(0)
            # Headers decoded (an en dash in a subject reads as one, not RFC 2047).
            self.mailbox.messages.append(
                message_from_bytes(envelope.content, policy=policy.default)
            )
        return "250 OK queued"


class SmtpServer:
    def __init__(self):
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = Controller(
            RecordingHandler(self.mailbox), hostname="127.0.0.1", port=self.port
        )

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def config(self) -> dict:
        return {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": self.port,
            "MAIL_SUPPRESS_SEND": False,
            "MAIL_USE_TLS": False,
            "MAIL_USE_SSL": False,
        }
