"""Import Licence Renewal and Import Learners: upload → choose the columns →
review (every row not taken, with its reason) → commit through the same services
as the screens. The file is streamed into a temporary table and each row written
to `import_rows` once, already classified, so memory stays flat whatever the
file's size and the review is a handful of set-based statements."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    update,
)

from app import clock
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.imports import cells, reader
from app.models import Company, ImportBatch, ImportRow, Learner
from app.services import audit, pools
from app.services.allocation import (
    allocate,
    shortage_message,
    stage,
)
from app.services.states import is_active
from app.sql import analyze_loaded, bulk_load
from app.tenancy import MAX_ID, Actor, get_in_view, require_company_in_view


class StaleReview(Conflict):
    """The people or seats changed since the review: it must be shown again."""


UPLOAD_TTL = timedelta(hours=24)
PREVIEW_ROWS = 30
REASONS = {
    "invalid": "not an email address ({detail})",
    "duplicate": "duplicate of row {detail}",
    "not_found": "not found in this company",
    "active": "still has an active license",
    "deactivated": "a deactivated learner",
    "unnamed": "a new learner needs a first and a last name",
    "unchanged": "already up to date",
}


def reason_text(reason: str, detail: str | None) -> str:
    return REASONS[reason].format(detail=detail or "")


@dataclass
class Preview:
    batch: ImportBatch
    rows: list[list[str]]
    layout: cells.Layout
    name_columns: dict[str, int | None]


# -- upload --------------------------------------------------------------------


def upload(actor: Actor, company_id, kind: str, filename: str, stream) -> ImportBatch:
    """Keep an uploaded file (under a server-made name) for the review. Raises Invalid
    with the reader's reason for files that are not readable spreadsheets."""
    company = require_company_in_view(actor, company_id)
    if kind not in ("renewal", "learners"):
        raise NotFound()
    discard_stale(clock.now(), created_by_id=actor.user_id)
    stored = secrets.token_hex(16)
    path = upload_dir() / stored
    stream.save(path) if hasattr(stream, "save") else path.write_bytes(stream.read())
    try:
        info = reader.inspect(path)
    except reader.FileProblem as exc:
        path.unlink(missing_ok=True)
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
        status="uploaded",
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
        for row in _rows(batch):
            rows.append(row)
            if len(rows) >= PREVIEW_ROWS:
                break
    except reader.FileProblem as exc:
        raise Invalid(str(exc), "file") from exc
    if not any(any(r) for r in rows):
        raise Invalid("The file has no rows with data.", "file")
    chosen_header = _int_or_none(header_row)
    found = cells.layout(rows, chosen_header)
    header = rows[found.header_row - 1] if found.header_row else []
    return Preview(batch, rows, found, cells.guess_name_columns(header))


# -- review --------------------------------------------------------------------


def review(actor: Actor, batch_id, header_row, columns: dict, auto_license: bool = True):
    """Stage every data row and classify it. `columns` maps "email" (and, for a
    learner import, "first_name", "last_name", "department") to column indexes."""
    batch = get_batch(actor, batch_id)
    if batch.status == "committed":
        raise Conflict("This file was already imported.")
    chosen = {k: _int_or_none(v) for k, v in columns.items() if _int_or_none(v) is not None}
    if "email" not in chosen:
        raise Invalid("Choose the column containing Email.", "email_column")
    batch.header_row = max(0, _int_or_none(header_row) or 0)
    batch.columns, batch.auto_license = chosen, bool(auto_license)
    db.session.execute(delete(ImportRow).where(ImportRow.batch_id == batch.id))
    _stage_rows(batch, chosen)
    if not db.session.scalar(select(exists().where(ImportRow.batch_id == batch.id))):
        raise Invalid(
            f"The file has no data rows under its header (row {batch.header_row}).", "file"
        )
    batch.status = "reviewed"
    batch.summary = summary(batch)
    db.session.flush()
    return batch.summary


def summary(batch: ImportBatch) -> dict:
    counts = dict(
        db.session.execute(
            select(ImportRow.reason, func.count())
            .where(ImportRow.batch_id == batch.id)
            .group_by(ImportRow.reason)
        ).all()
    )
    taken = counts.pop(None, 0)
    free = pools.company_free_seats(batch.company_id, clock.now())
    result = {
        "taken": taken,
        "not_taken": sum(counts.values()),
        "reasons": counts,
        "free": free,
        "rows": taken + sum(counts.values()),
    }
    if batch.kind == "renewal":
        result["problem"] = shortage_message(taken, free) if taken > free else None
    else:
        new = db.session.scalar(
            select(func.count()).where(
                ImportRow.batch_id == batch.id,
                ImportRow.reason.is_(None),
                ImportRow.learner_id.is_(None),
            )
        )
        result.update(new=new, updated=taken - new, seats_for_new=min(new, free))
    return result


