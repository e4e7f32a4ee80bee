"""Sign-in sessions kept on the server (models/user.py, UserSession).

The browser's cookie holds a random token; the database holds its SHA-256. Every
request loads the user through its open session in one statement, so a session
ended here — signed out, signed out everywhere, a password changed, a manager
deactivated, or older than SESSION_HOURS — opens nothing from then on, whatever
copy of the cookie is presented.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import joinedload

from app import clock
from app.extensions import db
from app.models import AppUser, UserSession
from app.services import audit
from app.tenancy import Actor

SIGNED_OUT = "signed out"
EVERYWHERE = "signed out everywhere"
PASSWORD_CHANGED = "password changed"
DEACTIVATED = "deactivated"


def start(user: AppUser, address: str | None = None) -> str:
    """Open a session for `user`; returns the token for its cookie (also set on the
    user, whose `get_id()` Flask-Login stores)."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            user_id=user.id,
            token_hash=_digest(token),
            started_at=clock.real_now(),
            address=(address or "")[:45] or None,
        )
    )
    db.session.flush()
    user.session_token = token
    return token


# The signed-in user's statement, built once (each request binds its values).
_USER_BY_SESSION = (
    select(AppUser)
    .join(UserSession, UserSession.user_id == AppUser.id)
    .where(
        UserSession.token_hash == bindparam("token_hash"),
        UserSession.ended_at.is_(None),
        UserSession.started_at > bindparam("oldest", type_=UserSession.started_at.type),
        AppUser.active,
    )
    .options(joinedload(AppUser.roles), joinedload(AppUser.groups))
)


def user_for(token: str | None) -> AppUser | None:
    """The active user whose open, unexpired session `token` names (one statement:
    the user, its company, its roles, its groups — FAB reads the groups' roles on
    every permission check — and its session), or None."""
    if not token:
        return None
    user = (
        db.session.scalars(
            _USER_BY_SESSION,
            {"token_hash": _digest(token), "oldest": _oldest_open(clock.real_now())},
        )
        .unique()
        .first()
    )
    if user is not None:
        user.session_token = token
    return user


def end(token: str | None, reason: str = SIGNED_OUT) -> None:
    if token:
        _end(UserSession.token_hash == _digest(token), reason)


def end_all(user_ids: list[int], reason: str) -> None:
    """End every open session of these users (their browsers are signed out)."""
    if user_ids:
        _end(UserSession.user_id.in_(user_ids), reason)


def sign_out_everywhere(actor: Actor) -> None:
    """The actor's own sessions, on every browser, this one included; audited."""
    user = db.session.get(AppUser, actor.user_id)
    end_all([user.id], EVERYWHERE)
    audit.record(
        actor,
        "manager.signed_out_everywhere",
        company_id=user.company_id,
        entity="user",
        entity_id=user.id,
    )


def discard_stale(at: datetime) -> int:
    """Delete sessions ended or expired more than a day ago (the periodic clean-up)."""
    cutoff = at - timedelta(days=1)
    result = db.session.execute(
        delete(UserSession).where(
            or_(UserSession.ended_at < cutoff, UserSession.started_at < _oldest_open(cutoff))
        )
    )
    return result.rowcount


def _end(condition, reason: str) -> None:
    db.session.execute(
        update(UserSession)
        .where(condition, UserSession.ended_at.is_(None))
        .values(ended_at=clock.real_now(), ended_reason=reason)
    )


def _oldest_open(at: datetime) -> datetime:
    return at - timedelta(hours=float(current_app.config.get("SESSION_HOURS", 12)))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
