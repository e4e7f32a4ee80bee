"""The review: every data row of the file staged and classified once — taken, or
not taken with its reason — in a few set-based statements whatever the file's size:
the chosen columns streamed into a temporary table (app/sql.py's bulk load), then
one INSERT … SELECT into import_rows that finds duplicates, learners and reasons."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import (
    Column,
    Date,
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
    or_,
    select,
)

from app import clock
from app.errors import Conflict, Invalid
from app.extensions import db
from app.imports import cells, reader
from app.models import ImportBatch, ImportRow, ImportStatus, Learner
from app.services import pools, reclaim, trials
from app.services.allocation import shortage_message
from app.services.imports.batches import file_chunks, form_number, get_batch
from app.services.states import is_active
from app.sql import analyze_loaded, bulk_load
from app.tenancy import Actor

REASONS = {
    "invalid": "not an email address ({detail})",
    "duplicate": "duplicate of row {detail}",
    "not_found": "not found in this company",
    "active": "still has an active license",
    "flagged": "flagged do-not-renew",
    "deactivated": "a deactivated learner",
    "unnamed": "a new learner needs a first and a last name",
    "unchanged": "already up to date",
    "bad_date": "not a last-active date ({detail}): write it as YYYY-MM-DD",
}
# The name columns a learner import may choose, with their sizes in import_rows.
NAMES = {"first_name": 80, "last_name": 80, "department": 120}
# The optional last-active column of a learner import (seat reclaim): a date.
LAST_ACTIVE = "last_active"


@dataclass
class Summary:
    """What the review found: kept on the batch (JSON), shown on the review page."""

    rows: int
    taken: int
    not_taken: int
    reasons: dict[str, int] = field(default_factory=dict)
    free: int = 0
    problem: str | None = None  # a renewal's seat shortage
    problem_with_flagged: str | None = None  # the same with the flagged people included
    new: int = 0  # a learner import's new people,
    updated: int = 0  # the known ones it changes,
    seats_for_new: int = 0  # and the seats the new ones would get
    trial: bool = False  # from the running Free Trial (whatever the settings)

    @classmethod
    def of(cls, batch: ImportBatch) -> Summary | None:
        return cls(**batch.summary) if batch.summary else None


def reason_text(reason: str, detail: str | None) -> str:
    return REASONS[reason].format(detail=detail or "")


def reason_label(reason: str) -> str:
    """A reason without its row's detail, for the counts per reason."""
    return REASONS[reason].split(" (", 1)[0].split(" of row", 1)[0]


def review(actor: Actor, batch_id, header_row, columns: dict, auto_license: bool = True):
    """Stage every data row and classify it. `columns` maps "email" (and, for a
    learner import, "first_name", "last_name", "department", "last_active") to
    column indexes."""
    batch = get_batch(actor, batch_id)
    if batch.is_committed:
        raise Conflict("This file was already imported.")
    chosen = {k: form_number(v) for k, v in columns.items() if form_number(v) is not None}
    if "email" not in chosen:
        raise Invalid("Choose the column containing Email.", "email_column")
    batch.header_row = max(0, form_number(header_row) or 0)
    batch.columns, batch.auto_license = chosen, bool(auto_license)
    db.session.execute(delete(ImportRow).where(ImportRow.batch_id == batch.id))
    _stage_rows(batch, chosen)
    if not db.session.scalar(select(exists().where(ImportRow.batch_id == batch.id))):
        raise Invalid(
            f"The file has no data rows under its header (row {batch.header_row}).", "file"
        )
    found = summarise(batch)
    batch.status, batch.summary = ImportStatus.REVIEWED.value, asdict(found)
    db.session.flush()
    return found


def summarise(batch: ImportBatch) -> Summary:
    counts = dict(
        db.session.execute(
            select(ImportRow.reason, func.count())
            .where(ImportRow.batch_id == batch.id)
            .group_by(ImportRow.reason)
        ).all()
    )
    taken = counts.pop(None, 0)
    free = pools.company_free_seats(batch.company_id, clock.now())
    trial = None if batch.is_renewal else trials.seat_for_new_people(batch.company, clock.now())
    free = trial.free if trial else free
    result = Summary(
        rows=taken + sum(counts.values()),
        taken=taken,
        not_taken=sum(counts.values()),
        reasons=counts,
        free=free,
        trial=trial is not None,
    )
    if batch.is_renewal:
        result.problem = shortage_message(taken, free) if taken > free else None
        with_flagged = taken + counts.get("flagged", 0)
        if counts.get("flagged") and with_flagged > free:
            result.problem_with_flagged = shortage_message(with_flagged, free)
    else:
        result.new = db.session.scalar(
            select(func.count()).where(
                ImportRow.batch_id == batch.id,
                ImportRow.reason.is_(None),
                ImportRow.learner_id.is_(None),
            )
        )
        result.updated, result.seats_for_new = taken - result.new, min(result.new, free)
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


