"""The password policy (NIST SP 800-63B-4, single-factor passwords): a length, a
blocklist, no composition rules."""

import pytest

from app.errors import Invalid
from app.services import passwords
from app.services.managers import create_manager
from app.tenancy import system_actor


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",  # words and spaces, no digits or capitals
        "ourdentalteamrenewsinjune",  # lower-case letters only
        "x" * 5 + "y" * 5 + "abcde",  # 15 characters exactly
        "Eine Zahnarztpraxis in Köln, seit 1998 unser Kunde",  # any Unicode
        "w" + "anderlust-orchid-" * 7 + "z",  # 121 characters: passphrases fit
    ],
)
def test_long_passphrases_of_any_composition_are_accepted(app, password):
    with app.app_context():
        assert passwords.problem(password) is None


@pytest.mark.parametrize(
    "password, reason",
    [
        ("a", "at least 15 characters"),
        ("renew-2026", "at least 15 characters"),
        ("fourteen-chars", "at least 15 characters"),
        ("q" * 60 + "uite-long-" * 7, "at most 128 characters"),
        ("password12345678", "too common"),  # a common password with digits around
        ("!!Iloveyou2026!!", "too common"),
        ("1234567890123456", "too common"),  # nothing but digits
        ("abcabcabcabcabcabc", "repetitive or predictable"),
        ("passwordpassword", "repetitive or predictable"),
        ("aaaaaaaaaaaaaaab", "repetitive or predictable"),
        ("qwertyuiopasdfgh", "repetitive or predictable"),
        ("zyxwvutsrqponmlk", "repetitive or predictable"),
        ("my-license-renewals-pw", "the panel's name"),
    ],
)
def test_short_common_or_predictable_passwords_are_refused(app, password, reason):
    with app.app_context():
        assert reason in passwords.problem(password)


def test_a_password_containing_the_username_or_the_address_is_refused(app):
    with app.app_context():
        context = {"username": "jsmith", "email": "jane.smith@acme.example"}
        assert "your username" in passwords.problem("jsmith-likes-tea-a-lot", **context)
        assert "your email" in passwords.problem("Jane.Smith of accounts", **context)
        assert passwords.problem("a cup of tea at four", **context) is None


def test_every_way_of_creating_a_manager_applies_the_policy(tree):
    with pytest.raises(Invalid, match="at least 15 characters"):
        create_manager(
            system_actor("cli"),
            tree.customer.id,
            username="newbie",
            first_name="New",
            last_name="Bie",
            email="newbie@example.com",
            password="long-enough",
        )


def test_the_same_passphrase_typed_on_another_keyboard_is_the_same_password(app):
    with app.app_context():
        full_width = "ｆｕｌｌ ｗｉｄｔｈ ｐａｓｓｐｈｒａｓｅ"
        assert passwords.check(full_width) == "full width passphrase"
