"""API keys: created by a manager for itself (or by an operator for a user),
shown once, kept as a SHA-256, found by their visible prefix, revocable by any
manager of the key's company; a key acts as its user (models/api_key.py)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import replace
from datetime import datetime, timedelta

from flask_appbuilder.security.sqla.models import Role, assoc_user_role
from sqlalchemy import Row, bindparam, or_, select, update

from app import clock
from app.errors import Forbidden, Invalid, NotFound
from app.extensions import db
from app.models import ApiKey, ApiRequest, AppUser
from app.services import audit
from app.services.validation import required_text
from app.sql import read
from app.tenancy import NOBODY, Actor, actor_for, actor_of, get_scoped, require_company

KEY_PREFIX = "lr"
SECRET_BYTES = 32
# The last use is written at most this often per key and address: a read is not a
# write on every call.
LAST_USE_EVERY = timedelta(minutes=1)


class Unauthenticated(Exception):
    """No key, or a key that opens nothing (unknown, revoked, expired, its user
    deactivated): answered 401, and the same words for each."""

    message = "A valid API key is required: send it as 'Authorization: Bearer <key>'."


def create(
    actor: Actor,
    user: AppUser,
    name: str,
    *,
    read_only: bool = False,
    limited_to: int | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key for `user` (the actor itself, or any user for the operator's CLI)
    and its text, which is never shown again."""
    if actor.user_id is not None and actor.user_id != user.id:
        raise Forbidden("A manager creates API keys for itself only.")
    as_user = actor_for(user, "api")
    if as_user.role == NOBODY:
        raise Invalid("This user has no role that may use the API.", "user")
    if limited_to is not None:
        require_company(as_user, limited_to)  # within the user's own scope
    if expires_at is not None and expires_at <= clock.real_now():
        raise Invalid("The expiry must be in the future.", "expires_at")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    text = f"{KEY_PREFIX}_{prefix}_{secret}"
    key = ApiKey(
        user_id=user.id,
        company_id=user.company_id,
        limited_to_id=limited_to,
        name=required_text(name, "name", "Name", 80),
        prefix=prefix,
        secret_hash=_digest(text),
        read_only=bool(read_only),
        created_at=clock.real_now(),
        created_by_id=actor.user_id,
        expires_at=expires_at,
    )
    db.session.add(key)
    db.session.flush()
    audit.record(
        actor,
        "api_key.created",
        company_id=user.company_id,
        entity="api_key",
        entity_id=key.id,
        after={"name": key.name, "read_only": key.read_only, "limited_to": limited_to},
    )
    return key, text


def revoke(actor: Actor, key_id) -> ApiKey:
    """Revoke a key of the actor's company (any of its managers may)."""
    key = get_scoped(actor, ApiKey, key_id)
    if key.revoked_at is None:
        key.revoked_at = clock.real_now()
        key.revoked_by_id = actor.user_id
        audit.record(
            actor,
            "api_key.revoked",
            company_id=key.company_id,
            entity="api_key",
            entity_id=key.id,
            before={"name": key.name},
        )
    return key


# The key, its user and the user's roles (a row per role), in one statement built
# once: every API call makes it.
KEY_WITH_USER = (
    select(
        ApiKey.id,
        ApiKey.secret_hash,
        ApiKey.revoked_at,
        ApiKey.expires_at,
        ApiKey.limited_to_id,
        ApiKey.read_only,
        ApiKey.name,
        ApiKey.last_used_at,
        ApiKey.last_used_from,
        AppUser.id.label("user_id"),
        AppUser.active,
        AppUser.company_id,
        Role.name.label("role"),
    )
    .join(AppUser, AppUser.id == ApiKey.user_id)
    .outerjoin(assoc_user_role, assoc_user_role.c.user_id == AppUser.id)
    .outerjoin(Role, Role.id == assoc_user_role.c.role_id)
    .where(ApiKey.prefix == bindparam("prefix"))
)


def authenticate(header: str | None, address: str | None) -> tuple[Actor, Row]:
    """The actor an `Authorization: Bearer <key>` header acts as, and the key's row
    (its id and last use); or Unauthenticated."""
    scheme, _, text = (header or "").partition(" ")
    text = text.strip()
    if scheme.lower() != "bearer" or not text:
        raise Unauthenticated()
    prefix = prefix_of(text)
    if prefix is None:
        raise Unauthenticated()
    rows = read(KEY_WITH_USER, {"prefix": prefix}).all()
    key = rows[0] if rows else None
    now = clock.real_now()
    if (
        key is None
        or not hmac.compare_digest(key.secret_hash, _digest(text))
        or key.revoked_at is not None
        or (key.expires_at is not None and key.expires_at <= now)
    ):
        raise Unauthenticated()
    roles = {row.role for row in rows if row.role}
    actor = actor_of(key.user_id, key.company_id, roles, key.active, "api")
    if actor.role == NOBODY:  # deactivated, or its role taken away
        raise Unauthenticated()
    return (
        replace(actor, limited_to=key.limited_to_id, read_only=key.read_only, via=key.name),
        key,
    )


def prefix_of(text: str) -> str | None:
    """The visible prefix of a key (`lr_<prefix>_<secret>`), or of a Bearer header."""
    parts = text.strip().rpartition(" ")[2].split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1]:
        return None
    return parts[1][:16]


def user_named(username: str) -> AppUser:
    user = db.session.scalar(select(AppUser).where(AppUser.username == username))
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    return user


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def record_use(key_id: int, address: str | None) -> None:
    """The key's last use (time, address), written at most once a minute per address:
    a read is not a write on every call."""
    now = clock.real_now()
    address = (address or "")[:64] or None
    db.session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(
                ApiKey.last_used_at.is_(None),
                ApiKey.last_used_at <= now - LAST_USE_EVERY,
                ApiKey.last_used_from.is_distinct_from(address),
            ),
        )
        .values(last_used_at=now, last_used_from=address)
        .execution_options(synchronize_session=False)
    )


def needs_use_recorded(key: Row, address: str | None) -> bool:
    address = (address or "")[:64] or None
    return (
        key.last_used_at is None
        or clock.real_now() - key.last_used_at >= LAST_USE_EVERY
        or key.last_used_from != address
    )


def replayed(key_id: int, idempotency_key: str) -> ApiRequest | None:
    """The answer kept for a change sent before with this Idempotency-Key."""
    return db.session.scalar(
        select(ApiRequest).where(
            ApiRequest.api_key_id == key_id, ApiRequest.idempotency_key == idempotency_key
        )
    )


def remember(key_id: int, idempotency_key: str, request: dict, status: int, body, fingerprint: str):
    """Keep a change's answer (in its transaction: kept only if the change is).
    `request`: its method and path; `fingerprint`: a digest of what it sent."""
    db.session.add(
        ApiRequest(
            api_key_id=key_id,
            idempotency_key=idempotency_key,
            method=request["method"],
            path=request["path"],
            fingerprint=fingerprint,
            status=status,
            body=body,
            created_at=clock.real_now(),
        )
    )
    db.session.flush()
