"""Read spreadsheets the way people send them: CSV/TSV/TXT in UTF-8 (with or without
a byte-order mark), UTF-16 or Windows-1252, with any of , ; tab | as delimiter, and
XLSX/XLSM workbooks (read as data — a formula as the value Excel last computed and
shows; macros ignored) — streamed, row by row. Workbooks are parsed by
python-calamine in a child process bounded in memory and time (xlsx_child.py),
once: the child writes a sheet's rows as JSON lines beside the upload
(`_sheet_file`), and every later read of that sheet reads them; `discard` removes
the upload with everything written beside it.

Every refusal is a `FileProblem` whose message says what is wrong; nothing here
touches the database.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

from app.imports.xlsx_child import EXIT as CHILD_EXIT
from app.imports.xlsx_child import ROWS_PER_LINE as CHILD_ROWS_PER_LINE
from app.imports.xlsx_child import cell_text

DELIMITERS = [",", ";", "\t", "|"]
SAMPLE_BYTES = 64 * 1024
MAX_ZIP_MEMBERS = 2_000
MAX_UNCOMPRESSED = 400 * 1024 * 1024  # what a 20 MB workbook may expand to
MAX_RATIO = 200  # uncompressed / compressed, per member: a zip bomb beyond
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The XLSX parser runs in a child process (xlsx_child.py) within these limits.
CHILD = Path(__file__).with_name("xlsx_child.py")
PARSER_MEMORY = 1 << 30  # its address space (RLIMIT_AS): 1 GiB
PARSER_CPU_SECONDS = 60
PARSER_SECONDS = 120  # wall clock, then it is killed
TOO_BIG = (
    "The workbook expands to far more data than a spreadsheet holds (a zip bomb?): "
    "it was not opened."
)

log = logging.getLogger(__name__)
last_parser_peak_mb = 0.0  # the last parser child's peak resident memory


class FileProblem(Exception):
    """The file cannot be read as a spreadsheet; the message says why."""


@dataclass
class FileInfo:
    kind: str  # "csv" or "xlsx"
    encoding: str | None = None
    delimiter: str | None = None
    sheets: list[str] = field(default_factory=list)


def inspect(path: Path) -> FileInfo:
    """What the file is, or a FileProblem for files we refuse."""
    with open(path, "rb") as f:
        head = f.read(SAMPLE_BYTES)
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise FileProblem("The file is empty.")
    if head.startswith(b"PK\x03\x04"):
        _check_zip(path)
        return FileInfo("xlsx", sheets=_convert(path))
    if head.startswith(OLE_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in path.read_bytes():
            raise FileProblem(
                "The workbook is password-protected: remove the password in "
                "Excel (File → Info → Protect Workbook) and upload it again."
            )
        raise FileProblem(
            "This is a legacy Excel .xls file: save it as .xlsx or .csv and upload it again."
        )
    encoding = _encoding(head)
    text = head.decode(encoding, errors="replace")
    if _looks_like_html(text):
        raise FileProblem(
            "This is a web page (HTML), not a spreadsheet: save the data as "
            ".xlsx or .csv and upload it again."
        )
    if "\x00" in text or _binary(text):
        raise FileProblem(
            "This file is not a spreadsheet (it holds binary data): upload a "
            ".csv, .tsv, .txt or .xlsx file."
        )
    return FileInfo("csv", encoding=encoding, delimiter=_delimiter(text))


def rows(
    path: Path, info: FileInfo, sheet: str | None = None, limit: int | None = None
) -> Iterator[list[str]]:
    """The file's rows as lists of text cells, streamed. More than `limit` rows is a
    FileProblem raised as soon as the limit is passed."""
    for chunk in chunks(path, info, sheet, limit):
        yield from chunk


def chunks(
    path: Path,
    info: FileInfo,
    sheet: str | None = None,
    limit: int | None = None,
    trimmed: bool = True,
) -> Iterator[list[list[str]]]:
    """The same rows in lists of up to ROWS_PER_CHUNK, for readers of the whole file
    (the review), checked a chunk at a time. `trimmed=False` leaves the cells as the
    file holds them — a CSV's text untrimmed, a workbook's text, numbers, true/false
    and nulls — for a reader that makes text (`cell`) of the cells it reads only:
    trimming every cell of a 100,000-row file costs as much as parsing it. More than
    `limit` rows is a FileProblem raised with the chunk that passes it."""
    source = (
        _xlsx_chunks(path, sheet or info.sheets[0], trimmed)
        if info.kind == "xlsx"
        else _csv_chunks(path, info, trimmed)
    )
    read = 0
    for chunk in source:
        read += len(chunk)
        if limit is not None and read > limit:
            raise FileProblem(
                f"The file has more than {limit:,} rows: split it and upload the parts one by one."
            )
        yield chunk


ROWS_PER_CHUNK = CHILD_ROWS_PER_LINE  # the parser child's JSON lines hold as many


def cell(value) -> str:
    """A cell of an untrimmed chunk as the trimmed rows hold it: text, trimmed."""
    return value.strip() if type(value) is str else cell_text(value)


def _csv_chunks(path: Path, info: FileInfo, trimmed: bool) -> Iterator[list[list[str]]]:
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding=info.encoding, errors="replace", newline="")
        parsed = csv.reader(text, delimiter=info.delimiter)
        read = 0
        try:
            while chunk := list(islice(parsed, ROWS_PER_CHUNK)):
                if "\x00" in "".join(chain.from_iterable(chunk)):  # past inspect()'s sample
                    number = read + next(
                        i for i, row in enumerate(chunk, 1) if "\x00" in "".join(row)
                    )
                    raise FileProblem(
                        f"Row {number} holds a NUL character: the file is damaged or not "
                        "a spreadsheet export. Export it again and upload it."
                    )
                read += len(chunk)
                yield [list(map(str.strip, row)) for row in chunk] if trimmed else chunk
        except csv.Error as exc:
            raise FileProblem(f"The file is not valid CSV: {exc}.") from exc


def _xlsx_chunks(path: Path, sheet: str, trimmed: bool) -> Iterator[list[list]]:
    """The parser child's JSON lines, each a chunk of rows."""
    written = _sheet_file(path, sheet)
    if not written.exists():
        refused = written.with_suffix(".refused")
        if refused.exists():
            raise FileProblem(refused.read_text(encoding="utf-8"))
        _convert(path, sheet)
    with open(written, encoding="utf-8") as file:
        for line in file:
            chunk = json.loads(line)
            yield [list(map(cell, row)) for row in chunk] if trimmed else chunk


