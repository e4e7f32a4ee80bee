"""Friendly pages for 403, 404, 413, 429 and 500, inside the panel's layout."""

from __future__ import annotations

from flask import current_app, g, has_request_context, render_template
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from app.errors import DomainError
from app.extensions import db
from app.logs import request_id

MESSAGES = {
    400: ("Not accepted", "The request could not be accepted; nothing was changed."),
    409: ("Changed meanwhile", "Someone changed this meanwhile; nothing was changed."),
    403: ("Not allowed", "Your role does not give access to this page."),
    404: ("Not found", "There is nothing here, or it is not yours to see."),
    413: ("File too large", "The file is larger than the limit of {limit} MB."),
    429: ("Too many attempts", "Too many attempts: wait a minute, then try again."),
    500: ("Something went wrong", "The error was logged; nothing was changed."),
}


def error_page(status: int, message: str | None = None):
    from app.api import is_api_request, problem

    if has_request_context() and is_api_request():  # the API answers problem+json
        detail = message or MESSAGES[status][1].format(limit=_limit_mb())
        return problem(status, detail), status
    # An error can come before FAB's before_request set g.user (a 413 is raised
    # while CSRF protection reads the form); the layout's menu needs it.
    if "user" not in g:
        g.user = current_user
    title, default = MESSAGES[status]
    body = render_template(
        "error.html",
        title=title,
        message=message or default.format(limit=_limit_mb()),
        status=status,
        request_id=request_id(),
        appbuilder=current_app.appbuilder,
        base_template=current_app.appbuilder.base_template,
    )
    return body, status


def _limit_mb() -> int:
    return (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)


CSRF_MESSAGE = (
    "The form had expired or did not come from this panel, so nothing was changed: "
    "go back, reload the page and try again. (Signing in needs the session cookie: "
    "with APP_ENV=production that cookie is sent over HTTPS only — reach the panel "
    "through its https:// address.)"
)


def register_error_handlers(app) -> None:
    for status in (403, 404, 413):
        app.register_error_handler(status, lambda exc, s=status: error_page(s))

    @app.errorhandler(429)
    def too_many(exc):
        body, status = error_page(429, getattr(exc, "description", None))
        wait = getattr(exc, "retry_after", None)
        return body, status, ({"Retry-After": str(wait)} if wait else {})

    @app.errorhandler(CSRFError)
    def csrf_failure(exc: CSRFError):
        return error_page(400, CSRF_MESSAGE)

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        return error_page(exc.status if exc.status in MESSAGES else 400, exc.message)

    @app.errorhandler(500)
    def server_error(exc):
        db.session.rollback()
        return error_page(500)
