"""One definition of a valid email address, for a form (one address, with
email-validator's explanation) and for a spreadsheet (100,000 cells, with a fast
matcher: email-validator costs ~27 µs an address). Both accept exactly the same
addresses — `tests/test_addresses.py` holds the corpus both are checked against:

- ASCII only (the mail server the panel hands its emails to may not speak SMTPUTF8);
- a dot-atom local part of at most 64 characters, at most 254 in all (RFC 5321);
- a domain of letters, digits and hyphens with a dot and a top-level domain of
  letters; Active Directory's `.local` and `.test` are accepted (real mailboxes at
  MSP customers), the other special-use names (`.invalid`, `.localhost`, `.onion`,
  `.arpa`) are not.
"""

from __future__ import annotations

import re

import email_validator
from email_validator import EmailNotValidError, validate_email

from app.errors import Invalid

# email-validator's documented switch for special-use domains that hold mailboxes.
for _name in ("local", "test"):
    if _name in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        email_validator.SPECIAL_USE_DOMAIN_NAMES.remove(_name)
SPECIAL_USE = tuple(email_validator.SPECIAL_USE_DOMAIN_NAMES)

MAX_ADDRESS = 254
MAX_LOCAL = 64
ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def matches(text: str) -> bool:
    """Whether `text` (already trimmed) is exactly one valid address: the importer's
    matcher, a few regular-expression steps per cell."""
    if not text or len(text) > MAX_ADDRESS or not text.isascii() or not ADDRESS.fullmatch(text):
        return False
    local, _, domain = text.rpartition("@")
    if len(local) > MAX_LOCAL:
        return False
    tld = domain.rsplit(".", 1)[-1].lower()
    return tld not in SPECIAL_USE


def parse(value: str | None, field: str = "email") -> str:
    """One address typed in a form: trimmed and lower-cased, or Invalid with the
    reason in words."""
    text = (value or "").strip()
    if not text:
        raise Invalid("Email is required.", field)
    try:
        validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise Invalid(f"'{text}' is not a valid email address: {exc}", field) from exc
    if not matches(text):
        raise Invalid(f"'{text}' is not a valid email address.", field)
    return text.lower()
