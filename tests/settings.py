"""Test settings and the throwaway databases each run uses."""

from __future__ import annotations

import os
import tempfile
import uuid

import psycopg

PG_ADMIN_DSN = os.environ.get(
    "TEST_PG_ADMIN_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)
PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1:5432")
PG_USER = os.environ.get("TEST_PG_USER", "postgres")


def make_config(database_url: str, **overrides) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "LOGIN_THROTTLE": False,
        "MAIL_SUPPRESS_SEND": True,
        "REDIS_URL": None,
        "BASE_URL": "http://panel.test",
        "APP_ENV": "test",
        "UPLOAD_FOLDER": tempfile.mkdtemp(prefix="licpanel-uploads-"),
        # No NFR grants by default, so a test's partners hold only the seats it gives
        # them; tests/services/test_nfr_grants.py turns them on.
        "NFR_GRANT_SEATS": 0,
        # Webhook receivers in tests listen on loopback (tests/receiver.py);
        # tests/services/test_webhooks.py checks the production refusal.
        "WEBHOOKS_ALLOW_PRIVATE": True,
        "WEBHOOK_TIMEOUT_SECONDS": 2,
    }
    config.update(overrides)
    return config


def create_pg_database(prefix: str = "licpanel_test") -> tuple[str, str]:
    """Create an empty PostgreSQL database; returns (name, SQLAlchemy URL)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://{PG_USER}@{PG_HOST}/{name}"


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# The machine's Redis; each test or run uses queue names of its own on it.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def new_queue(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def drop_queue(name: str) -> None:
    """Delete every key of queue `name` (its jobs, registries, scheduler keys)."""
    from redis import Redis

    redis = Redis.from_url(REDIS_URL)
    for key in redis.scan_iter(f"*{name}*"):
        redis.delete(key)


# A scheduler that ticks, plans and beats fast enough for a test to watch.
FAST_TICKS = {"SCHEDULER_TICK_SECONDS": 0.3, "SCHEDULE_EVERY_SECONDS": 1, "HEARTBEAT_SECONDS": 0.5}


def worker_environment(
    database_url: str, queue: str, smtp_port: int | None = None, **settings
) -> dict[str, str]:
    """worker.py's environment: that database, that queue on the machine's Redis,
    mail to a loopback server on `smtp_port`, and any further settings."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "RQ_QUEUE": queue,
        "SECRET_KEY": "worker-test",
        "APP_ENV": "test",
        "WEBHOOKS_ALLOW_PRIVATE": "1",  # receivers on loopback, as in make_config
        "WEBHOOK_TIMEOUT_SECONDS": "2",
    }
    if smtp_port is not None:
        env.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp_port))
    env.update({name: str(value) for name, value in settings.items()})
    return env
