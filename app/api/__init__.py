"""The REST API under /api/v1/ (JSON), for the PSA tools MSPs bill from.

Every request carries an API key (`Authorization: Bearer <key>`,
services/api_keys.py) and acts as the key's user: the same tenancy
(`app/tenancy.py`) and the same services as the screens. Errors are
`application/problem+json` (RFC 9457) with the domain's own words. Each operation
is declared once (`operation`): its route, the marshmallow schemas it validates its
query and body with and answers in — and from those same declarations, the OpenAPI
document at /api/v1/openapi.json (`spec.py`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from functools import cache, wraps

from flask import Blueprint, current_app, g, jsonify, request, url_for
from marshmallow import EXCLUDE, Schema, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, PreconditionFailed

from app.api.dumping import dumper
from app.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from app.extensions import db
from app.models import Company, Learner, Order, Selection, Webhook
from app.services import api_keys
from app.sql import read
from app.tenancy import Actor, in_scope, require_company, require_pk, require_scoped
from app.transaction import transaction

PREFIX = "/api/v1"
PROBLEM = "application/problem+json"
PUBLIC = {"api.openapi", "api.docs"}  # readable without a key

blueprint = Blueprint("api", __name__, url_prefix=PREFIX)


@dataclass
class Operation:
    """One declared operation: what the OpenAPI document says of it."""

    path: str  # OpenAPI form: /companies/{company_id}
    method: str
    summary: str
    name: str
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    response: type[Schema] | None = None
    status: int = 200
    writes: bool = False
    path_params: list[str] = field(default_factory=list)
    idempotent: bool = False  # requires an Idempotency-Key


OPERATIONS: list[Operation] = []
# What each id in a path names: the operation answers 404 unless it is in scope.
PATH_MODELS = {
    "company_id": Company,
    "learner_id": Learner,
    "order_id": Order,
    "selection_id": Selection,
    "webhook_id": Webhook,
}


def operation(
    rule: str,
    method: str,
    summary: str,
    *,
    query: type[Schema] | None = None,
    body: type[Schema] | None = None,
    response: type[Schema] | None = None,
    status: int = 200,
    idempotent: bool = False,
):
    """Declare and route an operation. A change may carry an `Idempotency-Key` (one
    that must — `idempotent` — is refused without): sent again, it answers the same
    and changes nothing more. The view gets the actor, the path's ids, and
    `query` / `body` as validated by their schemas, and returns what `response`
    dumps (a list page: `page(...)`)."""
    writes = method != "GET"
    path_params = [part[5:-1] for part in rule.split("/") if part.startswith("<int:")]
    if not set(path_params) <= set(PATH_MODELS):
        raise ValueError(f"{rule}: add its ids to PATH_MODELS")

    def decorate(view):
        op = Operation(
            path=rule.replace("<int:", "{").replace(">", "}"),
            method=method.lower(),
            summary=summary,
            name=view.__name__,
            query=query,
            body=body,
            response=response,
            status=status,
            writes=writes,
            path_params=path_params,
            idempotent=idempotent,
        )
        OPERATIONS.append(op)

        @wraps(view)
        def handle(**ids):
            actor = g.api_actor
            if writes and actor.read_only:
                raise Forbidden("This API key is read-only.")
            # Out of scope: 404 before anything else — a GET list's in its count's
            # statement (`page`), any other's now.
            g.path_checks = [(PATH_MODELS[name], require_pk(pk)) for name, pk in ids.items()]
            if writes or not getattr(response, "is_page", False):
                _check_path(actor)
            kwargs = dict(ids)
            if query is not None:
                try:
                    kwargs["query"] = _load(query, request.args.to_dict(), "query")
                except Invalid:
                    _check_path(actor)  # 404 before 422
                    raise
            if body is not None:
                kwargs["body"] = _load(body, _json_body(), "body")
            if writes:
                idempotency = _idempotency_key(required=idempotent)
                fingerprint = _fingerprint(kwargs)
                try:
                    with transaction():
                        # Looked up inside the unit of work: on SQLite it holds the
                        # write lock, so a retry racing the first waits, then replays.
                        prior = idempotency and api_keys.replayed(g.api_key_id, idempotency)
                        if prior:
                            return _replay(prior, fingerprint)
                        result = view(actor, **kwargs)
                        answer = dumper(response)(result) if response else None
                        if idempotency is not None:
                            api_keys.remember(
                                g.api_key_id,
                                idempotency,
                                {"method": request.method, "path": request.path},
                                status,
                                answer,
                                fingerprint,
                            )
                except IntegrityError as exc:  # the same key, sent twice at once
                    if idempotency is None or "api_requests" not in str(exc.orig):
                        raise
                    raise Conflict(
                        "A request with this Idempotency-Key is being made: retry it "
                        "to read its answer."
                    ) from exc
            else:
                result = view(actor, **kwargs)
                _check_path(actor)  # a list that did not count through `page`
                answer = dumper(response)(result) if response else None
            reply = jsonify(answer) if answer is not None else ("", 204)
            if isinstance(reply, tuple):
                return reply
            reply.status_code = status
            return reply

        blueprint.add_url_rule(rule, view.__name__, handle, methods=[method])
        return handle

    return decorate


def _check_path(actor: Actor) -> None:
    """The path's ids not checked yet: NotFound unless each is in scope."""
    for model, pk in g.path_checks:
        require_scoped(actor, model, pk)
    g.path_checks = []