def rejected(actor: Actor, batch_id) -> Iterator[list]:
    """The rows not taken: (row number, value, reason), for the downloads."""
    batch = get_batch(actor, batch_id)
    query = (
        select(ImportRow.row_number, ImportRow.value, ImportRow.reason, ImportRow.detail)
        .where(ImportRow.batch_id == batch.id, ImportRow.reason.is_not(None))
        .order_by(ImportRow.row_number)
    )
    for number, value, reason, detail in db.session.execute(query).yield_per(1000):
        yield [number, value, reason_text(reason, detail)]


def rejected_page(batch_id: int, limit: int = 100) -> list[ImportRow]:
    return list(
        db.session.scalars(
            select(ImportRow)
            .where(ImportRow.batch_id == batch_id, ImportRow.reason.is_not(None))
            .order_by(ImportRow.row_number)
            .limit(limit)
        )
    )


# -- commit --------------------------------------------------------------------


def commit_renewal(actor: Actor, batch_id):
    """Renew Licences: allocate to exactly the people of the review, all or nothing,
    through the allocation service. A review that went stale (someone renewed, seats
    gone) raises Conflict; a batch commits once."""
    batch = get_batch(actor, batch_id)
    if batch.kind != "renewal" or batch.status != "reviewed":
        raise Conflict(
            "These licences were already renewed."
            if batch.status == "committed"
            else "Review the file before renewing."
        )
    renewed = db.session.scalar(
        select(func.count()).where(Learner.id.in_(_taken_learners(batch)), is_active(clock.now()))
    )
    if renewed:
        raise StaleReview(
            f"The review went stale: {renewed} of these people have an "
            "active license now. Nothing was renewed; the file was checked "
            "again below."
        )
    selection = stage(actor, batch.company_id, _taken_learners(batch), "import")
    if not selection.size:
        raise Invalid("Nobody in this file can be renewed.")
    done = allocate(actor, selection.id)
    _finish(actor, batch, selection_id=selection.id, after={"renewed": done.size})
    return done


def commit_learners(actor: Actor, batch_id) -> dict:
    """Add the new learners and update the known ones (never deletes anyone); new
    learners get free seats when the company licenses automatically and the manager
    kept it on for this import."""
    batch = get_batch(actor, batch_id)
    if batch.kind != "learners" or batch.status != "reviewed":
        raise Conflict(
            "This file was already imported."
            if batch.status == "committed"
            else "Review the file before importing."
        )
    added = _insert_new_learners(batch, clock.now())
    updated = _update_known_learners(batch)
    licensed = _license_new_learners(actor, batch) if batch.auto_license else 0
    _finish(actor, batch, after={"added": added, "updated": updated, "licensed": licensed})
    return {"added": added, "updated": updated, "licensed": licensed}


# -- clean-up ------------------------------------------------------------------


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
        _delete_file(batch)
        if batch.status != "committed":
            batch.status = "expired"
        db.session.execute(delete(ImportRow).where(ImportRow.batch_id == batch.id))
    db.session.flush()
    return len(stale)


def get_batch(actor: Actor, batch_id) -> ImportBatch:
    batch = get_in_view(actor, ImportBatch, batch_id)
    if batch.stored_name is None and batch.status != "committed":
        raise Invalid(
            "This upload has expired (uploads are kept for 24 hours): add the file again."
        )
    return batch


