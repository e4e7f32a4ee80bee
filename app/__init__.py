"""The application factory."""

from __future__ import annotations

import os

from flask import Flask
from flask_appbuilder import AppBuilder

from app import config as settings
from app import display
from app.extensions import csrf, db, mail, migrate
from app.jobs.dispatch import register_outbox_dispatch
from app.sql import configure_engine
from app.transaction import register_unit_of_work


def create_app(config: dict | None = None) -> Flask:
    """Build the app: settings from the environment, then `config` overrides."""
    app = Flask(__name__)
    app.config.update(settings.from_env(app.instance_path))
    app.config.update(config or {})
    register_extensions(app)
    display.register(app)
    with app.app_context():
        appbuilder = AppBuilder(update_perms=False)
        appbuilder.init_app(app, db.session)
        from app.views import register_views

        register_views(appbuilder)
    register_sign_in(app)
    register_manage_mode(app)
    register_error_handlers(app)
    register_operations(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (every table on the metadata)

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    register_unit_of_work()
    register_outbox_dispatch()
    migrate.init_app(
        app,
        db,
        directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
        render_as_batch=True,
    )
    mail.init_app(app)
    csrf.init_app(app)


def register_sign_in(app: Flask) -> None:
    """The failed-sign-in throttle, the password policy in FAB's own password forms,
    and the client address behind TRUSTED_PROXIES reverse proxies."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from app.security import password_policy
    from app.throttle import SignInThrottle

    if app.config["LOGIN_THROTTLE"]:
        app.extensions["signin_throttle"] = SignInThrottle(
            app.config["LOGIN_RATE_LIMIT"], app.config["LOGIN_THROTTLE_STORAGE"]
        )
    app.config["FAB_PASSWORD_COMPLEXITY_VALIDATOR"] = password_policy
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)


def register_manage_mode(app: Flask) -> None:
    from app.views.manage import banner_context, check_manage_mode

    app.before_request(check_manage_mode)  # after FAB's, which loads g.user
    app.context_processor(banner_context)


def register_error_handlers(app: Flask) -> None:
    from app.views.errors import register_error_handlers as register

    register(app)


def register_operations(app: Flask) -> None:
    """Request ids and one log line per request; security headers; bad input
    refused before any view; the /health endpoints and the Upgrade Now page."""
    from app.headers import register_security_headers
    from app.logs import register_request_logging
    from app.views import health, request_checks, upgrade

    register_request_logging(app)
    register_security_headers(app)
    request_checks.register(app, app.appbuilder.baseviews)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(upgrade.blueprint)
    register_api(app)


def register_api(app: Flask) -> None:
    """The REST API: keys, not sessions, so no CSRF token (app/api)."""
    from app.api import blueprint
    from app.throttle import ApiRateLimit

    app.extensions["api_rate_limit"] = ApiRateLimit(
        app.config["API_RATE_LIMIT"], app.config["LOGIN_THROTTLE_STORAGE"]
    )
    csrf.exempt(blueprint)
    app.register_blueprint(blueprint)


def register_cli(app: Flask) -> None:
    from app.cli import register_commands

    register_commands(app)
