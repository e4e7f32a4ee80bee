"""Bad input never gets a 500: every route of `app.url_map`, for a platform admin,
an account manager and a customer manager, with a fixed corpus of hostile values
in its URL arguments, in every query parameter its view reads (the list's filters,
sort, page and page size among them) and in every form field it accepts.

Deterministic and bounded (well under 3 minutes per database): a route the role
may not open (403) or whose object it may not see (404) is tried once; the others
get one request per corpus value with every parameter set to it, then each
parameter alone with one value of the corpus, rotating."""

from __future__ import annotations

import io
import re

import pytest
from flask_appbuilder import ModelView

from tests import factories

CORPUS = [
    "",
    "abc",
    "-1",
    "2147483648",
    "99999999999999999999",
    "1e309",
    "a\x00b",
    "x" * 3000,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "2026-02-30",
    "9999-12-31",
    "0001-01-01",
    "²",
    "#12",
    "1,200",
    "//evil.example/",
    "y",
]
URL_ARGUMENTS = {
    "pk": ["1", "2147483648", "abc"],
    "fmt": ["csv", "xlsx", "zz"],
    "column": ["company", "zz"],
    "kind": ["learners", "renewal", "zz"],
    "name": ["allocate", "deallocate", "zz"],
    "job_id": ["zz"],
    "filename": ["zz"],
    "group_by": ["zz"],
    "locale": ["zz"],
    "company_id": ["1", "2147483648"],
    "figure": ["expired", "zz"],
}
# They end the walk's own session, or answer 503 by design (no worker runs here).
SKIPPED_RULES = {"/logout/", "/logout/everywhere/", "/lang/<string:locale>", "/health/worker"}
# Fields the panel's own forms and actions post, beside each view's columns.
FORM_FIELDS = [
    "action",
    "rowid",
    "quantity",
    "reason",
    "header_row",
    "sheet",
    "order",
    "email",
    "first_name",
    "last_name",
    "username",
    "password",
    "conf_password",
    "current_password",
    "name",
    "parent",
    "timezone",
    "department",
]
QUERY_FIELDS = [
    "q",
    "sort",
    "dir",
    "page",
    "psize",
    "min_expired",
    "max_open_requests",
    "select",
    "selection",
    "next",
    "back",
    "order",
    "quantity",
    "rowid",
    "header_row",
    "_flt_0_status",
]


def views_by_endpoint(app) -> dict:
    return {view.endpoint: view for view in app.appbuilder.baseviews}


def query_fields(rule, view) -> list[str]:
    listing = any(part in rule.rule for part in ("/list/", "/export/", "/select_all"))
    if not listing or not isinstance(view, ModelView):
        return QUERY_FIELDS
    name = type(view).__name__
    filters = [f"_flt_{i}_{column}" for column in view.search_columns for i in (0, 1, 9)]
    return [*QUERY_FIELDS, *filters, f"psize_{name}", f"page_{name}", f"_oc_{name}", f"_od_{name}"]


def form_fields(view) -> list[str]:
    columns = []
    if isinstance(view, ModelView):
        columns = [*view.add_columns, *view.edit_columns, *view.actions]
    return sorted({*FORM_FIELDS, *columns})


def urls(rule) -> list[str]:
    """The rule with each argument filled with each of its hostile values in turn."""
    filled = [rule.rule]
    for argument in rule.arguments:
        pattern = re.compile(rf"<(?:[a-z]+:)?{argument}>")
        values = URL_ARGUMENTS.get(argument, ["zz"])
        filled = [pattern.sub(v, url) for url in filled for v in values]
    return filled


def requests_for(rule, view, method):
    """(url, values) of the walk for one rule and method, after its plain request."""
    names = query_fields(rule, view) if method == "GET" else form_fields(view)
    first, *others = urls(rule)
    for value in CORPUS:
        yield first, {n: value for n in names}
    for j, name in enumerate(names):
        yield first, {name: CORPUS[j % len(CORPUS)]}
    for url in others:
        yield url, {}


def send(client, method: str, url: str, values: dict):
    """The status, or the exception the app let through (which would be a 500)."""
    try:
        if method == "GET":
            return client.get(url, query_string=values).status_code
        data = {**values, "csrf_token": client.csrf}
        if "upload" in url:
            data["file"] = (io.BytesIO(b"email\nx\x00@y.example\n"), "a.csv")
        return client.post(url, data=data, content_type="multipart/form-data").status_code
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:200]


@pytest.fixture
def world(tree, session):
    factories.expired_people(tree.customer, 2)
    factories.assigned_order(tree.customer, 5)
    session.commit()
    return tree


@pytest.mark.timeout(600)
@pytest.mark.parametrize("who", ["admin", "partner", "customer"])
def test_no_route_answers_5xx_to_hostile_input(app, world, as_user, session, who):
    client = as_user(world.users[who])
    views = views_by_endpoint(app)
    failures, sent = [], 0

    def check(method, url, values):
        nonlocal sent
        sent += 1
        status = send(client, method, url, values)
        session.rollback()
        if not isinstance(status, int) or status >= 500:
            failures.append(f"{method} {url} {sorted(values)[:3]}… → {status}")
        return status

    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule in SKIPPED_RULES or rule.endpoint.endswith("static"):
            continue
        view = views.get(rule.endpoint.partition(".")[0])
        for method in sorted(rule.methods & {"GET", "POST"}):
            if check(method, urls(rule)[0], {}) in (403, 404):
                continue  # refused before any input is read
            for url, values in requests_for(rule, view, method):
                check(method, url, values)
    assert sent > 1000
    assert not failures, f"{len(failures)} of {sent}:\n" + "\n".join(failures[:40])
