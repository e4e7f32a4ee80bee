"""The XLSX parser's own process (app/imports/reader.py starts it): python-calamine
reads the workbook, bounded by an address-space and a CPU-time limit it sets on
itself first, so a workbook that makes the parser allocate without end kills this
process, never the web server or the worker.

    python app/imports/xlsx_child.py PATH MEMORY_BYTES CPU_SECONDS MAX_UNCOMPRESSED \
        OUT [SHEET]

Before calamine sees the file, every zip member is decompressed as a stream and
counted (the sizes the zip directory declares can be forged) and every XML part's
prologue is checked for a DOCTYPE (entity definitions: a spreadsheet never needs
them). It prints the sheet names as one JSON line, then writes the sheet's rows (the
first sheet without SHEET; OUT "-" for none) to the file OUT as lines of JSON, each
an array of up to ROWS_PER_LINE rows of cells as calamine gives them — text as
typed (untrimmed), numbers, true/false, null — with dates and times written as
`cell_text` words them (about twice as fast as CSV to write and to read back): the
web process reads that file, never the workbook again, and makes a cell text with
`cell_text` (reader.cell) where it reads one. A refusal exits with a code from EXIT
(its reason on stderr); a death by signal is the parent's to explain.

Run by path, not as `-m app.imports…`: the app package (Flask and the rest) is not
imported here. Only the standard library and python-calamine.
"""

from __future__ import annotations

import json
import resource
import struct
import sys
import zipfile
import zlib
from itertools import islice

EXIT = {"damaged": 2, "too_big": 3, "entities": 4, "no_sheet": 5}
CHUNK = 1 << 20
PROLOGUE = 4096  # a DOCTYPE comes before the root element
ROWS_PER_LINE = 1_000


def main(argv: list[str]) -> int:
    path, memory, cpu, max_uncompressed = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    out = argv[4]
    sheet = argv[5] if len(argv) > 5 else None
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    try:
        problem = check_members(path, max_uncompressed)
    except MemoryError:
        return refuse("too_big", "MemoryError")
    except (OSError, zipfile.BadZipFile, zlib.error, struct.error) as exc:
        return refuse("damaged", type(exc).__name__)
    if problem:
        return refuse(problem, "")
    from python_calamine import CalamineWorkbook, WorksheetNotFound

    try:
        workbook = CalamineWorkbook.from_path(path)
        names = workbook.sheet_names
        sys.stdout.write(json.dumps(names) + "\n")
        sys.stdout.flush()
        if out == "-" or not names:
            return 0
        try:
            rows = workbook.get_sheet_by_name(sheet or names[0]).iter_rows()
        except WorksheetNotFound:
            return refuse("no_sheet", sheet or "")
        with open(out, "w", encoding="utf-8") as file:
            write_lines(file, rows)
    except MemoryError:
        return refuse("too_big", "MemoryError")
    except Exception as exc:  # calamine's errors: a damaged or unreadable workbook
        if "entity" in str(exc).lower():
            return refuse("entities", type(exc).__name__)
        return refuse("damaged", type(exc).__name__)
    return 0


def write_lines(file, rows) -> None:
    """The rows as JSON lines of ROWS_PER_LINE rows, the cells as JSON values (a date
    or a time, which JSON has not, as `cell_text`): no Python per cell here, where
    it would cost a quarter of the child's time."""
    rows = iter(rows)
    while line := list(islice(rows, ROWS_PER_LINE)):
        file.write(json.dumps(line, ensure_ascii=False, default=cell_text) + "\n")


def check_members(path: str, max_uncompressed: int) -> str | None:
    """'too_big' when the members decompress to more than `max_uncompressed` bytes
    in all (counted from the data, not from the directory), 'entities' when an XML
    part declares a DOCTYPE; else None."""
    total = 0
    with open(path, "rb") as raw, zipfile.ZipFile(raw) as archive:
        for member in archive.infolist():
            head = b""
            for piece in member_data(raw, member, max_uncompressed - total + 1):
                total += len(piece)
                if len(head) < PROLOGUE:
                    head += piece[: PROLOGUE - len(head)]
                if total > max_uncompressed:
                    return "too_big"
            if member.filename.endswith((".xml", ".rels")) and b"<!DOCTYPE" in head.upper():
                return "entities"
    return None


def member_data(raw, member: zipfile.ZipInfo, budget: int):
    """The member's decompressed bytes in chunks, read from its local header on to
    the end of its deflate stream (whatever sizes the directory declares), at most
    `budget` bytes."""
    raw.seek(member.header_offset)
    header = raw.read(30)
    if header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("no local header")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    raw.seek(member.header_offset + 30 + name_length + extra_length)
    if member.compress_type == zipfile.ZIP_STORED:
        left = member.compress_size
        while left > 0:
            piece = raw.read(min(CHUNK, left))
            if not piece:
                return
            left -= len(piece)
            yield piece
        return
    if member.compress_type != zipfile.ZIP_DEFLATED:
        raise zipfile.BadZipFile("unsupported compression")
    stream = zlib.decompressobj(-zlib.MAX_WBITS)
    while not stream.eof and budget > 0:
        data = stream.unconsumed_tail or raw.read(CHUNK)
        if not data:
            return
        piece = stream.decompress(data, min(CHUNK, budget))
        budget -= len(piece)
        yield piece


def cell_text(value) -> str:
    """A cell as text, as people typed it: whole numbers without ".0", dates as
    ISO dates (a midnight date-time as its date)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "hour") and hasattr(value, "date"):  # a datetime
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if hasattr(value, "isoformat"):  # a date or a time
        return value.isoformat()
    return str(value).strip()


def refuse(reason: str, detail: str) -> int:
    sys.stderr.write(detail[:200])
    return EXIT[reason]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
