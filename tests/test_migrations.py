"""Migrations: one head, and a database upgraded from empty matches the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.extensions import db


def test_migrations_have_a_single_head(app):
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_the_migrated_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        assert compare_metadata(context, db.metadata) == []


def test_the_roles_exist_after_migrating(app, session):
    from flask_appbuilder.security.sqla.models import Role

    names = {r.name for r in session.query(Role)}
    assert {"Admin", "Account Manager", "Customer Manager", "Public"} <= names


def test_foreign_keys_are_enforced_on_both_databases(app, session):
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    # SQLite only enforces them with PRAGMA foreign_keys, set on every connection.
    with pytest.raises(IntegrityError):
        session.execute(
            text(
                "INSERT INTO learners (company_id, email, first_name, last_name, active,"
                " created_at) VALUES (999999, 'a@b.com', 'A', 'B', true, '2026-01-01')"
            )
        )
        session.flush()
