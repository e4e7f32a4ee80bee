"""The reader over a corpus of awkward files: encodings, delimiters, title rows,
several sheets, formulas, and the files it must refuse with a clear reason."""

import pytest

from app.imports import cells, reader
from tests.imports import corpus

ROWS = [corpus.HEADER, *corpus.people(3)]


def read(tmp_path, name, data, sheet=None, limit=None):
    path = corpus.write(tmp_path, name, data)
    info = reader.inspect(path)
    return info, list(reader.rows(path, info, sheet, limit))


@pytest.mark.parametrize(
    "name, data, encoding, delimiter",
    [
        ("utf8.csv", corpus.csv_bytes(ROWS), "utf-8", ","),
        ("bom.csv", corpus.csv_bytes(ROWS, bom=True), "utf-8-sig", ","),
        ("excel-eu.csv", corpus.csv_bytes(ROWS, ";", "cp1252"), "cp1252", ";"),
        ("utf16.txt", corpus.csv_bytes(ROWS, "\t", "utf-16"), "utf-16", "\t"),
        ("export.tsv", corpus.csv_bytes(ROWS, "\t"), "utf-8", "\t"),
        ("pipes.txt", corpus.csv_bytes(ROWS, "|", newline="\n"), "utf-8", "|"),
    ],
)
def test_text_files_are_read_whatever_their_encoding_and_delimiter(
    tmp_path, name, data, encoding, delimiter
):
    info, rows = read(tmp_path, name, data)
    assert (info.kind, info.encoding, info.delimiter) == ("csv", encoding, delimiter)
    assert rows == [[str(c) for c in r] for r in ROWS]


def test_quoted_newlines_crlf_and_blank_lines(tmp_path):
    data = (
        b'Name,Email\r\n"Smith, Ann\r\nJr",ann@acme.example.com\r\n\r\nBo,bo@acme.example.com\r\n'
    )
    _, rows = read(tmp_path, "q.csv", data)
    assert rows == [
        ["Name", "Email"],
        ["Smith, Ann\r\nJr", "ann@acme.example.com"],
        [],
        ["Bo", "bo@acme.example.com"],
    ]


def test_a_single_column_file_is_read(tmp_path):
    _, rows = read(tmp_path, "one.csv", b"Email\na@acme.example.com\nb@acme.example.com\n")
    assert rows == [["Email"], ["a@acme.example.com"], ["b@acme.example.com"]]


def test_workbooks_with_title_rows_several_sheets_formulas_and_dates(tmp_path):
    import datetime

    data = corpus.xlsx_bytes(
        {
            "Notes": [["nothing here"]],
            "Staff": [
                ["Q3 staff export"],
                [],
                corpus.HEADER,
                ["Ann", "Lee", "ann@acme.example.com", datetime.date(2026, 1, 5)],
                ["Bob", "Ray", '=CONCATENATE("b","@acme.example.com")', 42.0],
                ["Cy", "Fox", '=CONCATENATE("c","@acme.example.com")', 7],
            ],
        }
    )
    # Bob's formula as Excel saves it (with the value it shows); Cy's as a program
    # writes one, never computed.
    data = corpus.with_formula_values(
        data, "xl/worksheets/sheet2.xml", {"C5": "b@acme.example.com"}
    )
    info, rows = read(tmp_path, "staff.xlsx", data, sheet="Staff")
    assert info.sheets == ["Notes", "Staff"]
    assert rows[2] == corpus.HEADER
    assert rows[3] == ["Ann", "Lee", "ann@acme.example.com", "2026-01-05"]
    assert rows[4][2:] == ["b@acme.example.com", "42"]  # what Excel shows
    assert rows[5][2:] == ["", "7"]  # no value to show: an empty cell
    layout = cells.layout(rows)
    assert (layout.header_row, layout.email_column) == (3, 2)


def test_workbook_cells_come_back_as_typed_in_order_past_a_thousand_rows(tmp_path):
    """What the parser child writes and the review reads back (lines of up to a
    thousand rows): commas, quotes, line breaks, other scripts and ragged rows."""
    awkward = [["Ünïcode 名前", 'say "hi", then\nleave', "a,b;c|d\te"], ["only one"], []]
    people = corpus.people(2500)
    info, rows = read(tmp_path, "many.xlsx", corpus.xlsx_bytes({"S": [*awkward, *people]}))
    width = len(people[0])  # calamine pads each row to the sheet's width
    assert rows[:3] == [row + [""] * (width - len(row)) for row in awkward]
    assert rows[3:] == people
    assert len(rows) == 2503


def test_xlsm_is_read_as_data(tmp_path):
    info, rows = read(tmp_path, "macro.xlsm", corpus.xlsx_bytes({"S": ROWS}))
    assert info.kind == "xlsx" and rows[1][2] == "person0@acme.example.com"


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("empty.csv", b"", "The file is empty."),
        ("blank.csv", b"\r\n  \r\n", "The file is empty."),
        (
            "page.csv",
            b"<!DOCTYPE html><html><body><table></table></body></html>",
            "web page (HTML)",
        ),
        ("photo.csv", bytes(range(256)) * 40, "binary data"),
        ("old.xls", corpus.ole(None), "legacy Excel .xls file: save it as .xlsx or .csv"),
        ("locked.xlsx", corpus.ole("EncryptedPackage"), "password-protected"),
        ("broken.xlsx", b"PK\x03\x04" + b"garbage" * 100, "damaged"),
        ("bomb.xlsx", corpus.zip_bomb_xlsx(), "zip bomb"),
        ("laughs.xlsx", corpus.entity_bomb_xlsx()[0], "entity definitions"),
        ("external.xlsx", corpus.entity_bomb_xlsx()[1], "entity definitions"),
    ],
)
def test_unreadable_files_are_refused_with_the_reason(tmp_path, name, data, message):
    with pytest.raises(
        reader.FileProblem,
        match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\."),
    ):
        read(tmp_path, name, data)


