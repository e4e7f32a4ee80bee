"""Migrations: one head, and a database upgraded from empty matches the models."""

import pytest
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


@pytest.mark.postgresql_only
def test_postgresql_runs_the_figures_unions_without_parallel_workers(app, session):
    """A seat position's figures are a UNION ALL of small indexed reads, which
    PostgreSQL ran in parallel workers (~10 ms to start them for ~2 ms of work)."""
    from sqlalchemy import text

    assert session.execute(text("SHOW enable_parallel_append")).scalar() == "off"


def test_upgrading_a_database_that_holds_licenses_keeps_every_row(db_kind, tmp_path):
    """The revisions after 0010 rebuild `orders` and `licenses` on SQLite (batch mode):
    a database in use — orders with licenses, emails about them — upgrades with every
    row and reference intact."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from app import create_app
    from tests.settings import create_pg_database, drop_pg_database, make_config

    pg_name = None
    if db_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'upgrade.db'}"
    else:
        pg_name, url = create_pg_database("licpanel_upgrade")
    app = create_app(make_config(url))
    try:
        with app.app_context():
            upgrade(revision="0010_user_sessions")
            with db.engine.begin() as conn:
                for statement in (
                    "INSERT INTO companies (id, name, kind, timezone, auto_license, created_at)"
                    " VALUES (1, 'P', 'partner', 'UTC', true, '2026-01-01')",
                    "INSERT INTO company_tree (ancestor_id, descendant_id, depth) VALUES (1, 1, 0)",
                    "INSERT INTO learners (id, company_id, email, first_name, last_name, active,"
                    " created_at, license_expires_at) VALUES (1, 1, 'a@p.example.com', 'A', 'B',"
                    " true, '2026-01-01', '2027-01-01')",
                    "INSERT INTO orders (id, company_id, quantity, allocated, status,"
                    " requested_at, assigned_at, expires_at, expires_on) VALUES (1, 1, 5, 1,"
                    " 'assigned', '2026-01-01', '2026-01-01', '2027-01-01', '2027-01-01')",
                    "INSERT INTO licenses (id, learner_id, order_id, company_id, allocated_at,"
                    " expires_at) VALUES (1, 1, 1, 1, '2026-01-01', '2027-01-01')",
                    "INSERT INTO emails (id, key, kind, company_id, order_id, recipient, subject,"
                    " body, state, created_at, attempts) VALUES (1, 'k', 'order_assigned', 1, 1,"
                    " 'a@p.example.com', 's', 'b', 'sent', '2026-01-01', 1)",
                ):
                    conn.execute(text(statement))
            upgrade()
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT order_id FROM licenses")).scalar() == 1
                assert conn.execute(text("SELECT order_id FROM emails")).scalar() == 1
                types = conn.execute(text("SELECT license_type FROM orders")).scalar()
                assert types == "premium"
                held = conn.execute(text("SELECT license_type FROM learners")).scalar()
                assert held == "premium"
            downgrade(revision="0010_user_sessions")
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT order_id FROM licenses")).scalar() == 1
    finally:
        with app.app_context():
            db.engine.dispose()
        if pg_name:
            drop_pg_database(pg_name)