def taken(actor: Actor, batch_id) -> Iterator[list]:
    """The rows taken: (row number, address, first name, last name), for the
    downloads of who will be renewed or imported."""
    batch = get_batch(actor, batch_id)
    for row in db.session.execute(_taken_rows(batch.id)).yield_per(1000):
        yield list(row)


def taken_page(batch_id: int, limit: int = 50) -> list:
    """The first rows taken, with the names of the people they match."""
    return db.session.execute(_taken_rows(batch_id).limit(limit)).all()


def _taken_rows(batch_id: int):
    return (
        select(
            ImportRow.row_number,
            ImportRow.email,
            func.coalesce(Learner.first_name, ImportRow.first_name),
            func.coalesce(Learner.last_name, ImportRow.last_name),
        )
        .outerjoin(Learner, Learner.id == ImportRow.learner_id)
        .where(ImportRow.batch_id == batch_id, ImportRow.reason.is_(None))
        .order_by(ImportRow.row_number)
    )


def rejected_page(batch_id: int, limit: int = 100) -> list[ImportRow]:
    return list(
        db.session.scalars(
            select(ImportRow)
            .where(ImportRow.batch_id == batch_id, ImportRow.reason.is_not(None))
            .order_by(ImportRow.row_number)
            .limit(limit)
        )
    )


def taken_learners(batch: ImportBatch, include_flagged: bool = False):
    """The learner ids of the rows taken (NULL for new people of a learner import),
    with those flagged do-not-renew when the manager includes them."""
    taken = ImportRow.reason.is_(None)
    if include_flagged:
        taken = or_(taken, ImportRow.reason == "flagged")
    return select(ImportRow.learner_id).where(ImportRow.batch_id == batch.id, taken)


def _stage_rows(batch: ImportBatch, columns: dict) -> None:
    """Stream the file's chosen columns into a temporary table, then write import_rows
    once, every row already classified: one INSERT … SELECT and no UPDATEs, which on
    PostgreSQL would rewrite every row and re-check its foreign key. The staged text
    columns hold "" for no value, never NULL: SQLite's driver binds a None through
    its adaptation protocol (two failed attribute look-ups), which made a NULL `why`
    on every good row a third of the load's time; the INSERT … SELECT reads "" back
    as NULL."""
    connection = db.session.connection()
    names = [name for name in NAMES if name in columns]
    dated = LAST_ACTIVE in columns and not batch.is_renewal
    staging = _staging_table(names, dated)
    staging.create(connection)
    refused: list[reader.FileProblem] = []
    values = _staged_values(
        batch,
        columns["email"],
        [(columns[f], NAMES[f]) for f in names],
        columns[LAST_ACTIVE] if dated else None,
    )
    bulk_load(connection, staging, _until_refused(values, refused))
    if refused:
        staging.drop(connection)
        raise Invalid(str(refused[0]), "file") from refused[0]
    loaded = connection.execute(_classified(batch, staging, names, dated)).rowcount
    staging.drop(connection)
    analyze_loaded(connection, "import_rows", loaded)  # the summary and commit read them


def _staging_table(names: list[str], dated: bool) -> Table:
    return Table(
        "import_staging",
        MetaData(),
        Column("row_number", Integer),
        Column("value", String(320)),
        Column("email", String(320)),
        Column("why", String(200)),  # why the cell holds no address
        *(Column(name, String(NAMES[name])) for name in names),
        *((Column(LAST_ACTIVE, Date), Column("bad_date", String(40))) if dated else ()),
        prefixes=["TEMPORARY"],
    )


def _until_refused(chunks: Iterator[list], refused: list) -> Iterator[list]:
    """The chunks until the reader refuses the file, the refusal kept in `refused`:
    the load then ends cleanly (an error raised inside a COPY aborts the transaction)."""
    try:
        yield from chunks
    except reader.FileProblem as exc:
        refused.append(exc)


