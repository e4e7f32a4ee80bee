"""The import screens through the test client: upload, columns, review, Renew
Licences, the downloads; bad files and other tenants."""

import csv
import io
import re

from openpyxl import load_workbook
from sqlalchemy import func, select

from app.models import ImportBatch, License
from tests import factories
from tests.imports import corpus


def upload(client, data: bytes, name: str, kind="renewal"):
    return client.post(
        f"/imports/{kind}/upload",
        data={"file": (io.BytesIO(data), name), "csrf_token": client.csrf},
        content_type="multipart/form-data",
    )


def walk_to_review(client, data, name):
    response = upload(client, data, name)
    assert response.status_code == 302, response.get_data(as_text=True)
    columns_url = response.headers["Location"]
    page = client.get(columns_url).get_data(as_text=True)
    header_row = re.search(r'name="header_row" value="(\d+)"', page).group(1)
    email_column = re.search(
        r'<option value="(\d+)" selected>[^<]*</option>', page.split('id="email_column"', 1)[1]
    ).group(1)
    response = client.post(
        columns_url,
        data={"header_row": header_row, "email_column": email_column, "csrf_token": client.csrf},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"], page


def test_the_guides_csv_renewal_from_expired_licenses(tree, as_user, session):
    expired = factories.expired_people(tree.customer, 4)
    factories.assigned_order(tree.customer, 10)
    session.commit()
    client = as_user(tree.users["customer"])
    tab = client.get("/licenses/expired/list/").get_data(as_text=True)
    assert "Select Users by CSV" in tab and "Import Licence Renewal" in tab
    rows = [
        ["Mitarbeiterliste"],
        [],
        ["Name", "E-Mail-Adresse"],
        *[[f"Zoë {p.last_name}", p.email] for p in expired],
        ["Ghost", "ghost@acme.example.com"],
        ["Bad", "=1+1"],
    ]
    review_url, columns = walk_to_review(client, corpus.csv_bytes(rows, ";", "cp1252"), "staff.csv")
    assert "Zoë" in columns and "Select the spreadsheet column containing Email" in columns
    page = client.get(review_url).get_data(as_text=True)
    assert re.search(r'data-review="taken">4<', page) and "users identified for renewal" in page
    assert re.search(r'data-review="not_taken">2<', page)
    assert "not found in this company" in page and "not an email address (a formula)" in page
    # who will be renewed, by name, and the rows not taken counted by reason first
    listed = re.findall(
        r'<table class="table table-condensed import-taken">(.*?)</table>', page, re.S
    )
    assert all(p.email in listed[0] and p.last_name in listed[0] for p in expired)
    reasons = dict(re.findall(r'data-reason="(\w+)"><strong>(\d+)</strong>', page))
    assert reasons == {"not_found": "1", "invalid": "1"}
    download = client.get(review_url.replace("/review", "/taken.csv")).get_data(as_text=True)
    assert sorted(line.split(",")[1] for line in download.strip().splitlines()[1:]) == sorted(
        p.email for p in expired
    )
    response = client.post(
        review_url.replace("/review", "/commit"),
        data={"csrf_token": client.csrf},
        follow_redirects=True,
    )
    assert "Renewed 4 licenses." in response.get_data(as_text=True)
    assert (
        session.scalar(
            select(func.count())
            .select_from(License)
            .where(License.learner_id.in_([p.id for p in expired]), License.ended_at.is_(None))
        )
        == 8
    )


def test_the_rows_not_taken_download_with_neutralised_cells(tree, as_user, session):
    factories.expired_people(tree.customer, 1)
    session.commit()
    client = as_user(tree.users["customer"])
    # A CSV keeps a formula as its text (a workbook's is read as its value).
    data = corpus.csv_bytes([["Email"], ['=HYPERLINK("x")'], ["@bad"], ["+1 555"]])
    review_url, _ = walk_to_review(client, data, "x.csv")
    text = client.get(review_url.replace("/review", "/rejected.csv")).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Row", "Value", "Reason"]
    assert rows[1] == ["2", '\'=HYPERLINK("x")', "not an email address (a formula)"]
    assert rows[2][1] == "'@bad" and rows[3][1] == "'+1 555"
    book = load_workbook(
        io.BytesIO(client.get(review_url.replace("/review", "/rejected.xlsx")).data)
    )
    values = [c.value for row in book.active.iter_rows() for c in row]
    assert '\'=HYPERLINK("x")' in values and not any(
        str(v).startswith("=") for v in values if v is not None
    )


def test_bad_files_get_a_clear_message_and_change_nothing(tree, as_user, session):
    client = as_user(tree.users["customer"])
    laughs, external = corpus.entity_bomb_xlsx()
    for data, name, message in [
        (b"", "empty.csv", "The file is empty."),
        (corpus.ole(None), "old.xls", "save it as .xlsx or .csv"),
        (b"hello", "notes.docx", "Upload a spreadsheet"),
        (corpus.ole("EncryptedPackage"), "locked.xlsx", "password-protected"),
        (b"<html><body>export</body></html>", "export.csv", "web page (HTML)"),
        (bytes(range(256)) * 20, "photo.csv", "binary data"),
        (b"PK\x03\x04broken", "broken.xlsx", "damaged"),
        (corpus.zip_bomb_xlsx(), "bomb.xlsx", "zip bomb"),
        (laughs, "laughs.xlsx", "entity definitions"),
        (external, "external.xlsx", "entity definitions"),
    ]:
        response = upload(client, data, name)
        assert response.status_code == 200
        assert message in response.get_data(as_text=True), name
    assert session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_a_file_over_the_size_limit_gets_the_413_page(tree, as_user, app, session):
    client = as_user(tree.users["customer"])
    saved = app.config["MAX_CONTENT_LENGTH"]
    # A small limit for the test: the behaviour is the same at 20 MB, and the body
    # stays below the size at which Werkzeug spools uploads to a temporary file.
    app.config["MAX_CONTENT_LENGTH"] = 100_000
    try:
        response = upload(client, b"a" * 100_001, "huge.csv")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = saved
    assert response.status_code == 413
    assert "larger than the limit" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_a_header_without_rows_is_explained(tree, as_user, session):
    client = as_user(tree.users["customer"])
    response = upload(client, b"Email\r\n", "header.csv")
    columns_url = response.headers["Location"]
    response = client.post(
        columns_url,
        data={"header_row": "1", "email_column": "0", "csrf_token": client.csrf},
        follow_redirects=True,
    )
    assert "no data rows under its header (row 1)" in response.get_data(as_text=True)


def test_more_rows_than_the_limit_is_refused_and_stages_nothing(tree, as_user, session, app):
    from app.models import ImportRow

    client = as_user(tree.users["customer"])
    saved, app.config["IMPORT_MAX_ROWS"] = app.config["IMPORT_MAX_ROWS"], 5
    try:
        data = corpus.csv_bytes([["Email"], *[[f"p{i}@acme.example.com"] for i in range(9)]])
        columns_url = upload(client, data, "big.csv").headers["Location"]
        response = client.post(
            columns_url,
            data={"header_row": "1", "email_column": "0", "csrf_token": client.csrf},
            follow_redirects=True,
        )
    finally:
        app.config["IMPORT_MAX_ROWS"] = saved
    assert "more than 5 rows" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ImportRow)) == 0