IDEMPOTENCY = "Idempotency-Key"


def _idempotency_key(required: bool) -> str | None:
    value = request.headers.get(IDEMPOTENCY)
    if value is None:
        if required:
            raise Invalid(
                f"Send an {IDEMPOTENCY} header: a retry then changes nothing.", IDEMPOTENCY
            )
        return None
    value = value.strip()
    if not 1 <= len(value) <= 200:
        raise Invalid(f"The {IDEMPOTENCY} must be 1 to 200 characters.", IDEMPOTENCY)
    return value


def _fingerprint(kwargs: dict) -> str:
    """A digest of what a change sent (its validated query and body)."""
    sent = {k: v for k, v in kwargs.items() if k in ("query", "body")}
    return hashlib.sha256(json.dumps(sent, sort_keys=True, default=str).encode()).hexdigest()


def _replay(prior, fingerprint: str):
    """The answer of a change made before with the same Idempotency-Key."""
    if (prior.method, prior.path, prior.fingerprint) != (
        request.method,
        request.path,
        fingerprint,
    ):
        raise Invalid(
            f"This {IDEMPOTENCY} was used for another request ({prior.method} {prior.path}, "
            "or other data): send a new key for a new change.",
            IDEMPOTENCY,
        )
    reply = jsonify(prior.body) if prior.body is not None else current_app.response_class()
    reply.status_code = prior.status if prior.body is not None else 204
    reply.headers["Idempotent-Replayed"] = "true"
    return reply


def _json_body() -> dict:
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        data = None
    if not isinstance(data, dict):
        raise Invalid("The body must be a JSON object.", "body")
    _check_text(data, "body")
    return data


