"""The tenancy matrix of the API: every route and method, with each role's key,
against an id of every kind outside that role's scope — 404, and the database
unchanged."""

import re

import pytest
from sqlalchemy import select

from app import tenancy
from app.models import Company, Learner, Order, Selection, Webhook
from app.tenancy import actor_for
from tests.views.test_tenancy_matrix import ATTACKERS, snapshot

# What each id in an API path names (as app/api's PATH_MODELS, checked here on its own).
PATH_IDS = {
    "company_id": Company,
    "learner_id": Learner,
    "order_id": Order,
    "selection_id": Selection,
    "webhook_id": Webhook,
}
PUBLIC = {"api.openapi", "api.docs"}
# A body every operation accepts (each reads its own fields).
BODY = {
    "email": "crossed@example.com",
    "first_name": "Crossed",
    "last_name": "Line",
    "quantity": 5,
    "reason": "crossing the line",
    "learner_ids": [1, 2, 3],
    "tab": "unlicensed",
    "url": "http://127.0.0.1:9/crossed",
    "events": ["order.requested"],
    "event_id": "evt_crossed",
}


def api_rules(app):
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint not in PUBLIC
    ]


def test_every_api_path_id_is_in_the_matrix(app):
    for rule in api_rules(app):
        assert set(rule.arguments) <= set(PATH_IDS), f"add {rule.arguments} to PATH_IDS"


def foreign_id(session, actor, model):
    """An id of `model` in a company outside the actor's scope."""
    column = tenancy.scope_column(model)
    return session.scalar(
        select(model.id).where(~tenancy.scope(actor, column)).order_by(model.id).limit(1)
    )


@pytest.fixture
def orders_everywhere(tree, session):
    """A requested order, an assigned one, a staged selection and a webhook (with
    deliveries) in every company."""
    from app.services import webhooks
    from app.services.allocation import stage
    from app.services.orders import request_order
    from tests.factories import assigned_order, replace_actor_in

    for company in tree.companies:
        webhooks.subscribe(
            replace_actor_in(company), company.id, "http://127.0.0.1:9/hook", ["order.requested"]
        )
        assigned_order(company, 3)
        request_order(replace_actor_in(company), company.id, 2)
        people = select(Learner.id).where(Learner.company_id == company.id)
        stage(replace_actor_in(company), company.id, people, "manual")
    session.commit()


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_no_key_reaches_another_tenants_objects(
    app, tree, orders_everywhere, api, session, attacker
):
    actor = actor_for(tree.users[attacker], "api")
    ids = {name: foreign_id(session, actor, model) for name, model in PATH_IDS.items()}
    assert all(ids.values())
    before = snapshot(session)
    failures = []
    for rule in api_rules(app):
        if not rule.arguments:
            continue
        path = re.sub(r"<int:(\w+)>", lambda m: str(ids[m.group(1)]), rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            answer = api(attacker).call(method, path.removeprefix("/api/v1"), json=BODY)
            if answer.status_code != 404 or answer.mimetype != "application/problem+json":
                failures.append(f"{method} {path}: {answer.status_code}")
    assert not failures
    assert snapshot(session) == before
