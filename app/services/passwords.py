"""Passwords: one policy for every way a password is set, after NIST SP 800-63B-4
for single-factor passwords — a minimum length (15), a generous maximum (128, so
passphrases fit), no composition rules, and a blocklist: common passwords (also
with digits or symbols around them), repetitive or sequential characters, and
words of the context (the username, the email address, the panel's name).

Passwords are compared as typed after Unicode NFKC normalisation, so the same
passphrase typed on two keyboards is the same password.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from functools import cache
from pathlib import Path

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import Invalid
from app.extensions import db
from app.models import AppUser
from app.services import audit
from app.tenancy import Actor

MIN_LENGTH = 15
MAX_LENGTH = 128
# The panel's own name and words, the first guesses for any of its passwords.
CONTEXT_WORDS = ("licenserenewals", "licenserenewal", "licencerenewals", "renewals")
# Keyboard rows and runs, forwards and backwards ("qwertyuiop...", "987654321").
_RUNS = (
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "q1w2e3r4t5y6u7i8o9p0",
    "zaq1xsw2cde3vfr4bgt5nhy6mju7",
)
SEQUENCES = tuple(run * 2 for run in _RUNS) + tuple(run[::-1] * 2 for run in _RUNS)
_FRAME = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_REPEATED = re.compile(r"(.+?)\1+", re.DOTALL)


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def problem(password: str | None, *, username: str | None = None, email: str | None = None):
    """Why `password` may not be used (a sentence a manager can act on), or None."""
    text = normalise(password or "")
    if len(text) < MIN_LENGTH:
        return f"The password needs at least {MIN_LENGTH} characters: a short phrase works well."
    if len(text) > MAX_LENGTH:
        return f"The password can have at most {MAX_LENGTH} characters."
    folded = text.casefold()
    if _is_common(folded):
        return "That password is too common: choose a phrase of your own."
    if len(set(folded)) < 5 or _REPEATED.fullmatch(folded) or _is_sequence(folded):
        return "That password is too repetitive or predictable: choose a phrase of your own."
    if _has_context_word(folded, username, email):
        return "The password may not contain your username, your email address or the panel's name."
    return None


def check(password: str | None, *, username: str | None = None, email: str | None = None) -> str:
    """The password, normalised, if the policy accepts it. Raises Invalid."""
    reason = problem(password, username=username, email=email)
    if reason:
        raise Invalid(reason, "password")
    return normalise(password)


def hash_password(password: str | None, *, username=None, email=None) -> str:
    """The stored hash of a password the policy accepts. Raises Invalid."""
    accepted = check(password, username=username, email=email)
    method = current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt")
    return generate_password_hash(accepted, method=method)


def matches(user: AppUser, password: str | None) -> bool:
    return bool(password) and check_password_hash(user.password or "", normalise(password))


def change_own_password(actor: Actor, current: str, new: str) -> AppUser:
    """The signed-in manager's own password, given the current one. The caller ends
    the user's other sessions (services/sessions.py). Raises Invalid."""
    user = db.session.get(AppUser, actor.user_id)
    if user is None or not matches(user, current):
        raise Invalid("The current password is not right.", "current_password")
    if matches(user, new):
        raise Invalid("The new password is the same as the current one.", "password")
    user.password = hash_password(new, username=user.username, email=user.email)
    db.session.flush()
    audit.record(
        actor,
        "manager.password_changed",
        company_id=user.company_id,
        entity="user",
        entity_id=user.id,
    )
    return user


def _is_common(folded: str) -> bool:
    words = common_passwords()
    stripped = _FRAME.sub("", folded)
    return folded in words or stripped in words or len(stripped) < 4


def _is_sequence(folded: str) -> bool:
    return any(folded in run for run in SEQUENCES)


def _has_context_word(folded: str, username: str | None, email: str | None) -> bool:
    squeezed = re.sub(r"[\W_]+", "", folded)
    words = list(CONTEXT_WORDS)
    if email:
        words.append(email.casefold().split("@")[0])
    if username:
        words.append(username.casefold())
    return any(len(w) >= 4 and (w in folded or w in squeezed) for w in words)


@cache
def common_passwords() -> frozenset[str]:
    """20,000 common passwords (Royce Williams' list, as Django ships it: app/data)."""
    path = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt.gz"
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())