def discard(path: Path) -> None:
    """Remove an upload and what the reader wrote beside it."""
    for written in path.parent.glob(f"{path.name}.*"):
        written.unlink(missing_ok=True)
    path.unlink(missing_ok=True)


def _sheet_file(path: Path, sheet: str) -> Path:
    """Where a workbook's sheet is kept, parsed, as JSON lines of rows."""
    return path.with_name(f"{path.name}.{hashlib.sha1(sheet.encode()).hexdigest()[:16]}.jsonl")


def _convert(path: Path, sheet: str | None = None) -> list[str]:
    """Run the parser child (xlsx_child.py) on the workbook: its sheet names, with the
    sheet's rows (the first sheet's without `sheet`) written once as its
    `_sheet_file`. A refusal before the names is raised; a refusal of the sheet is
    raised when `sheet` was asked for, else kept beside the upload (`.refused`) for
    the sheet's first read to raise. The child's peak memory is logged."""
    temp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")
    command = [
        sys.executable,
        str(CHILD),
        str(path),
        str(PARSER_MEMORY),
        str(PARSER_CPU_SECONDS),
        str(MAX_UNCOMPRESSED),
        str(temp),
        *([sheet] if sheet is not None else []),
    ]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    timer = threading.Timer(PARSER_SECONDS, process.kill)
    timer.start()
    try:
        names_line = process.stdout.read()
        detail = process.stderr.read().decode("utf-8", "replace")
    finally:
        timer.cancel()
        process.stdout.close()
        process.stderr.close()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = code = os.waitstatus_to_exitcode(status)
        global last_parser_peak_mb  # noqa: PLW0603  (read by bench/import.py)
        last_parser_peak_mb = usage.ru_maxrss / 1024
        log.info("xlsx parser: exit %s, peak %.0f MB", code, last_parser_peak_mb)
    names = json.loads(names_line) if names_line.endswith(b"\n") else None
    chosen = sheet if sheet is not None else (names or [None])[0]
    if code == 0 and chosen is not None:
        temp.replace(_sheet_file(path, chosen))
    temp.unlink(missing_ok=True)
    if code != 0:
        problem = _refusal(code, detail, sheet)
        if names is None or sheet is not None:
            raise FileProblem(problem)
        _sheet_file(path, chosen).with_suffix(".refused").write_text(problem, encoding="utf-8")
    return names


