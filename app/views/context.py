"""Who is asking and in which time zone a page shows times: per request, for the
views, their filters and templates.

`current_actor()` is the actor of this request's user (Manage Company mode from
the signed session); `display_zone()` the time zone a page shows its times in.
"""

from __future__ import annotations

from dataclasses import replace

from flask import g
from flask import session as web_session
from sqlalchemy.orm import lazyload

from app import tenancy
from app.extensions import db
from app.models import Company

# Manage Company mode lives in the signed session, never in a URL parameter.
MANAGING_KEY = "managing_company_id"


def current_actor() -> tenancy.Actor:
    """The actor for this request's user, in Manage Company mode when the signed
    session says so (checked on every request by `views.manage.check_manage_mode`).
    Cached on `g`, keyed by the user object and the managed company."""
    user = g.get("user")
    managing = web_session.get(MANAGING_KEY)
    cached = g.get("_actor")
    if cached is None or cached[0] is not user or cached[1] != managing:
        actor = tenancy.actor_for(user, "web")
        if managing and actor.may_manage_others:
            actor = replace(actor, managing_company_id=managing)
        cached = (user, managing, actor)
        g._actor = cached
    return cached[2]


def request_company(company_id: int | None) -> Company | None:
    """A company this request reads (the one in view, the manage-mode banner's, a
    list's owner), loaded once and held for the rest of the request. The session's
    identity map holds rows weakly: a company one part of a page read and let go
    (a list's annotation) was read again by the next (the banner). Its relations
    load when used, not with it (a company's parent is seldom shown)."""
    if company_id is None:
        return None
    held = g.setdefault("_companies", {})
    if company_id not in held:
        held[company_id] = db.session.get(Company, company_id, options=[lazyload("*")])
    return held[company_id]


def licenses_managed() -> str:
    """For a customer manager of a Managed company, why its license buttons are
    hidden (services/managed.py); "" for anyone else. Cached on `g`."""
    if "_licenses_managed" not in g:
        from app.services import managed

        actor = current_actor()
        g._licenses_managed = managed.refusal(actor, actor.company_in_view) or ""
    return g._licenses_managed


def show_times_in(zone_name: str) -> None:
    """This page is about one company: its times read in that company's zone (an
    order's page), not the company in view's."""
    g.display_zone = zone_name


def display_zone() -> str:
    """The time zone a page shows times in: the company the page is about when a
    view says so (`show_times_in`), else the company in view (the viewer's own, or
    the one it manages), which partner-wide lists use."""
    if "display_zone" not in g:
        in_view = request_company(current_actor().company_in_view)
        g.display_zone = in_view.timezone if in_view else "UTC"
    return g.display_zone
