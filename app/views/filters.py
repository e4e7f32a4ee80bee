"""Add Filter's operators in plain words ("contains", "is", "before"), and fewer of
them: FAB offers ten per text column ("Not Starts with", "Relation", …).

A filter is named in the URL by its position in its column's list (`_flt_3_status`):
the positions FAB gave the kept operators stay where links already use them — for
text, `is` stays fourth (links in older emails: `_flt_3_status=requested`), and
numbers keep `is`, `more than`, `less than`, `is not`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import request
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import (
    FilterContains,
    FilterEndsWith,
    FilterEqual,
    FilterGreater,
    FilterNotEqual,
    FilterRelationOneToManyEqual,
    FilterRelationOneToManyNotEqual,
    FilterSmaller,
    FilterStartsWith,
    SQLAFilterConverter,
    get_field_setup_query,
)
from sqlalchemy import and_, or_
from wtforms import SelectField


class Contains(FilterContains):
    name = "contains"


class StartsWith(FilterStartsWith):
    name = "starts with"


class EndsWith(FilterEndsWith):
    name = "ends with"


class Is(FilterEqual):
    name = "is"


class IsNot(FilterNotEqual):
    name = "is not"


class MoreThan(FilterGreater):
    name = "more than"


class LessThan(FilterSmaller):
    name = "less than"


class After(FilterGreater):
    name = "after"


class Before(FilterSmaller):
    name = "before"


class OnDay(BaseFilter):
    """An instant on a day (YYYY-MM-DD) of the page's time zone."""

    name = "on"
    arg_name = "on"

    def apply(self, query, value):
        from app.display import zone
        from app.views.base import display_zone

        try:
            day = date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            return query
        start = datetime(day.year, day.month, day.day, tzinfo=zone(display_zone()))
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field >= start, field < start + timedelta(days=1))


class RelationIs(FilterRelationOneToManyEqual):
    name = "is"


class RelationIsNot(FilterRelationOneToManyNotEqual):
    name = "is not"


TEXT = [Contains, StartsWith, EndsWith, Is, IsNot]
NUMBER = [Is, MoreThan, LessThan, IsNot]
INSTANT = [OnDay, After, Before]


class PlainFilterConverter(SQLAFilterConverter):
    conversion_table = (
        ("is_relation_many_to_one", [RelationIs, RelationIsNot]),
        ("is_relation_one_to_one", [RelationIs, RelationIsNot]),
        *(
            (check, filters)
            for check, filters in SQLAFilterConverter.conversion_table
            if check in ("is_relation_many_to_many", "is_relation_one_to_many")
        ),
        ("is_enum", [Is, IsNot]),
        ("is_text", TEXT),
        ("is_string", TEXT),
        ("is_integer", NUMBER),
        ("is_float", NUMBER),
        ("is_numeric", NUMBER),
        ("is_date", INSTANT),
        ("is_datetime", INSTANT),
        ("is_boolean", [Is, IsNot]),
    )


QUICK_SEARCH_ARG = "q"


def quick_search_term() -> str:
    return request.args.get(QUICK_SEARCH_ARG, "").strip()[:100]


class QuickSearch(BaseFilter):
    """The list's quick search box (`?q=`): a base filter, so the list, its count,
    Select All and the exports all see it. Its value is the view's
    `quick_search(term)`, giving the condition for a term."""

    name = "quick search"
    arg_name = "qs"

    def apply(self, query, value):
        term = quick_search_term()
        return query.filter(value(term)) if term else query


def like_any(term: str, *columns):
    """Any of `columns` contains `term` (case-insensitive; %, _ taken literally)."""
    pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))


def choice_field(label: str, choices) -> SelectField:
    """A filter's value as a dropdown (status, kind): a StrEnum's members with their
    labels, so nobody types "Requested" where the stored value is "requested"."""
    return SelectField(label, choices=[(c.value, c.label) for c in choices])


def words_match(term: str, *columns):
    """Every word of `term` is in one of `columns` ("ava smith" finds Ava Smith)."""
    return and_(*(like_any(word, *columns) for word in term.split()))
