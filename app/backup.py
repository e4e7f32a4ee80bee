"""Backups an operator can restore: the database as a consistent copy taken while
the panel runs, and the uploads folder. Restore steps: docs/operations.md."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy.engine import make_url

from app.extensions import db


def back_up(folder: str | Path) -> list[Path]:
    """Write the database's and the uploads' backups into `folder`; returns them."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        written = [_sqlite(target / f"licenses-{stamp}.db")]
    else:
        written = [_postgresql(url, target / f"licenses-{stamp}.dump")]
    uploads = Path(current_app.config["UPLOAD_FOLDER"])
    if uploads.is_dir():
        written.append(_tar(uploads, target / f"uploads-{stamp}.tar.gz"))
    return written


def _sqlite(path: Path) -> Path:
    # VACUUM INTO reads one snapshot: writers carry on, the copy is consistent. It
    # cannot run inside a transaction, so on the driver's own (autocommit) connection.
    connection = db.engine.raw_connection()
    try:
        connection.driver_connection.execute("VACUUM INTO ?", (str(path),))
    finally:
        connection.close()
    return path


def _postgresql(url, path: Path) -> Path:
    if not shutil.which("pg_dump"):
        raise RuntimeError("pg_dump is not installed (Debian: apt-get install postgresql-client)")
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", f"--file={path}", libpq],
        check=True,
        capture_output=True,
    )
    return path


def _tar(folder: Path, path: Path) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        archive.add(folder, arcname=folder.name)
    return path