def test_the_row_limit_is_enforced_while_streaming(tmp_path):
    with pytest.raises(reader.FileProblem, match="more than 5 rows"):
        read(tmp_path, "big.csv", corpus.csv_bytes([corpus.HEADER, *corpus.people(10)]), limit=5)


@pytest.mark.parametrize(
    "cell, address, reason",
    [
        ("  Ann.Lee@Acme.example.com ", "ann.lee@acme.example.com", None),
        ("\u00a0ann@acme.example.com\u200b", "ann@acme.example.com", None),
        ("mailto:ann@acme.example.com", "ann@acme.example.com", None),
        ("Ann Lee <ann@acme.example.com>", "ann@acme.example.com", None),
        ("", None, "empty"),
        ("=A1", None, "a formula"),
        ("a@acme.example.com; b@acme.example.com", None, "two addresses in one cell"),
        ("not an address", None, "not a valid address"),
        ("ann@acme", None, "not a valid address"),
        ("a" * 250 + "@acme.example.com", None, "longer than 254 characters"),
    ],
)
def test_email_cells_are_cleaned_or_explained(cell, address, reason):
    assert cells.clean_email(cell) == (address, reason)


@pytest.mark.parametrize("header", ["Email", "E-mail Address", "Work Email", "email_address"])
def test_the_likeliest_email_column_is_preselected(header):
    rows = [["Name", header, "Notes"], ["Ann", "x", "ann@acme.example.com"]]
    assert cells.layout(rows, header_row=1).email_column == 1


def test_without_an_email_header_the_column_with_addresses_is_chosen():
    rows = [["Name", "Contact"], ["Ann", "ann@acme.example.com"], ["Bob", "bob@acme.example.com"]]
    layout = cells.layout(rows)
    assert (layout.header_row, layout.email_column) == (1, 1)
    assert layout.headers == ["A: Name", "B: Contact"]


# -- the XLSX parser's own process, and its limits ------------------------------------


def test_forged_zip_sizes_are_caught_by_the_data_not_the_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "MAX_UNCOMPRESSED", 4 * 1024 * 1024)
    path = corpus.write(tmp_path, "forged.xlsx", corpus.forged_sizes_xlsx(8 * 1024 * 1024))
    reader._check_zip(path)  # the directory's sizes say nothing is wrong
    with pytest.raises(reader.FileProblem, match=r"expands to far more data"):
        reader.inspect(path)


def test_a_workbook_that_exhausts_the_parsers_memory_is_refused(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(reader, "PARSER_MEMORY", 64 * 1024 * 1024)
    caplog.set_level("INFO", logger=reader.__name__)
    with pytest.raises(reader.FileProblem, match=r"expands to far more data"):
        read(tmp_path, "huge.xlsx", corpus.big_sheet_xlsx(400_000), sheet="Sheet1")
    exits = [int(m.split("exit ")[1].split(",")[0]) for m in caplog.messages if "exit" in m]
    assert exits and exits[-1] < 0, caplog.messages  # killed by its own limit, not us


def test_a_parser_past_its_time_limit_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "PARSER_SECONDS", 0.01)
    with pytest.raises(reader.FileProblem, match=r"expands to far more data"):
        read(tmp_path, "slow.xlsx", corpus.xlsx_bytes({"S": ROWS}))


def test_the_row_limit_holds_for_workbooks_too(tmp_path):
    data = corpus.xlsx_bytes({"S": [corpus.HEADER, *corpus.people(3000)]})
    with pytest.raises(reader.FileProblem, match="more than 1,500 rows"):
        read(tmp_path, "big.xlsx", data, limit=1500)


def test_a_missing_sheet_is_named(tmp_path):
    path = corpus.write(tmp_path, "s.xlsx", corpus.xlsx_bytes({"S": ROWS}))
    with pytest.raises(reader.FileProblem, match="no sheet named 'Other'"):
        list(reader.rows(path, reader.inspect(path), "Other"))


def test_a_workbook_is_parsed_once_and_discarded_with_what_was_written(tmp_path, caplog):
    caplog.set_level("INFO", logger=reader.__name__)
    sheets = {"First": ROWS, "Second": [corpus.HEADER, *corpus.people(2)]}
    path = corpus.write(tmp_path, "two.xlsx", corpus.xlsx_bytes(sheets))
    info = reader.inspect(path)
    for _ in range(2):  # the column page's first rows, then the review's
        assert list(reader.rows(path, info)) == ROWS
    assert list(reader.rows(path, info, "Second")) == sheets["Second"]
    assert list(reader.rows(path, info, "Second")) == sheets["Second"]
    parses = [m for m in caplog.messages if m.startswith("xlsx parser")]
    assert len(parses) == 2, parses  # at upload (the first sheet), and for "Second"
    reader.discard(path)
    assert list(tmp_path.iterdir()) == []


def test_a_sheet_refused_at_upload_is_refused_when_read(tmp_path, caplog):
    caplog.set_level("INFO", logger=reader.__name__)
    broken = b"<worksheet><sheetData><row><c><v>1</v></row></wrong>"
    data = corpus.with_member(corpus.xlsx_bytes({"S": ROWS}), "xl/worksheets/sheet1.xml", broken)
    path = corpus.write(tmp_path, "broken-sheet.xlsx", data)
    info = reader.inspect(path)  # the names are read: the column page names the problem
    assert info.sheets == ["S"]
    for _ in range(2):
        with pytest.raises(reader.FileProblem, match="may be damaged"):
            next(reader.rows(path, info))
    assert len([m for m in caplog.messages if m.startswith("xlsx parser")]) == 1
