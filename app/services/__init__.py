"""Business rules. Functions take an explicit actor and ids, flush (never commit),
and raise `app.services.errors.DomainError` subclasses with readable messages."""
