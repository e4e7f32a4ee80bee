"""The OpenAPI 3 document, built from the operations' own declarations and schemas
(`app/api/__init__.py`), and the docs page that renders it from static files."""

from __future__ import annotations

from functools import cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import jsonify, render_template

from app.api import IDEMPOTENCY, OPERATIONS, PREFIX, PROBLEM, blueprint
from app.api.schemas import Problem

ERRORS = {
    "400": "A malformed request (a NUL character, a body that is not JSON).",
    "401": "No valid API key.",
    "403": "The key's role or the key (read-only) may not do this.",
    "404": "Not found, or outside the key's scope.",
    "422": "Invalid input; `field` names it.",
    "429": "Too many calls with this key: wait Retry-After seconds.",
}


@cache
def document() -> dict:
    spec = APISpec(
        title="License renewal panel API",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Every call needs `Authorization: Bearer <API key>`; a key "
            "acts as its user, within that user's scope. Errors are "
            "application/problem+json."
        },
        servers=[{"url": PREFIX}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", schema=Problem)
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    document["security"] = [{"bearer": []}]
    return document


def _operation(op) -> dict:
    problem = {PROBLEM: {"schema": "Problem"}}
    responses = {
        str(op.status): {"description": "OK"}
        if op.response is None
        else {"description": "OK", "content": {"application/json": {"schema": op.response}}},
        **{code: {"description": text, "content": problem} for code, text in ERRORS.items()},
    }
    if op.method == "get":
        responses["304"] = {"description": "Not modified (If-None-Match)."}
    if op.method in ("put", "patch"):
        responses["412"] = {
            "description": "Changed since read (If-Match).",
            "content": problem,
        }
    parameters = [
        {
            "in": "path",
            "name": name,
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
        for name in op.path_params
    ]
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    if op.writes:
        parameters.append(
            {
                "in": "header",
                "name": IDEMPOTENCY,
                "required": op.idempotent,
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": "Sent again with the same key, the change answers the same "
                "and changes nothing more.",
            }
        )
        responses["409"] = {"description": "The state changed meanwhile.", "content": problem}
    answer = {
        "operationId": op.name,
        "summary": op.summary,
        "parameters": parameters,
        "responses": responses,
    }
    if op.body is not None:
        answer["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": op.body}},
        }
    return answer


@blueprint.get("/openapi.json")
def openapi():
    return jsonify(document())


@blueprint.get("/docs")
def docs():
    return render_template("api/docs.html", spec_url=f"{PREFIX}/openapi.json")
