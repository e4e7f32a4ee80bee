"""Upgrade Now: the page a Free Trial email links to (no login).

Opening the link only reads (mail scanners open links): the page names the company
and the seats, and only its *Upgrade Now* button's POST (with its CSRF token) uses
the link's single-use token to request Premium licenses (services/trials.py).
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from app.errors import DomainError
from app.services import trials
from app.transaction import transaction

blueprint = Blueprint("upgrade", __name__)


def _page(offer: trials.Offer, *, done=None, message: str | None = None, status: int = 200):
    response = render_template(
        "upgrade.html",
        offer=offer,
        done=done,
        message=message or offer.refusal,
        appbuilder=current_app.appbuilder,
        base_template=current_app.appbuilder.base_template,
        title="Upgrade Now",
    )
    return response, (404 if offer.company is None else status), _PRIVATE


# The token is in the address: never sent on to other sites, never cached or indexed.
_PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


@blueprint.get("/upgrade/<token>")
def show(token: str):
    return _page(trials.offer(token))


@blueprint.post("/upgrade/<token>")
def confirm(token: str):
    try:
        with transaction():
            order = trials.request_upgrade(token)
    except DomainError as exc:
        return _page(trials.offer(token), message=exc.message, status=409)
    return _page(trials.offer(token), done=order)
