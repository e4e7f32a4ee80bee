"""An upload and its batch row: the file kept under a server-made name until the
commit (or 24 hours), the batch loaded only on the company in view's screens, its
first rows read for the column choice, and its end (committed or expired)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, select, update

from app import clock
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.imports import cells, reader
from app.models import ImportBatch, ImportKind, ImportRow, ImportStatus
from app.services import audit, managed
from app.tenancy import MAX_ID, Actor, get_in_view, require_company_in_view

UPLOAD_TTL = timedelta(hours=24)
PREVIEW_ROWS = 30


@dataclass
class Preview:
    batch: ImportBatch
    rows: list[list[str]]
    layout: cells.Layout
    name_columns: dict[str, int | None]


def upload(actor: Actor, company_id, kind: str, filename: str, stream) -> ImportBatch:
    """Keep an uploaded file (under a server-made name) for the review. Raises Invalid
    with the reader's reason for files that are not readable spreadsheets."""
    company = require_company_in_view(actor, company_id)
    if kind not in tuple(ImportKind):
        raise NotFound()
    if kind == ImportKind.RENEWAL:
        managed.refuse_if_managed(actor, company.id)
    discard_stale(clock.now(), created_by_id=actor.user_id)
    stored = secrets.token_hex(16)
    path = upload_dir() / stored
    stream.save(path) if hasattr(stream, "save") else path.write_bytes(stream.read())
    try:
        info = reader.inspect(path)
    except reader.FileProblem as exc:
        reader.discard(path)
        raise Invalid(str(exc), "file") from exc
    batch = ImportBatch(
        company_id=company.id,
        created_by_id=actor.user_id,
        created_at=clock.now(),
        kind=kind,
        original_name=(filename or "upload")[:255],
        stored_name=stored,
        file_kind=info.kind,
        encoding=info.encoding,
        delimiter=info.delimiter,
        sheets=info.sheets or None,
        sheet=(info.sheets or [None])[0],
        status=ImportStatus.UPLOADED.value,
        auto_license=company.auto_license,
    )
    db.session.add(batch)
    db.session.flush()
    return batch


def preview(actor: Actor, batch_id, sheet: str | None = None, header_row=None) -> Preview:
    """The first rows, the detected header row and the likeliest email column."""
    batch = get_batch(actor, batch_id)
    if sheet:
        _choose_sheet(batch, sheet)
    rows = []
    try:
        for row in file_rows(batch):
            rows.append(row)
            if len(rows) >= PREVIEW_ROWS:
                break
    except reader.FileProblem as exc:
        raise Invalid(str(exc), "file") from exc
    if not any(any(r) for r in rows):
        raise Invalid("The file has no rows with data.", "file")
    found = cells.layout(rows, form_number(header_row))
    header = rows[found.header_row - 1] if found.header_row else []
    return Preview(batch, rows, found, cells.guess_name_columns(header))


def get_batch(actor: Actor, batch_id) -> ImportBatch:
    """A batch of the company in view whose file is still kept (or was committed)."""
    batch = get_in_view(actor, ImportBatch, batch_id)
    if batch.stored_name is None and not batch.is_committed:
        raise Invalid(
            "This upload has expired (uploads are kept for 24 hours): add the file again."
        )
    return batch


def get_reviewed(actor: Actor, batch_id, kind: ImportKind, done: str, not_yet: str):
    """A batch of this kind ready to commit: reviewed, and not committed yet. Raises
    Conflict with `done` (committed before) or `not_yet` (not reviewed)."""
    batch = get_batch(actor, batch_id)
    if batch.kind != kind or batch.status != ImportStatus.REVIEWED:
        raise Conflict(done if batch.is_committed else not_yet)
    return batch


def file_rows(batch: ImportBatch):
    """The kept file's rows, read as the reader read it at upload."""
    for chunk in file_chunks(batch):
        yield from chunk


def file_chunks(batch: ImportBatch, trimmed: bool = True):
    """The same rows in the reader's chunks (lists of rows), for reading it whole;
    `trimmed=False`: a CSV's cells untrimmed (see `reader.chunks`)."""
    info = reader.FileInfo(batch.file_kind, batch.encoding, batch.delimiter, batch.sheets or [])
    limit = current_app.config.get("IMPORT_MAX_ROWS", 200_000)
    path = upload_dir() / batch.stored_name
    return reader.chunks(path, info, batch.sheet, limit=limit, trimmed=trimmed)


def finish(actor: Actor, batch: ImportBatch, *, selection_id=None, after: dict) -> None:
    """Mark a reviewed batch committed, once (a conditional UPDATE), drop its file and
    audit the commit. Raises Conflict when it was committed meanwhile."""
    done = db.session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch.id, ImportBatch.status == ImportStatus.REVIEWED.value)
        .values(
            status=ImportStatus.COMMITTED.value,
            committed_at=clock.now(),
            selection_id=selection_id,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise Conflict("This file was already imported.")
    batch.status, batch.selection_id = ImportStatus.COMMITTED.value, selection_id
    delete_file(batch)
    audit.record(
        actor,
        f"import.{batch.kind}_committed",
        company_id=batch.company_id,
        entity="import",
        entity_id=batch.id,
        after={"file": batch.original_name, **after},
    )


def discard_stale(now: datetime, created_by_id: int | None = None) -> int:
    """Delete uploads older than 24 hours (and their staged rows): the worker's
    periodic clean-up, and each user's next upload."""
    query = select(ImportBatch).where(
        ImportBatch.stored_name.is_not(None), ImportBatch.created_at < now - UPLOAD_TTL
    )
    if created_by_id is not None:
        query = query.where(ImportBatch.created_by_id == created_by_id)
    stale = list(db.session.scalars(query))
    for batch in stale:
        delete_file(batch)
        if not batch.is_committed:
            batch.status = ImportStatus.EXPIRED.value
        db.session.execute(delete(ImportRow).where(ImportRow.batch_id == batch.id))
    db.session.flush()
    return len(stale)


def upload_dir() -> Path:
    path = Path(
        current_app.config.get("UPLOAD_FOLDER") or Path(current_app.instance_path) / "uploads"
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def form_number(value) -> int | None:
    """A row or column number from a form: None for anything else, or beyond the
    columns' range."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if abs(number) <= MAX_ID else None


def delete_file(batch: ImportBatch) -> None:
    if batch.stored_name:
        reader.discard(upload_dir() / batch.stored_name)
        batch.stored_name = None


def _choose_sheet(batch: ImportBatch, sheet: str) -> None:
    if sheet not in (batch.sheets or []):
        raise Invalid(f"The workbook has no sheet named '{sheet}'.", "sheet")
    batch.sheet = sheet
