"""Add Filter's operators in plain words ("contains", "is", "before"), and fewer of
them: FAB offers ten per text column ("Not Starts with", "Relation", …).

A filter is named in the URL by its position in its column's list (`_flt_3_status`):
the operators kept stay at the positions FAB gave them, so links already written
keep their meaning (links in older emails: `_flt_3_status=requested`): text
`starts with`, `ends with`, `contains`, `is`, `is not` (panel.js starts a new text
filter on `contains`); numbers `is`, `more than`, `less than`, `is not`; times
`on`, `after`, `before` (FAB's equal, greater, smaller), each a day of the page's
time zone.
"""

from __future__ import annotations

import re
from abc import ABCMeta, abstractmethod
from collections.abc import Hashable
from datetime import date, datetime, timedelta

from dateutil import parser as dates
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
from sqlalchemy import and_
from wtforms import SelectField

from app.display import zone
from app.models import Learner
from app.sql import like_any
from app.views.context import display_zone


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


def parse_day(value) -> date | None:
    """A day as people type it ("2026-12-01", "1 Dec 2026", "12/01/2026"), or None."""
    try:
        day = dates.parse(str(value).strip()).date()
    except (ValueError, OverflowError):
        return None
    return day if FIRST_YEAR <= day.year <= LAST_YEAR else None


FIRST_YEAR, LAST_YEAR = 1900, 9000


class DayFilter(BaseFilter):
    """A condition on an instant against a day of the page's time zone: `bounds`
    gives the condition from the day's local midnight and the next one."""

    def apply(self, query, value):
        day = parse_day(value)
        if day is None:
            return query  # refused before the view runs (request_checks)
        start = datetime(day.year, day.month, day.day, tzinfo=zone(display_zone()))
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(self.bounds(field, start, start + timedelta(days=1)))


class OnDay(DayFilter):
    name = "on"
    arg_name = "on"

    def bounds(self, field, start, end):
        return and_(field >= start, field < end)


class After(DayFilter):
    name = "after"
    arg_name = "after"

    def bounds(self, field, start, end):
        return field >= end


class Before(DayFilter):
    name = "before"
    arg_name = "before"

    def bounds(self, field, start, end):
        return field < start


class RelationIs(FilterRelationOneToManyEqual):
    name = "is"


class RelationIsNot(FilterRelationOneToManyNotEqual):
    name = "is not"


TEXT = [StartsWith, EndsWith, Contains, Is, IsNot]
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
        ("is_json", TEXT),
    )

    def convert(self, col_name):
        """A column's operators, made once per interface: FAB builds a fresh `Filters`
        (converting every column of the model) for each list's joined filters, its
        count and its page. Filters hold no state of a request, as FAB's own view
        keeps one set for every request. A new list each time: FAB extends a
        column's list in place with a view's `search_filters`."""
        made = self.datamodel.__dict__.setdefault("_operators", {})
        if col_name not in made:
            made[col_name] = super().convert(col_name)
        return list(made[col_name]) if made[col_name] is not None else None


QUICK_SEARCH_ARG = "q"
# A filter in a list's URL: `_flt_<position of its operator>_<column>`.
FILTER_ARG = re.compile(r"_flt_(\d+)_(.+)")


def quick_search_term() -> str:
    return request.args.get(QUICK_SEARCH_ARG, "").strip()[:100]


class KeptFilter(BaseFilter, metaclass=ABCMeta):
    """A view's base filter that a list's statements built once can hold
    (`ScopedInterface.prepared`): its condition is a shape and values (`narrowing`),
    the values bound as parameters there and given as they are to FAB's query. A
    subclass defines both methods (an abstract base: it cannot be made otherwise)."""

    @abstractmethod
    def narrowing(self, value) -> tuple[Hashable, dict] | None:
        """This request's shape and values; None: only FAB's query can apply it."""

    @abstractmethod
    def conditions(self, shape: Hashable, values: dict) -> list:
        """The conditions of `shape`, of `values`: the request's own, or bound
        parameters of the same names."""

    def apply(self, query, value):
        return query.filter(*self.conditions(*self.narrowing(value)))


class QuickSearch(KeptFilter):
    """The list's quick search box (`?q=`): a base filter, so the list, its count,
    Select All and the exports all see it. Its value is the view's
    `quick_search(term)`, giving the condition for a term. A term's words and
    patterns vary: only FAB's query applies one."""

    name = "quick search"
    arg_name = "qs"

    def narrowing(self, value):
        return None if quick_search_term() else (None, {})

    def conditions(self, shape, values):
        return []

    def apply(self, query, value):
        term = quick_search_term()
        return query.filter(value(term)) if term else query


def choice_field(label: str, choices) -> SelectField:
    """A filter's value as a dropdown (status, kind): a StrEnum's members with their
    labels, so nobody types "Requested" where the stored value is "requested"."""
    return SelectField(label, choices=[(c.value, c.label) for c in choices])


def words_match(term: str, *columns):
    """Every word of `term` is in one of `columns` ("ava smith" finds Ava Smith)."""
    return and_(*(like_any(word, *columns) for word in term.split()))


class PeopleSearch:
    """The quick search of a list of learners: a name or an email."""

    quick_search_label = "name or email"

    def quick_search(self, term: str):
        return words_match(term, Learner.first_name, Learner.last_name, Learner.email)
