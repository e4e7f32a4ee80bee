"""Settings, read from the environment when the app is built (never at import)."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from pathlib import Path

from app.logs import log_format
from app.roles import FAB_ROLES, ROLE_ADMIN


def _flag(environ, name: str, default: bool) -> bool:
    value = environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def database_url(environ, instance_path: Path) -> str:
    """DATABASE_URL, defaulting to an SQLite file under instance/.

    `postgres://` and `postgresql://` are read with the psycopg 3 driver.
    """
    url = environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'licenses.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def secret_key(environ, instance_path: Path) -> str:
    """SECRET_KEY from the environment; else generated once under instance/ (0600),
    in production too, so that `APP_ENV=production make run` works on one machine.
    Several hosts serving one panel must share a SECRET_KEY."""
    key = environ.get("SECRET_KEY")
    if key:
        return key
    path = instance_path / "secret_key"
    if not path.exists():
        # Written aside, then linked into place: processes starting together never
        # read a half-written key, and the first one's key wins.
        instance_path.mkdir(parents=True, exist_ok=True)
        draft = instance_path / f".secret_key.{os.getpid()}"
        draft.touch(mode=0o600)
        draft.write_text(secrets.token_hex(32))
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it, or set SECRET_KEY")
    return key


def base_url(environ) -> str:
    """BASE_URL, or where `make run` serves: HOST and PORT, with the machine's host
    name when it listens on every interface (0.0.0.0 is no address for a link)."""
    explicit = environ.get("BASE_URL")
    if explicit:
        return explicit.rstrip("/")
    host = environ.get("HOST") or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):
        host = socket.getfqdn()
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{environ.get('PORT') or '5000'}"


def from_env(instance_path: str | os.PathLike, environ=None) -> dict:
    """Every setting the app reads, as a dict for `app.config.update`."""
    environ = os.environ if environ is None else environ
    instance = Path(instance_path)
    production = environ.get("APP_ENV", "development") == "production"
    redis_url = environ.get("REDIS_URL") or None
    return {
        "APP_ENV": "production" if production else environ.get("APP_ENV", "development"),
        "APP_NAME": "License Renewals",
        "SECRET_KEY": secret_key(environ, instance),
        "SQLALCHEMY_DATABASE_URI": database_url(environ, instance),
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "REDIS_URL": redis_url,
        "EMBEDDED_QUEUE": _flag(environ, "EMBEDDED_QUEUE", False),
        "RQ_QUEUE": environ.get("RQ_QUEUE", "default"),
        # How often the scheduler looks for due periodic jobs; outside production,
        # SCHEDULE_EVERY_SECONDS runs every periodic job that often (tests, demos).
        "SCHEDULER_TICK_SECONDS": float(environ.get("SCHEDULER_TICK_SECONDS") or 10),
        "SCHEDULE_EVERY_SECONDS": float(environ.get("SCHEDULE_EVERY_SECONDS") or 0),
        "BASE_URL": base_url(environ),
        # Background health: how often workers and schedulers write their heartbeat,
        # and after how long without one the worker counts as not running.
        "HEARTBEAT_SECONDS": float(environ.get("HEARTBEAT_SECONDS") or 30),
        "WORKER_STALE_SECONDS": float(environ.get("WORKER_STALE_SECONDS") or 300),
        "LOG_FORMAT": log_format(environ),
        # Flask-Mail. With no MAIL_SERVER, emails stay in the outbox (see README).
        "MAIL_SERVER": environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(environ.get("MAIL_PORT") or 25),
        "MAIL_USE_TLS": _flag(environ, "MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _flag(environ, "MAIL_USE_SSL", False),
        "MAIL_USERNAME": environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": environ.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": environ.get("MAIL_DEFAULT_SENDER", "licenses@localhost"),
        # Flask-AppBuilder. Start-up never writes to the database: the schema comes
        # from migrations and roles are data (FAB_ROLES), see stack.md.
        "FAB_CREATE_DB": _flag(environ, "FAB_CREATE_DB", False),
        "FAB_UPDATE_PERMS": _flag(environ, "FAB_UPDATE_PERMS", False),
        "FAB_ROLES": FAB_ROLES,
        "AUTH_ROLE_ADMIN": ROLE_ADMIN,
        "AUTH_ROLE_PUBLIC": "Public",
        "AUTH_TYPE": 1,  # AUTH_DB
        "AUTH_USER_REGISTRATION": False,
        "FAB_ADD_SECURITY_API": False,
        "FAB_API_SWAGGER_UI": False,
        "FAB_SECURITY_MANAGER_CLASS": "app.security.AppSecurityManager",
        "FAB_INDEX_VIEW": "app.views.dashboard.DashboardView",
        "FAB_BASE_TEMPLATE": "layout.html",
        "FAB_PASSWORD_HASH_METHOD": environ.get("PASSWORD_HASH_METHOD", "scrypt"),
        # Security defaults.
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        # Secure cookies in production (and whenever BASE_URL is https): production
        # runs behind TLS; over plain HTTP its sign-in fails, by design, with a page
        # that says so (views/errors.py). Browsers accept them on localhost.
        "SESSION_COOKIE_SECURE": _flag(
            environ,
            "SESSION_COOKIE_SECURE",
            production or base_url(environ).startswith("https://"),
        ),
        "STRICT_TRANSPORT_SECURITY": production,
        "MAX_CONTENT_LENGTH": int(environ.get("MAX_UPLOAD_MB") or 20) * 1024 * 1024,
        # Sign-in: failures throttled per username and per client address (app/throttle.py;
        # FAB's own limiter counts every attempt, so it stays off); sessions on the
        # server, ending after SESSION_HOURS; the client address through at most
        # TRUSTED_PROXIES reverse proxies' X-Forwarded-For (never trusted blindly).
        "AUTH_RATE_LIMITED": False,
        "RATELIMIT_ENABLED": False,
        "LOGIN_THROTTLE": _flag(environ, "LOGIN_THROTTLE", True),
        "LOGIN_RATE_LIMIT": environ.get("LOGIN_RATE_LIMIT") or "10 per 20 second; 100 per day",
        "LOGIN_THROTTLE_STORAGE": redis_url or "memory://",  # the API's limit counts too
        # Calls per API key (app/api), answered 429 with Retry-After beyond it.
        "API_RATE_LIMIT": environ.get("API_RATE_LIMIT") or "600 per minute",
        # Webhook deliveries (services/webhooks.py): each attempt's timeout; receivers
        # on loopback, private or link-local addresses only when allowed, and never
        # in production.
        "WEBHOOK_TIMEOUT_SECONDS": float(environ.get("WEBHOOK_TIMEOUT_SECONDS") or 10),
        "WEBHOOKS_ALLOW_PRIVATE": not production
        and _flag(environ, "WEBHOOKS_ALLOW_PRIVATE", False),
        "TRUSTED_PROXIES": int(environ.get("TRUSTED_PROXIES") or 0),
        "SESSION_HOURS": float(environ.get("SESSION_HOURS") or 12),
        "FAB_PASSWORD_COMPLEXITY_ENABLED": True,
        # Business settings.
        "ORDER_MAX_QUANTITY": int(environ.get("ORDER_MAX_QUANTITY") or 10_000),
        # Each license type's term (services/terms.py): Premium's is LICENSE_TERM_MONTHS.
        "LICENSE_TERM_MONTHS": int(environ.get("LICENSE_TERM_MONTHS") or 12),
        "MANAGED_TERM_MONTHS": int(environ.get("MANAGED_TERM_MONTHS") or 12),
        "NFR_TERM_MONTHS": int(environ.get("NFR_TERM_MONTHS") or 12),
        "TRIAL_TERM_DAYS": int(environ.get("TRIAL_TERM_DAYS") or 30),
        # NFR seats every partner and sub-partner holds for its own staff (0: none).
        "NFR_GRANT_SEATS": int(environ.get("NFR_GRANT_SEATS") or 10),
        # Request renewals (Renewals) also takes people expired within these days.
        "RENEWAL_EXPIRED_DAYS": int(environ.get("RENEWAL_EXPIRED_DAYS") or 90),
        "IMPORT_MAX_ROWS": int(environ.get("IMPORT_MAX_ROWS") or 200_000),
        "UPLOAD_FOLDER": environ.get("UPLOAD_FOLDER") or str(instance / "uploads"),
    }