def test_another_company_cannot_see_or_commit_an_upload(tree, as_user, session):
    factories.expired_people(tree.customer, 1)
    session.commit()
    owner = as_user(tree.users["customer"])
    review_url, _ = walk_to_review(
        owner, corpus.csv_bytes([["Email"], ["a@b.example.com"]]), "a.csv"
    )
    intruder = as_user(tree.users["sub_customer"])
    assert intruder.get(review_url).status_code == 404
    assert intruder.get(review_url.replace("/review", "/rejected.csv")).status_code == 404
    assert (
        intruder.post(
            review_url.replace("/review", "/commit"), data={"csrf_token": intruder.csrf}
        ).status_code
        == 404
    )


def test_import_learners_from_the_learners_screen(tree, as_user, session):
    client = as_user(tree.users["customer"])
    assert "Import Learners" in client.get("/learners/list/").get_data(as_text=True)
    data = corpus.csv_bytes(
        [
            ["First name", "Last name", "Email", "Department"],
            ["New", "One", "new.one@acme.example.com", "Ops"],
        ]
    )
    response = upload(client, data, "people.csv", kind="learners")
    columns_url = response.headers["Location"]
    page = client.get(columns_url).get_data(as_text=True)
    assert "First name column" in page
    response = client.post(
        columns_url,
        data={
            "header_row": "1",
            "email_column": "2",
            "first_name_column": "0",
            "last_name_column": "1",
            "department_column": "3",
            "csrf_token": client.csrf,
        },
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert re.search(r'data-review="new">1<', html)
    commit = re.search(r'action="(/imports/\d+/commit)"', html).group(1)
    html = client.post(commit, data={"csrf_token": client.csrf}, follow_redirects=True).get_data(
        as_text=True
    )
    assert "Added 1 learner and updated 0 learners;" in html
    assert "new.one@acme.example.com" in html


def test_the_review_lists_flagged_people_apart_and_includes_them_when_asked(tree, as_user, session):
    expired = factories.expired_people(tree.customer, 3)
    factories.assigned_order(tree.customer, 10)
    expired[0].do_not_renew = True
    session.commit()
    client = as_user(tree.users["customer"])
    rows = [["Email"], *[[p.email] for p in expired]]
    review_url, _ = walk_to_review(client, corpus.csv_bytes(rows), "renew.csv")
    page = client.get(review_url).get_data(as_text=True)
    assert re.search(r'data-review="taken">2<', page)
    assert '<li data-reason="flagged"><strong>1</strong> flagged do-not-renew</li>' in page
    assert "Include them: also renew the 1 person flagged do-not-renew" in page
    commit = review_url.replace("/review", "/commit")
    done = client.post(
        commit, data={"csrf_token": client.csrf, "include_flagged": "y"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Renewed 3 licenses." in done