def _staged_values(
    batch: ImportBatch, email_at: int, names: list[tuple], dated_at: int | None
) -> Iterator[list[tuple]]:
    """(row number, cell, address, why not, *names[, last active, bad date]) for
    every data row of the file, in the reader's chunks; `names` holds the (column
    index, size) of each chosen name column, `dated_at` the last-active column's
    index (or None)."""
    header_row, read = batch.header_row, 0
    for part in file_chunks(batch, trimmed=False):  # the cells read are trimmed here
        first, read = read + 1, read + len(part)
        if read <= header_row:
            continue
        skip = max(0, header_row - first + 1)  # the header's rows in this chunk
        numbered = list(enumerate(part[skip:] if skip else part, first + skip))
        yield _chunk_values(numbered, email_at, names, dated_at)


def _chunk_values(
    chunk: list[tuple], email_at: int, names: list[tuple], dated_at: int | None
) -> list[tuple]:
    cell = reader.cell  # the cells as text: untrimmed text, or a workbook's values
    values = [  # (text inline: a call per row costs as much as the strip)
        (v.strip() if type(v := row[email_at]) is str else cell(v)) if email_at < len(row) else ""
        for _, row in chunk
    ]
    if "" in values:  # a row of empty or blank cells is no data row (a workbook's 0 is)
        kept = [i for i, value in enumerate(values) if value or any(map(cell, chunk[i][1]))]
        chunk, values = [chunk[i] for i in kept], [values[i] for i in kept]
    found = cells.clean_emails(values)
    if not names and dated_at is None:  # the renewal import: the address alone
        return [
            (number, value[:320], email, why or "")
            for (number, _), value, (email, why) in zip(chunk, values, found, strict=True)
        ]
    out = []
    for (number, row), value, (email, why) in zip(chunk, values, found, strict=True):
        extra = [cell(row[i])[:size] if i < len(row) else "" for i, size in names]
        if dated_at is not None:
            extra += _last_active(cell(row[dated_at]) if dated_at < len(row) else "")
        out.append((number, value[:320], email, why or "", *extra))
    return out


def _last_active(cell: str) -> list:
    """[the day as YYYY-MM-DD (None: no day), ""] — or [None, the cell] when it is
    no date."""
    try:
        day = reclaim.parse_last_active(cell)
    except Invalid:
        return [None, cell.strip()[:40]]
    return [day.isoformat() if day else None, ""]


def _classified(batch: ImportBatch, staging: Table, names: list[str], dated: bool):
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
    cell = {name: func.nullif(row[name], "") if name in names else null() for name in NAMES}
    bad_date = row.bad_date != "" if dated else None
    last_active = row[LAST_ACTIVE] if dated else null()
    if batch.is_renewal:
        rules = _renewal_rules(batch.company, clock.now())
    else:
        rules = _learner_rules(cell, last_active)
        if dated:  # a cell that is no date: the row is not taken, the cell named
            rules.insert(0, (bad_date, "bad_date"))
    rows = select(
        literal(batch.id),
        row.row_number,
        row.value,
        row.email,
        # Invalid rows (no address) join no learner, duplicates keep none.
        case((duplicate, null()), else_=Learner.id),
        case((row.email.is_(None), "invalid"), (duplicate, "duplicate"), *rules),
        case(
            (row.email.is_(None), row.why),
            (duplicate, cast(firsts.c.number, String)),
            *([(bad_date, row.bad_date)] if dated else []),
        ),
        *cell.values(),
        last_active,
    ).select_from(staging.outerjoin(firsts, firsts.c.email == row.email).outerjoin(Learner, known))
    return insert(ImportRow).from_select(
        [
            "batch_id",
            "row_number",
            "value",
            "email",
            "learner_id",
            "reason",
            "detail",
            *NAMES,
            "last_active_on",
        ],
        rows,
    )


def _renewal_rules(company, now: datetime) -> list[tuple]:
    """Why a renewal row is not taken; people flagged do-not-renew (seat reclaim) are
    listed under their own reason, which the manager may include at the commit."""
    return [
        (Learner.id.is_(None), "not_found"),
        (~Learner.active, "deactivated"),
        (is_active(now), "active"),
        (reclaim.flagged(company, now), "flagged"),
    ]


def _learner_rules(cell: dict, last_active) -> list[tuple]:
    unchanged = and_(
        or_(last_active.is_(None), Learner.last_active_on == last_active),
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
