"""Domain errors. Their message is written for a manager to read."""

from __future__ import annotations


class DomainError(Exception):
    """A rule refused the change; nothing was changed."""

    status = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(DomainError):
    """Bad input: a form or file value the rules do not accept."""

    status = 400


class NotFound(DomainError):
    """The object does not exist or is outside the actor's scope (never a hint which)."""

    status = 404

    def __init__(self, message: str = "Not found."):
        super().__init__(message)


class Forbidden(DomainError):
    """The actor's role may not do this at all."""

    status = 403


class Conflict(DomainError):
    """The state changed under the request (already assigned, seats gone, ...)."""

    status = 409
