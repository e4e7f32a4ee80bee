"""The guide's "Select Users by CSV" step, clicked: Expired Licenses → Select Users
by CSV → Import Licence Renewal → add the file → choose the Email column → review
→ Renew Licences; the learners move to Allocated."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import expired_emails, sign_in
from tests.imports import corpus

pytestmark = pytest.mark.browser


def upload(page, path, email_column: str) -> None:
    """Select Users by CSV → add the file; the Email column is preselected."""
    page.get_by_role("link", name="Select Users by CSV").click()
    expect(page.locator("h1")).to_have_text("Import Licence Renewal")
    page.get_by_label("Add your User spreadsheet file").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    select = page.get_by_label("Select the spreadsheet column containing Email")
    expect(select).to_have_value(email_column)


def review_and_renew(page, emails: list[str], not_taken: int, *reasons: str) -> None:
    """Review: `emails` identified, `not_taken` rows explained with `reasons`; then
    Renew Licences, after which the people are listed as allocated."""
    page.get_by_role("button", name="Review").click()
    expect(page.locator('[data-review="taken"]')).to_have_text(str(len(emails)))
    expect(page.locator('[data-review="not_taken"]')).to_have_text(str(not_taken))
    for reason in reasons:
        expect(page.locator("table.import-rejected")).to_contain_text(reason)
    for email in emails:  # who will be renewed, listed before renewing
        expect(page.locator("table.import-taken")).to_contain_text(email)
    counted = page.locator("ul.import-reasons li strong").all_inner_texts()
    assert sum(int(n.replace(",", "")) for n in counted) == not_taken  # counts per reason
    page.get_by_role("button", name="Renew Licences").click()
    expect(page.locator("body")).to_contain_text(f"Renewed {len(emails)} licenses.")
    for email in emails:
        expect(page.locator("table.table-bordered")).to_contain_text(email)


def test_renew_from_an_xlsx_with_title_rows(page, live_server, tmp_path):
    sign_in(page, live_server, "customer2")
    emails = expired_emails(page, 3)
    rows = [
        ["Initech staff to renew"],
        [],
        ["Full name", "Work Email"],
        *[[f"Person {i}", e.upper()] for i, e in enumerate(emails)],
        ["Nobody", "nobody@initech.example"],
        ["Again", emails[0]],
    ]
    path = corpus.write(tmp_path, "renew.xlsx", corpus.xlsx_bytes({"Staff": rows}))

    upload(page, path, email_column="1")  # "B: Work Email", found under the title rows
    review_and_renew(page, emails, 2, "not found in this company", "duplicate of row 4")


def test_renew_from_a_windows_1252_csv_with_semicolons(page, live_server, tmp_path):
    sign_in(page, live_server, "customer2")
    emails = expired_emails(page, 2)
    rows = [
        ["Nom", "Prénom", "Adresse e-mail"],
        ["Müller", "Zoë", emails[0]],
        ["Núñez", "José", f"  {emails[1]}  "],
        ["Faÿ", "Renée", "not-an-address"],
    ]
    path = corpus.write(tmp_path, "renew.csv", corpus.csv_bytes(rows, ";", "cp1252"))
    upload(page, path, email_column="2")  # "C: Adresse e-mail"
    expect(page.locator("body")).to_contain_text("Müller")  # the preview, decoded
    review_and_renew(page, emails, 1, "not-an-address")
