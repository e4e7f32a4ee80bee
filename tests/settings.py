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
        "RATELIMIT_ENABLED": False,
        "MAIL_SUPPRESS_SEND": True,
        "REDIS_URL": None,
        "BASE_URL": "http://panel.test",
        "APP_ENV": "test",
        "UPLOAD_FOLDER": tempfile.mkdtemp(prefix="licpanel-uploads-"),
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
