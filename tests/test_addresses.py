"""One definition of a valid address: a form's check (email-validator) and the
importer's fast matcher accept exactly the same addresses of one corpus."""

import pytest

from app import addresses
from app.errors import Invalid
from app.imports.cells import clean_email, clean_emails

VALID = [
    "jane.doe@acme.example.com",
    "j.o'neil@acme.co.uk",
    "first+tag@sub.domain.org",
    "UPPER.Case@Example.COM",
    "user_name@corp.local",  # Active Directory domains hold real mailboxes
    "it-admin@lab.test",
    "a@b.io",
    "x" * 64 + "@example.com",
    "o@xn--bcher-kva.de",
    "digits123@1and1.com",
    "hyphen@my-company.example.org",
    "x" * 50 + "@" + "y" * 9 + ".com",  # 64 characters: the short cells' pattern
    "x" * 51 + "@" + "y" * 9 + ".com",  # 65: the long cells' pattern
    "a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 56 + ".com",  # 254
]
INVALID = [
    "",
    "plainaddress",
    "@no-local.com",
    "no-domain@",
    "a@b",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a@-example.com",
    "a@example-.com",
    "a@example..com",
    "a b@example.com",
    "two@@example.com",
    "x" * 65 + "@example.com",  # a local part over 64
    "a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 57 + ".com",  # 255
    "jörg@example.de",
    "a@bücher.de",
    "a@localhost",
    "a@host.localhost",
    "a@site.invalid",
    "a@hidden.onion",
    "a@1.in-addr.arpa",
    "a@[127.0.0.1]",
    '"quoted"@example.com',
    "a@b.c0m",
    "a@example.c",
    "a@b.co1",
    "a@b.-c.com",
    "a@b-.c.com",
    "a@b.c.com.",
    "a.@b.com",
    "a@b.ONION",
]


@pytest.mark.parametrize("address", VALID)
def test_a_valid_address_is_accepted_by_the_form_and_the_importer(address):
    assert addresses.parse(address) == address.lower()
    assert clean_email(address) == (address.lower(), None)


@pytest.mark.parametrize("address", INVALID)
def test_an_invalid_address_is_refused_by_the_form_and_the_importer(address):
    with pytest.raises(Invalid):
        addresses.parse(address)
    assert clean_email(address)[0] is None


@pytest.mark.parametrize("address", VALID + INVALID)
def test_a_column_checked_at_once_agrees_with_each_cell(address):
    """The importer checks a chunk of cells in one call; one bad cell sends the
    whole chunk back to be checked cell by cell."""
    column = ["first@acme.example.com", address, "LAST@Acme.example.com"]
    expected = [c.lower() for c in column] if addresses.matches(address) else None
    assert addresses.all_lowered(column) == expected
    assert addresses.all_lowered([address]) == ([address.lower()] if expected else None)


@pytest.mark.parametrize(
    "cells",
    [
        [],
        ["a@example.com\nb@example.com"],  # two addresses in one cell
        ["a@example.com\n"],
        [" a@example.com"],  # untrimmed: cleaned cell by cell
        ["a@example.com", ""],
    ],
)
def test_a_column_that_is_not_only_addresses_is_checked_cell_by_cell(cells):
    assert addresses.all_lowered(cells) is None


@pytest.mark.parametrize(
    "column",
    [
        [a for a in VALID],  # a clean column: the fast path
        VALID + INVALID + [" Padded@Example.com ", "Jane <jane@example.com>"],
    ],
)
def test_a_column_is_cleaned_as_each_of_its_cells(column):
    assert clean_emails(column) == [clean_email(cell) for cell in column]