def _refusal(code: int, detail: str, sheet: str | None) -> str:
    """What the parser child's exit code means to the person who uploaded the file."""
    if code == CHILD_EXIT["no_sheet"]:
        return f"The workbook has no sheet named '{sheet}'."
    if code == CHILD_EXIT["entities"]:
        return (
            "The workbook contains XML constructs a spreadsheet never needs (entity "
            "definitions): it was not read. Save it again from Excel, or as .csv."
        )
    if code == CHILD_EXIT["damaged"]:
        return (
            f"The workbook cannot be read ({detail or 'damaged'}): it may be damaged. Save "
            "it again from Excel, or as .csv."
        )
    if code == CHILD_EXIT["too_big"] or code < 0 or "MemoryError" in detail:
        # Out of its memory or time limits (killed by a signal, or by its own
        # allocator's abort): far more data than a spreadsheet holds.
        return TOO_BIG
    log.error("xlsx parser failed (exit %s): %s", code, detail[-2000:])
    return "The workbook cannot be read: it may be damaged. Save it again from Excel, or as .csv."


def _check_zip(path: Path) -> None:
    """Refuse zip bombs before any XML is parsed: member count, total uncompressed
    size and compression ratio are read from the zip directory."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise FileProblem("The workbook is damaged (not a valid .xlsx file).") from exc
    if len(members) > MAX_ZIP_MEMBERS:
        raise FileProblem("The workbook has too many parts to be a spreadsheet.")
    if sum(m.file_size for m in members) > MAX_UNCOMPRESSED or any(
        m.compress_size and m.file_size / m.compress_size > MAX_RATIO for m in members
    ):
        raise FileProblem(TOO_BIG)
    names = {m.filename for m in members}
    if "xl/workbook.xml" not in names:
        raise FileProblem("This zip file is not an Excel workbook: upload .xlsx or .csv.")


def _encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut by the sample's end
            return "utf-8"
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _looks_like_html(text: str) -> bool:
    start = text.lstrip("\ufeff \t\r\n").lower()[:200]
    return start.startswith(("<!doctype html", "<html", "<table", "<?xml")) or "<html" in start


def _binary(text: str) -> bool:
    controls = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\t\r\n\f")
    return controls > 8


def _delimiter(text: str) -> str:
    """The delimiter that splits the first lines most consistently (a single column
    is a comma-separated file with one column)."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    best, best_score = ",", 0.0
    for delimiter in DELIMITERS:
        counts = [len(next(csv.reader([line], delimiter=delimiter))) - 1 for line in lines]
        counts = [c for c in counts if c > 0]
        if not counts:
            continue
        common = max(set(counts), key=counts.count)
        score = counts.count(common) / len(lines) + 0.01 * min(common, 10)
        if score > best_score:
            best, best_score = delimiter, score
    return best
