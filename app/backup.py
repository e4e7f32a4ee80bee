"""Backups an operator can restore: the database as a consistent copy taken while
the panel runs, and the uploads folder. Restore steps: docs/operations.md.

Backups hold every learner's address and every manager's password hash: the folder
is made private (0700) and each file 0600, and a PostgreSQL password goes to
pg_dump in its environment, never on its command line (where `ps` shows it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy.engine import URL, make_url

from app.extensions import db


class BackupFailed(Exception):
    pass


def back_up(folder: str | Path) -> list[Path]:
    """Write the database's and the uploads' backups into `folder`; returns them.
    Raises BackupFailed with the reason."""
    target = Path(folder)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        written = [_sqlite(target / f"licenses-{stamp}.db")]
    else:
        written = [_postgresql(url, target / f"licenses-{stamp}.dump")]
    uploads = Path(current_app.config["UPLOAD_FOLDER"])
    if uploads.is_dir():
        written.append(_tar(uploads, target / f"uploads-{stamp}.tar.gz"))
    for path in written:
        path.chmod(0o600)
    return written


def pg_dump_command(url: URL, path: Path) -> tuple[list[str], dict[str, str]]:
    """pg_dump's arguments and environment for `url`: the password in PGPASSWORD."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    libpq = URL.create(
        "postgresql", url.username, None, url.host, url.port, url.database, url.query
    ).render_as_string()
    return ["pg_dump", "--format=custom", "--no-owner", f"--file={path}", libpq], env


def _sqlite(path: Path) -> Path:
    # VACUUM INTO reads one snapshot: writers carry on, the copy is consistent. It
    # cannot run inside a transaction, so on the driver's own (autocommit) connection.
    connection = db.engine.raw_connection()
    try:
        connection.driver_connection.execute("VACUUM INTO ?", (str(path),))
    finally:
        connection.close()
    return path


def _postgresql(url: URL, path: Path) -> Path:
    if not shutil.which("pg_dump"):
        raise BackupFailed("pg_dump is not installed (Debian: apt-get install postgresql-client)")
    argv, env = pg_dump_command(url, path)
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupFailed(f"pg_dump failed: {done.stderr.strip()}")
    return path


def _tar(folder: Path, path: Path) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        archive.add(folder, arcname=folder.name)
    return path
