"""`make run` as a small MSP's production: setup never mixes the demo into real data,
production asks for the first admin and refuses the clock shift, links follow
where the panel is served, and backups restore."""

from __future__ import annotations

import sqlite3
import subprocess
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.config import from_env
from app.extensions import db
from app.models import AppUser, Company
from tests import factories


@pytest.fixture
def production(committed_app, monkeypatch):
    """A migrated, empty database with APP_ENV=production."""
    for name in ("ADMIN_USERNAME", "ADMIN_EMAIL", "ADMIN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    app, url = committed_app(APP_ENV="production")
    return app


def test_the_demo_is_not_loaded_into_a_database_that_holds_data(app, session):
    factories.company(None, "partner", "A real MSP")
    session.commit()
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert "already holds companies or users: the demo is not loaded" in result.output
    assert session.scalar(select(func.count()).select_from(AppUser)) == 0
    assert session.scalars(select(Company.name)).all() == ["A real MSP"]


def test_production_setup_asks_for_the_first_admin_and_loads_no_demo(production):
    runner = production.test_cli_runner()
    answers = "owner\nowner@msp.example\nlong-enough-pass-1\nlong-enough-pass-1\n"
    result = runner.invoke(args=["setup", "--demo"], input=answers)
    assert result.exit_code == 0, result.output
    assert "APP_ENV=production: the demo data is not loaded." in result.output
    assert "Platform admin 'owner' created" in result.output
    db.session.rollback()
    (admin,) = db.session.scalars(select(AppUser)).all()
    assert (admin.username, [r.name for r in admin.roles]) == ("owner", ["Admin"])
    assert db.session.scalar(select(func.count()).select_from(Company)) == 0
    again = runner.invoke(args=["setup", "--demo"])
    assert again.exit_code == 0 and "No platform admin yet" not in again.output


def test_production_setup_without_a_terminal_says_how_to_create_the_admin(production):
    result = production.test_cli_runner().invoke(args=["setup"], input="")
    assert result.exit_code != 0
    assert "set ADMIN_USERNAME, ADMIN_EMAIL and ADMIN_PASSWORD" in result.output
    assert db.session.scalar(select(func.count()).select_from(AppUser)) == 0


def test_production_setup_takes_the_admin_from_the_environment(production, monkeypatch):
    monkeypatch.setenv("ADMIN_USERNAME", "ops")
    monkeypatch.setenv("ADMIN_EMAIL", "ops@msp.example")
    monkeypatch.setenv("ADMIN_PASSWORD", "short")
    refused = production.test_cli_runner().invoke(args=["setup"])
    assert "at least 15 characters: a short phrase works well. No admin was created." in (
        refused.output
    )
    monkeypatch.setenv("ADMIN_PASSWORD", "a-long-password")
    assert production.test_cli_runner().invoke(args=["setup"]).exit_code == 0
    db.session.rollback()
    assert db.session.scalars(select(AppUser.username)).all() == ["ops"]


def test_the_clock_cannot_be_shifted_in_production(production):
    result = production.test_cli_runner().invoke(args=["clock", "shift", "72"])
    assert result.exit_code != 0
    assert "The clock cannot be shifted in production." in result.output


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({}, "http://127.0.0.1:5000"),
        ({"PORT": "5150"}, "http://127.0.0.1:5150"),
        ({"HOST": "::1", "PORT": "8080"}, "http://[::1]:8080"),
        ({"BASE_URL": "https://panel.msp.example/", "PORT": "5150"}, "https://panel.msp.example"),
    ],
)
def test_email_links_follow_where_make_run_serves(tmp_path, environ, expected):
    assert from_env(tmp_path, {"SECRET_KEY": "k", **environ})["BASE_URL"] == expected


def test_email_links_use_the_machines_host_name_when_serving_every_interface(tmp_path):
    import socket

    config = from_env(tmp_path, {"SECRET_KEY": "k", "HOST": "0.0.0.0", "PORT": "5150"})
    assert config["BASE_URL"] == f"http://{socket.getfqdn()}:5150"
    assert "0.0.0.0" not in config["BASE_URL"]


def test_session_cookies_are_secure_in_production_or_over_https(tmp_path):
    def secure(**environ) -> tuple[bool, bool]:
        config = from_env(tmp_path, {"SECRET_KEY": "k", **environ})
        return config["SESSION_COOKIE_SECURE"], config["STRICT_TRANSPORT_SECURITY"]

    assert secure(APP_ENV="production") == (True, True)
    assert secure(BASE_URL="https://p.example") == (True, False)
    assert secure() == (False, False)


def test_a_backup_holds_the_data_and_the_uploads(committed_app, db_kind, tmp_path):
    app, _url = committed_app(UPLOAD_FOLDER=str(tmp_path / "uploads"))
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "batch-1.csv").write_text("email\nann@example.com\n")
    factories.company(None, "partner", "Backed-up MSP")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "backups")])
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "backups").iterdir())
    database = next(f for f in files if f.name.startswith("licenses-"))
    uploads = next(f for f in files if f.name.startswith("uploads-"))
    with tarfile.open(uploads) as archive:
        assert "uploads/batch-1.csv" in archive.getnames()
    if db_kind == "sqlite":
        with sqlite3.connect(database) as copy:
            assert copy.execute("SELECT name FROM companies").fetchall() == [("Backed-up MSP",)]
    else:
        listing = subprocess.run(
            ["pg_restore", "--list", str(database)], capture_output=True, text=True, check=True
        ).stdout
        assert "TABLE DATA public companies" in listing
    assert Path(database).stat().st_size > 0
    assert {f.stat().st_mode & 0o777 for f in files} == {0o600}  # learners' addresses


def test_pg_dump_gets_the_password_in_its_environment_never_on_its_command_line(tmp_path):
    from sqlalchemy.engine import make_url

    from app.backup import pg_dump_command

    url = make_url("postgresql+psycopg://panel:s3cret-pw@db.example:5432/licenses")
    argv, env = pg_dump_command(url, tmp_path / "x.dump")
    assert "s3cret-pw" not in " ".join(argv)
    assert argv[-1] == "postgresql://panel@db.example:5432/licenses"
    assert env["PGPASSWORD"] == "s3cret-pw"


def test_a_failed_pg_dump_says_why_and_shows_no_password(committed_app, tmp_path):
    app, _url = committed_app()
    app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://u:hidden-pw@127.0.0.1:1/x"
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "backups")])
    assert result.exit_code != 0
    assert "pg_dump failed:" in result.output and "port 1 failed" in result.output
    assert "hidden-pw" not in result.output