def upload_dir() -> Path:
    path = Path(
        current_app.config.get("UPLOAD_FOLDER") or Path(current_app.instance_path) / "uploads"
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- the steps -----------------------------------------------------------------


def _rows(batch: ImportBatch):
    info = reader.FileInfo(batch.file_kind, batch.encoding, batch.delimiter, batch.sheets or [])
    limit = current_app.config.get("IMPORT_MAX_ROWS", 200_000)
    return reader.rows(upload_dir() / batch.stored_name, info, batch.sheet, limit=limit)


# The name columns a learner import may choose, with their sizes in import_rows.
NAMES = {"first_name": 80, "last_name": 80, "department": 120}


def _stage_rows(batch: ImportBatch, columns: dict) -> None:
    """Stream the file's chosen columns into a temporary table (one COPY on
    PostgreSQL, plain driver executemany of 1,000 rows elsewhere), then write
    import_rows once, every row already classified: one INSERT … SELECT and no
    UPDATEs, which on PostgreSQL would rewrite every row and re-check its foreign key."""
    connection = db.session.connection()
    names = [field for field in NAMES if field in columns]
    staging = _staging_table(names)
    staging.create(connection)
    refused: list[reader.FileProblem] = []
    values = _staged_values(batch, columns["email"], [(columns[f], NAMES[f]) for f in names])
    bulk_load(connection, staging, _until_refused(values, refused))
    if refused:
        staging.drop(connection)
        raise Invalid(str(refused[0]), "file") from refused[0]
    connection.execute(_classified(batch, staging, names))
    staging.drop(connection)
    analyze_loaded(connection, "import_rows")  # the summary and the commit read them


def _staging_table(names: list[str]) -> Table:
    return Table(
        "import_staging",
        MetaData(),
        Column("row_number", Integer),
        Column("value", String(320)),
        Column("email", String(320)),
        Column("why", String(200)),  # why the cell holds no address
        *(Column(field, String(NAMES[field])) for field in names),
        prefixes=["TEMPORARY"],
    )


def _until_refused(values: Iterator[tuple], refused: list) -> Iterator[tuple]:
    """The values until the reader refuses the file, the refusal kept in `refused`:
    the load then ends cleanly (an error raised inside a COPY aborts the transaction)."""
    try:
        yield from values
    except reader.FileProblem as exc:
        refused.append(exc)


def _staged_values(batch: ImportBatch, email_at: int, names: list[tuple]) -> Iterator[tuple]:
    """(row number, cell, address, why not, *names) for every data row of the file;
    `names` holds the (column index, size) of each chosen name column."""
    header_row, clean_email = batch.header_row, cells.clean_email
    for number, row in enumerate(_rows(batch), 1):
        if number <= header_row or not any(row):
            continue
        value = row[email_at] if email_at < len(row) else ""
        email, why = clean_email(value)
        if names:
            extra = [(row[i][:size] or None) if i < len(row) else None for i, size in names]
            yield (number, value[:320], email, why, *extra)
        else:
            yield (number, value[:320], email, why)


def _classified(batch: ImportBatch, staging: Table, names: list[str]):
    """The INSERT of the staged rows into import_rows with their learner and reason.
    A repeated address is a duplicate of the first row that has it; the other rows
    with an address are matched against the company's learners and given the first
    reason that applies (NULL: taken)."""
    row = staging.c
    # Only repeated addresses: files hold few, so the lookup the join builds is small.
    firsts = (
        select(row.email, func.min(row.row_number).label("number"))
        .where(row.email.is_not(None))
        .group_by(row.email)
        .having(func.count() > 1)
        .subquery()
    )
    known = and_(Learner.company_id == batch.company_id, Learner.email == row.email)
    duplicate = firsts.c.number < row.row_number
    cell = {field: row[field] if field in names else null() for field in NAMES}
    rules = _renewal_rules(clock.now()) if batch.kind == "renewal" else _learner_rules(cell)
    rows = select(
        literal(batch.id),
        row.row_number,
        row.value,
        row.email,
        # Invalid rows (no address) join no learner, duplicates keep none.
        case((duplicate, null()), else_=Learner.id),
        case((row.email.is_(None), "invalid"), (duplicate, "duplicate"), *rules),
        case((row.email.is_(None), row.why), (duplicate, cast(firsts.c.number, String))),
        *cell.values(),
    ).select_from(staging.outerjoin(firsts, firsts.c.email == row.email).outerjoin(Learner, known))
    return insert(ImportRow).from_select(
        ["batch_id", "row_number", "value", "email", "learner_id", "reason", "detail", *NAMES],
        rows,
    )


def _renewal_rules(now: datetime) -> list[tuple]:
    return [
        (Learner.id.is_(None), "not_found"),
        (~Learner.active, "deactivated"),
        (is_active(now), "active"),
    ]


def _learner_rules(cell: dict) -> list[tuple]:
    unchanged = and_(
        Learner.first_name == func.coalesce(cell["first_name"], Learner.first_name),
        Learner.last_name == func.coalesce(cell["last_name"], Learner.last_name),
        func.coalesce(Learner.department, "")
        == func.coalesce(cell["department"], Learner.department, ""),
    )
    return [
        (
            Learner.id.is_(None) & (cell["first_name"].is_(None) | cell["last_name"].is_(None)),
            "unnamed",
        ),
        (~Learner.active, "deactivated"),
        (Learner.id.is_not(None) & unchanged, "unchanged"),
    ]


def _taken_learners(batch: ImportBatch):
    return select(ImportRow.learner_id).where(
        ImportRow.batch_id == batch.id, ImportRow.reason.is_(None)
    )


def _insert_new_learners(batch: ImportBatch, now: datetime) -> int:
    new = (
        select(
            literal(batch.company_id),
            ImportRow.email,
            ImportRow.first_name,
            ImportRow.last_name,
            ImportRow.department,
            literal(True),
            literal(now, Learner.created_at.type),
        )
        .where(
            ImportRow.batch_id == batch.id,
            ImportRow.reason.is_(None),
            ImportRow.learner_id.is_(None),
        )
        .order_by(ImportRow.row_number)
    )
    db.session.execute(
        insert(Learner).from_select(
            [
                "company_id",
                "email",
                "first_name",
                "last_name",
                "department",
                "active",
                "created_at",
            ],
            new,
        )
    )
    _match_learners_taken(batch)
    return db.session.scalar(
        select(func.count()).where(
            ImportRow.batch_id == batch.id, ImportRow.reason.is_(None), ImportRow.detail == "added"
        )
    )


def _match_learners_taken(batch: ImportBatch) -> None:
    match = (
        select(Learner.id)
        .where(Learner.company_id == batch.company_id, Learner.email == ImportRow.email)
        .scalar_subquery()
    )
    db.session.execute(
        update(ImportRow)
        .where(
            ImportRow.batch_id == batch.id,
            ImportRow.reason.is_(None),
            ImportRow.learner_id.is_(None),
        )
        .values(learner_id=match, detail="added")
        .execution_options(synchronize_session=False)
    )


def _update_known_learners(batch: ImportBatch) -> int:
    changed = db.session.execute(
        update(Learner)
        .where(
            Learner.id == ImportRow.learner_id,
            ImportRow.batch_id == batch.id,
            ImportRow.reason.is_(None),
            ImportRow.detail.is_(None),
        )
        .values(
            first_name=func.coalesce(ImportRow.first_name, Learner.first_name),
            last_name=func.coalesce(ImportRow.last_name, Learner.last_name),
            department=func.coalesce(ImportRow.department, Learner.department),
        )
        .execution_options(synchronize_session=False)
    )
    return changed.rowcount


def _license_new_learners(actor: Actor, batch: ImportBatch) -> int:
    company = db.session.get(Company, batch.company_id)
    free = pools.company_free_seats(company.id, clock.now())
    if not company.auto_license or not free:
        return 0
    new = (
        select(ImportRow.learner_id)
        .where(ImportRow.batch_id == batch.id, ImportRow.detail == "added")
        .order_by(ImportRow.row_number)
        .limit(free)
    )
    selection = stage(actor, company.id, new, "import")
    return allocate(actor, selection.id).size if selection.size else 0


def _finish(actor: Actor, batch: ImportBatch, *, selection_id=None, after: dict) -> None:
    done = db.session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch.id, ImportBatch.status == "reviewed")
        .values(status="committed", committed_at=clock.now(), selection_id=selection_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise Conflict("This file was already imported.")
    batch.status, batch.selection_id = "committed", selection_id
    _delete_file(batch)
    audit.record(
        actor,
        f"import.{batch.kind}_committed",
        company_id=batch.company_id,
        entity="import",
        entity_id=batch.id,
        after={"file": batch.original_name, **after},
    )


def _delete_file(batch: ImportBatch) -> None:
    if batch.stored_name:
        (upload_dir() / batch.stored_name).unlink(missing_ok=True)
        batch.stored_name = None


def _choose_sheet(batch: ImportBatch, sheet: str) -> None:
    if sheet not in (batch.sheets or []):
        raise Invalid(f"The workbook has no sheet named '{sheet}'.", "sheet")
    batch.sheet = sheet


def _int_or_none(value) -> int | None:
    """A row number from a form: None for anything else, or beyond the column."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if abs(number) <= MAX_ID else None
