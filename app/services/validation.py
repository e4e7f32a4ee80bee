"""Small input checks shared by the services."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from app import addresses
from app.errors import Invalid


def required_text(value: str | None, field: str, label: str, max_length: int) -> str:
    text = (value or "").strip()
    if not text:
        raise Invalid(f"{label} is required.", field)
    if len(text) > max_length:
        raise Invalid(f"{label} must be at most {max_length} characters.", field)
    return text


def optional_text(value: str | None, field: str, label: str, max_length: int) -> str | None:
    text = (value or "").strip()
    if len(text) > max_length:
        raise Invalid(f"{label} must be at most {max_length} characters.", field)
    return text or None


def email_address(value: str | None, field: str = "email") -> str:
    """One address from a form, trimmed and lower-cased (app/addresses.py; no DNS)."""
    return addresses.parse(value, field)


def time_zone(value: str | None, field: str = "timezone") -> str:
    name = (value or "UTC").strip()
    if name not in _zone_names():
        raise Invalid(f"'{name}' is not a known time zone (use an IANA name).", field)
    try:
        ZoneInfo(name)
    except ZoneInfoNotFoundError as exc:
        raise Invalid(f"'{name}' is not a known time zone.", field) from exc
    return name


_ZONES: list[str] = []


def _zone_names() -> list[str]:
    if not _ZONES:
        _ZONES.extend(sorted(available_timezones() | {"UTC"}))
    return _ZONES


def zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in _zone_names()]