def _check_text(value, where: str) -> None:
    """No NUL character and no lone surrogate in any string of a body (PostgreSQL
    stores neither; nobody types them)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)
            _check_text(item, str(key))
    elif isinstance(value, list):
        for item in value:
            _check_text(item, where)
    elif isinstance(value, str):
        if "\x00" in value:
            raise Invalid(f"{where}: contains a NUL character.", where)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid(f"{where}: is not valid text.", where) from None


def _load(schema: type[Schema], data: dict, where: str) -> dict:
    try:
        return _loader(schema).load(data)
    except ValidationError as exc:
        name, messages = next(iter(sorted(exc.normalized_messages().items())))
        message = messages[0] if isinstance(messages, list) else str(messages)
        raise Invalid(f"{name}: {message}", name) from exc


@cache
def _loader(schema: type[Schema]) -> Schema:
    """One instance per schema: loading keeps no state in it (no context is used)."""
    return schema(unknown=EXCLUDE)


# -- lists -------------------------------------------------------------------

MAX_PAGE_SIZE = 200


@dataclass
class Page:
    items: list
    total: int
    next: str | None


def page(statement, query: dict, counted, entities: bool = True) -> Page:
    """A page of `statement` (already ordered, stable: entities, or else rows) and
    the total of `counted`: {items, total, next} — two statements whatever the page
    size."""
    number, size = query["page"], query["page_size"]
    run = db.session.execute if entities else read
    # The path's ids checked in the same statement (`operation`): out of scope, 404.
    checks = [in_scope(g.api_actor, model, pk) for model, pk in g.path_checks]
    g.path_checks = []
    total, *allowed = run(select(counted.scalar_subquery(), *checks)).one()
    if not all(allowed):
        raise NotFound()
    total = total or 0
    result = run(statement.limit(size).offset((number - 1) * size))
    return paged(result.scalars().all() if entities else result.all(), total, query)


def paged(items: list, total: int, query: dict) -> Page:
    """A page of items already read, with the address of the next page, if any."""
    number = query["page"]
    more = number * query["page_size"] < total
    # The validated query only: nothing else sent reaches url_for.
    args = {**query, **request.view_args, "page": number + 1}
    return Page(items, total, url_for(request.endpoint, **args) if more else None)


# -- the company in view -------------------------------------------------------


def in_view(actor: Actor, company_id: int) -> Actor:
    """The actor working in the company the path names (no Manage mode in the API):
    its own, or one under it, audited on behalf of it. 404 outside the scope."""
    require_company(actor, company_id)
    if company_id == actor.company_id or not actor.may_manage_others:
        return actor
    return replace(actor, managing_company_id=company_id)


# -- ETags -------------------------------------------------------------------------


def etag_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def require_unchanged(schema: type[Schema], row) -> None:
    """An update's optional If-Match: the ETag of the row as last read (GET answers
    it); anything else means someone changed it meanwhile — 412, nothing changed."""
    if not request.if_match:
        return
    current = etag_of(jsonify(dumper(schema)(row)).get_data())
    if not request.if_match.contains(current):
        raise PreconditionFailed(
            "Changed since you read it (its ETag differs from If-Match); nothing was "
            "changed. Read it again, then retry."
        )


# -- authentication, errors, caching --------------------------------------------


@blueprint.before_request
def authenticate():
    if request.endpoint in PUBLIC:
        return None
    try:
        g.api_actor, key = api_keys.authenticate(
            request.headers.get("Authorization"), request.remote_addr
        )
    except api_keys.Unauthenticated as exc:
        response = problem(401, exc.message)
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    g.api_key_id = key.id
    if api_keys.needs_use_recorded(key, request.remote_addr):
        try:
            with transaction():  # at most once a minute: a read takes no write lock
                api_keys.record_use(g.api_key_id, request.remote_addr)
        except Conflict:
            pass  # busy: the next call records it
    limit = current_app.extensions["api_rate_limit"]
    wait = limit.wait_seconds(api_keys.prefix_of(request.headers["Authorization"]))
    if wait:
        response = problem(
            429,
            f"Too many calls with this API key ({current_app.config['API_RATE_LIMIT']}): "
            f"try again in {wait} second{'s' if wait != 1 else ''}.",
        )
        response.headers["Retry-After"] = str(wait)
        return response
    return None


@blueprint.after_request
def cache_headers(response):
    """An ETag on every successful read; If-None-Match answers 304."""
    if request.method == "GET" and response.status_code == 200 and not response.direct_passthrough:
        response.set_etag(etag_of(response.get_data()))
        response.headers["Cache-Control"] = "private, no-cache"
        response = response.make_conditional(request)
    return response


TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
}


def problem(status: int, detail: str, field_name: str | None = None, errors=None):
    body = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if field_name:
        body["field"] = field_name
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM
    return response


def is_api_request() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


@blueprint.errorhandler(DomainError)
def domain_error(exc: DomainError):
    db.session.rollback()
    status = 422 if isinstance(exc, Invalid) else exc.status
    return problem(status, exc.message, exc.field, getattr(exc, "errors", None))


@blueprint.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    db.session.rollback()
    return problem(exc.code or 500, exc.description or TITLES.get(exc.code, "Error"))


from app.api import resources, spec  # noqa: E402,F401  (the routes)
