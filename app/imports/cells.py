"""Cells as people type them: the email in a cell, the header row above the data,
and which column holds the email."""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import ascii_uppercase

from app.addresses import MAX_ADDRESS, all_lowered, matches

# Spaces Excel and web pages leave in cells: non-breaking, zero-width, BOM.
_INVISIBLE = dict.fromkeys(map(ord, "\u00a0\u200b\u200c\u200d\u2060\ufeff"), " ")
_NAMED = re.compile(r"^[^<>]*<([^<>]+)>$")
EMAIL_HEADERS = {
    "email",
    "emailaddress",
    "mail",
    "workemail",
    "businessemail",
    "useremail",
    "emailid",
    "primaryemail",
    "login",
    "username",
    "upn",
    "userprincipalname",
}
NAME_HEADERS = {
    "first_name": {"firstname", "givenname", "first", "forename", "name"},
    "last_name": {"lastname", "surname", "familyname", "last"},
    "department": {"department", "group", "dept", "team", "groupdepartment", "division"},
    "last_active": {"lastactive", "lastactivity", "lastactiveon", "lastlogin", "lastseen"},
}
SCAN_ROWS = 30


def clean_email(cell: str) -> tuple[str | None, str | None]:
    """(address, None) for a cell holding one address — trimmed, lower-cased, a
    `mailto:` prefix or a `Name <address>` form reduced — else (None, why not)."""
    if matches(cell):
        return cell.lower(), None  # the common case, quickly
    text = " ".join((cell or "").translate(_INVISIBLE).split())
    if not text:
        return None, "empty"
    if text.startswith("="):
        return None, "a formula"
    if text.lower().startswith("mailto:"):
        text = text[7:].strip()
    named = _NAMED.match(text)
    if named:
        text = named.group(1).strip()
    if text.count("@") > 1:
        return None, "two addresses in one cell"
    if len(text) > MAX_ADDRESS:
        return None, f"longer than {MAX_ADDRESS} characters"
    if not matches(text):
        return None, "not a valid address"
    return text.lower(), None


def clean_emails(column: list[str]) -> list[tuple[str | None, str | None]]:
    """`clean_email` of each cell of a column's chunk: a clean chunk (every cell one
    address, what most files hold) is checked by one pattern over all its cells."""
    lowered = all_lowered(column)
    if lowered is None:
        return [clean_email(cell) for cell in column]
    return [(address, None) for address in lowered]


def looks_like_email(cell: str) -> bool:
    return clean_email(cell)[0] is not None


@dataclass
class Layout:
    header_row: int  # 1-based; 0 when the file has no header row
    headers: list[str]
    email_column: int | None


def column_label(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = ascii_uppercase[rem] + letters
    return letters


def layout(first_rows: list[list[str]], header_row: int | None = None) -> Layout:
    """Where the header is (title rows above it are skipped) and which column holds
    the email: a header named like one, else the column with most addresses."""
    if header_row is None:
        header_row = _header_row(first_rows)
    width = max((len(r) for r in first_rows), default=0)
    header = first_rows[header_row - 1] if 0 < header_row <= len(first_rows) else []
    headers = [
        f"{column_label(i)}: {header[i]}" if i < len(header) and header[i] else column_label(i)
        for i in range(width)
    ]
    data = first_rows[header_row:]
    return Layout(header_row, headers, guess_column(header, data, EMAIL_HEADERS, emails=True))


def guess_column(
    header: list[str], data: list[list[str]], names: set[str], emails: bool = False
) -> int | None:
    for i, text in enumerate(header):
        key = _key(text)
        if (
            key in names
            or (emails and key.startswith("email"))
            or (emails and key.endswith("email"))
        ):
            return i
    if not emails:
        return None
    counts = _email_counts(data)
    best = max(counts, key=counts.get, default=None)
    return best if best is not None and counts[best] > 0 else None


def guess_name_columns(header: list[str]) -> dict[str, int | None]:
    return {field: guess_column(header, [], names) for field, names in NAME_HEADERS.items()}


def _header_row(first_rows: list[list[str]]) -> int:
    counts = _email_counts(first_rows)
    if counts and max(counts.values()):
        column = max(counts, key=counts.get)
        first_data = next(
            i for i, r in enumerate(first_rows) if column < len(r) and looks_like_email(r[column])
        )
        if first_data and any(first_rows[first_data - 1]):
            return first_data
        return 0
    return next((i + 1 for i, r in enumerate(first_rows) if any(r)), 0)


def _email_counts(rows: list[list[str]]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for row in rows[:SCAN_ROWS]:
        for i, cell in enumerate(row):
            if cell and looks_like_email(cell):
                counts[i] = counts.get(i, 0) + 1
    return counts


def _key(text: str) -> str:
    return re.sub(r"[\s_\-./()]", "", (text or "").lower())
