"""Bad input gets a clear message, never a 500: checked before any view sees it.

- A NUL character in any query or form value, or in an uploaded file's name, is
  refused (PostgreSQL cannot store one; nobody types one).
- Flask-AppBuilder reads a list's filters, sort, page and page size straight from
  the query string and crashes on values it does not expect (a filter index out
  of range, a page size of "abc", an unknown sort column, a number too large for
  the column). Those of the view being asked are checked here.

Either answers 400 with the panel's error page naming the parameter; nothing
runs. (Ids beyond the INTEGER columns are not found: app/security.py's
IdCheckingInterface, which ScopedInterface builds on.)
"""

from __future__ import annotations

from flask import request
from flask_appbuilder import ModelView

from app.tenancy import MAX_ID
from app.views.filters import FILTER_ARG, parse_day

MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000


def register(app, views: list) -> None:
    by_endpoint = {view.endpoint: view for view in views if isinstance(view, ModelView)}

    @app.before_request
    def refuse_bad_input():
        from app.views.errors import error_page

        problem = nul_problem()
        if problem is None and request.endpoint:
            view = by_endpoint.get(request.endpoint.partition(".")[0])
            problem = list_problem(view) if view is not None else None
        if problem:
            return error_page(400, f"{problem} Nothing was changed.")
        return None


def nul_problem() -> str | None:
    for source, values in (("address", request.args), ("form", request.form)):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                return f"A {source} field ({_printable(key)}) contains a NUL character."
    for upload in request.files.values():
        if "\x00" in (upload.filename or ""):
            return "The uploaded file's name contains a NUL character."
    return None


def list_problem(view: ModelView) -> str | None:
    """What is wrong with the list arguments meant for `view`, if anything."""
    name = view.__class__.__name__
    for key, value in request.args.items(multi=True):
        if key == f"psize_{name}" and not _whole(value, 1, MAX_PAGE_SIZE):
            return f"The page size must be a whole number from 1 to {MAX_PAGE_SIZE}."
        if key == f"page_{name}" and not _whole(value, 0, MAX_PAGE):
            return "The page number must be a whole number, 0 or more."
        if key == f"_oc_{name}" and value not in view.order_columns:
            return f"The list cannot be sorted by {_printable(value)!r}."
        if key == f"_od_{name}" and value not in ("asc", "desc"):
            return "The sort direction must be asc or desc."
        match = FILTER_ARG.fullmatch(key)
        if match:
            problem = _filter_problem(view, int(match.group(1)), match.group(2), value)
            if problem:
                return problem
    return None


def _filter_problem(view: ModelView, index: int, column: str, value: str) -> str | None:
    filters = view._filters.get_search_filters().get(column)
    label = view.label_columns.get(column, column.replace("_", " "))
    if filters is None:
        return f"The list cannot be filtered by {_printable(column)!r}."
    if index >= len(filters):
        return f"That filter on {label} does not exist."
    model = view.datamodel
    if model.is_relation(column):
        return None if _whole(value, 1, MAX_ID) else f"Choose the {label} from the list."
    if model.is_integer(column):  # every integer column is an INTEGER
        return None if _whole(value, -MAX_ID, MAX_ID) else f"{label} must be a whole number."
    if model.is_float(column) or model.is_numeric(column):
        return None if _number(value) else f"{label} must be a number."
    if model.is_boolean(column):
        return None if value in ("y", "n", "") else f"{label} must be y or n."
    if model.is_date(column) or model.is_datetime(column):
        return None if _date(value) else f"{label} must be a date, such as 2026-12-01."
    return None


def _whole(value: str, low: int, high: int) -> bool:
    try:
        number = int(value.strip())
    except ValueError:
        return False
    return low <= number <= high


def _number(value: str) -> bool:
    try:
        return abs(float(value)) < 1e15
    except ValueError:
        return False


def _date(value: str) -> bool:
    return parse_day(value) is not None


def _printable(text: str) -> str:
    return text.replace("\x00", "\\0")[:60]
