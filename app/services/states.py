"""License states, derived, never stored: a person's license is active until
`Learner.license_expires_at` (the expiry of their latest license; NULL when never
licensed or taken back) and expired from that instant on, in every query, against
the application's clock — whether or not any background job ran."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_

from app.models import Learner

EXPIRING_WINDOW = timedelta(days=30)


def is_active(now: datetime):
    return Learner.license_expires_at > now


def is_expired(now: datetime):
    return Learner.license_expires_at <= now


def is_unlicensed():
    return Learner.license_expires_at.is_(None)


def is_expiring(now: datetime, window: timedelta = EXPIRING_WINDOW):
    """Active, and ending within `window` (the Expiring tab's 30 days by default)."""
    return ends_between(now, now + window)


def ends_between(start, end):
    """The license ends after `start`, by `end` (values or a statement's parameters)."""
    return and_(Learner.license_expires_at > start, Learner.license_expires_at <= end)


def needs_license(now: datetime):
    """Who may get a seat: active learners with no active license."""
    return and_(Learner.active, (Learner.license_expires_at.is_(None)) | is_expired(now))


# The license tabs' people (Allocated, Expiring, Expired, Unlicensed): the screens'
# base filters and the API's `tab`.
TABS = {
    "allocated": is_active,
    "expiring": is_expiring,
    "expired": lambda now: and_(is_expired(now), Learner.active),
    "unlicensed": lambda now: and_(is_unlicensed(), Learner.active),
}
