"""Business rules. Functions take an explicit actor and ids, flush (never commit),
and raise `app.errors.DomainError` subclasses with readable messages."""
