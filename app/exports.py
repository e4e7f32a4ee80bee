"""Spreadsheet downloads (CSV streamed, XLSX in write-only mode), with every cell
that a spreadsheet would run as a formula neutralised."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from flask import Response, abort, send_file, stream_with_context
from openpyxl import Workbook

from app.display import local
from app.extensions import db

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def iso_utc(value: datetime | None) -> str:
    """An instant as exports write it: ISO 8601 in UTC ("2026-12-01T23:15:00Z")."""
    return "" if value is None else local(value, "UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def neutralise(value):
    """A text cell starting like a formula gets a leading apostrophe, so Excel,
    LibreOffice and Sheets show it as text instead of running it."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    """The CSV text in chunks of about 500 rows, for a streamed response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow([neutralise(v) for v in row])
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(filename: str, header: list[str], make_rows: Callable[[], Iterable[list]]):
    """A streamed CSV download. `make_rows` is called only once the stream starts,
    inside the request's contexts again, so its query runs on the session those
    contexts tear down; that session is also removed (its connection returned, its
    transaction ended) when the stream ends, is cut off or the client goes away.
    (A query built in the view would keep the view's session, which Flask has
    already removed from its registry by then: its connection stayed checked out,
    idle in a transaction, until the pool ran dry.)"""

    def chunks() -> Iterator[str]:
        try:
            yield from csv_chunks(header, make_rows())
        finally:
            db.session.remove()

    return Response(
        stream_with_context(chunks()),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


def xlsx_file(header: list[str], rows: Iterable[list], title: str):
    """A spooled temporary file holding the workbook (rows written one by one)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.append(header)
    for row in rows:
        sheet.append([neutralise(v) for v in row])
    # Closed by the response that sends it (send_file), not here.
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    workbook.save(out)
    out.seek(0)
    return out


def download(
    fmt: str, name: str, sheet: str, header: list[str], rows: Callable[[], Iterable[list]]
):
    """`rows()` as a streamed CSV (`name`.csv) or an XLSX file (`name`.xlsx, its sheet
    titled `sheet`); any other format is 404."""
    if fmt == "csv":
        return csv_response(f"{name}.csv", header, rows)
    if fmt == "xlsx":
        return send_file(
            xlsx_file(header, rows(), sheet),
            mimetype=XLSX_MIMETYPE,
            as_attachment=True,
            download_name=f"{name}.xlsx",
        )
    abort(404)
