"""The tenancy matrix: every tenant-scoped endpoint, for each role, against every
object of another tenant — asserting the status *and* that the database is unchanged.

Endpoints are enumerated from `app.url_map`. Views built on `ScopedModelView` join
the matrix automatically; any other endpoint must be listed as admin-only (each
non-admin role must get 403) or exempt with a reason, or the coverage test fails.
"""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select, text

from app import tenancy
from app.models import AppUser, Company
from app.services.allocation import select_people
from app.services.imports import upload
from app.services.orders import assign_orders, request_order
from app.views.base import ScopedModelView
from tests.factories import replace_actor_in

# FAB's security administration: the platform admin's only.
ADMIN_ONLY_VIEWS = {
    "AppUserDBModelView",
    "RoleModelView",
    "PermissionModelView",
    "ViewMenuModelView",
    "PermissionViewModelView",
    "UserGroupModelView",
    "ResetPasswordView",
    # The background work's health (heartbeats, queue, failed jobs): no tenant data.
    "SystemView",
}

EXEMPT = {
    "static": "the panel's static files",
    "appbuilder.static": "Flask-AppBuilder's static files",
    "PanelAuthDBView.login": "the login form; tested in test_signin",
    "PanelAuthDBView.logout": "ends the current user's own session; tested in test_signin",
    "PanelAuthDBView.logout_everywhere": "ends the current user's own sessions; test_signin",
    "LocaleView.index": "switches the UI language in the session",
    "UtilView.back": "redirects to the previous page of the session's history",
    "MenuApi.get_menu_data": "the menu of the signed-in user, filtered by role",
    "ClosedSecurityApi.login": "closed (404); tested in test_security",
    "ClosedSecurityApi.refresh": "closed (404); tested in test_security",
    "AppUserDBModelView.userinfo": "the signed-in user's own profile",
    "PanelResetMyPasswordView.this_form_get": "the signed-in user's own password",
    "PanelResetMyPasswordView.this_form_post": "the signed-in user's own password",
    "UserInfoEditView.this_form_get": "the signed-in user's own names",
    "UserInfoEditView.this_form_post": "the signed-in user's own names",
    "DashboardView.index": "counts scoped by tenancy.scope; tested in test_dashboard",
    "RenewalsView.index": "the subtree's companies (screen_scope); tested in test_renewals",
    "RenewalsView.export": "the same rows as the screen; tested in test_renewals",
    "RenewalsView.open": "manage_mode.enter's require_company; tested in test_renewals",
    "RenewalsView.request_renewals": "require_company per posted company; test_renewals",
    "ManageModeView.exit": "ends the signed-in user's own Manager Mode; tested in test_manage",
    "health.alive": "no login, no data: liveness; tested in test_health",
    "health.ready": "no login, no data: can this process reach its database",
    "health.worker": "no login, states and ages only; tested in test_health",
    "ScheduleView.show": "require_company (404 out of scope); test_schedules crosses the line",
    "ScheduleView.save": "require_company in the view and the service; test_schedules",
    "ScheduleView.clear": "require_company in the view and the service; test_schedules",
    "upgrade.show": "no login: reads what a signed Upgrade Now token names; test_trials",
    "upgrade.confirm": "no login: the signed single-use token names trial and recipient",
    "ApiKeyView.list": "the company in view's keys (scope); tested in test_api_keys",
    "ApiKeyView.create": "a key for the signed-in manager itself; tested in test_api_keys",
    "ApiKeyView.revoke": "get_scoped (404 out of scope); test_api_keys crosses the line",
    "WebhookView.list": "the company in view's webhooks (scope); tested in views/test_webhooks",
    "WebhookView.create": "require_company on the company in view; views/test_webhooks",
    "WebhookView.remove": "get_scoped (404 out of scope); views/test_webhooks crosses the line",
    "WebhookView.log": "get_scoped (404 out of scope); views/test_webhooks crosses the line",
    "WebhookView.replay": "the delivery's webhook in scope or 404; views/test_webhooks",
}

# Who tries to cross the line: an account manager of another partner, a
# sub-partner's account manager (below the objects' partner), customer managers.
ATTACKERS = ["other_partner", "sub", "customer", "sub_customer"]
TABLES = [
    "companies",
    "company_tree",
    "learners",
    "ab_user",
    "ab_user_role",
    "orders",
    "emails",
    "audit_events",
    "webhooks",
    "webhook_deliveries",
]

# Endpoints of scoped views that take no id and no company from the request.
SCOPED_WITHOUT_ID = {
    "OrderView.request_licenses": "requests for the actor's company in view, never a posted one",
    "ExpiredView.select_all": "stages the company in view's people matching the tab's filter",
    "UnlicensedView.select_all": "stages the company in view's people matching the tab's filter",
    "ExpiringView.request_renewal_all": "stages the company in view's people matching the filter",
    "ExpiredView.request_renewal_all": "stages the company in view's people matching the filter",
}
# Endpoints of scoped views tested here without an id in the URL (`related`: the
# relation filters' pickers, whose argument is a column name).
SCOPED_BY_FORM = {"list", "add", "action_post", "related"}
# Endpoints of scoped views taking ids in a query or form parameter (the parameter).
SCOPED_BY_PARAMETER = {"OrderView.assign_preview": "order"}


def scoped_views(app) -> list[ScopedModelView]:
    return [v for v in app.appbuilder.baseviews if isinstance(v, ScopedModelView)]


def snapshot(session):
    session.expire_all()
    return [session.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2")).all() for table in TABLES]


def allowed(app, actor_role: str, permission: str, view_name: str) -> bool:
    from app.roles import FAB_ROLES

    return any(re.match(v, view_name) and re.match(p, permission) for v, p in FAB_ROLES[actor_role])


def role_name(user: AppUser) -> str:
    return next(iter(user.role_names))


def company_of(obj) -> int:
    return obj.id if isinstance(obj, Company) else obj.company_id


def foreign_objects(session, actor, model):
    visible = set(session.scalars(select(Company.id).where(tenancy.scope(actor, Company.id))))
    visible = None if actor.is_admin else visible
    return [
        o
        for o in session.scalars(select(model)).all()
        if company_of(o) is None or (visible is not None and company_of(o) not in visible)
    ]


@pytest.fixture
def world(tree, session):
    """The tree, with a requested and an assigned order in every company (and so
    emails and audit events everywhere)."""
    for who in ("partner", "sub", "customer", "sub_customer", "other_partner", "other_customer"):
        actor = tree.actor(who)
        request_order(actor, actor.company_in_view, 3)
        assigned = request_order(actor, actor.company_in_view, 5)
        assign_orders(tree.actor("admin"), [assigned.id])
    for company in tree.companies:  # a staged selection and an upload everywhere
        actor = replace_actor_in(company)
        select_people(actor, company.id, [tree.people[company.name][0].id])
        upload(actor, company.id, "renewal", "r.csv", io.BytesIO(b"Email\na@b.example.com\n"))
    session.commit()
    return tree


def edit_form(view, own_company_id: int) -> dict:
    values = {}
    for column in view.edit_columns:
        if "email" in column:
            values[column] = "hacked@example.com"
        elif column in ("parent", "company"):
            values[column] = own_company_id
        elif column == "timezone":
            values[column] = "UTC"
        else:
            values[column] = "Hacked"
    return values


def view_rules(app, view):
    prefix = type(view).__name__ + "."
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith(prefix)]


def method_permission(view, method: str) -> str | None:
    """The permission FAB checks for a view method (None: the method checks none)."""
    if method == "download":
        return None  # ScopedModelView answers 404 without looking anything up
    permission = "can_" + view.method_permission_name.get(method, method)
    return permission if permission in view.base_permissions else "not-granted"


def by_id_requests(app, view, obj, own_company_id):
    """(permission, method, url, form) for every endpoint of a view that takes an id:
    each rule with <pk> (every action for the action rule), and action_post."""
    pk = obj.id
    for rule in view_rules(app, view):
        method = rule.endpoint.split(".", 1)[1]
        parameter = SCOPED_BY_PARAMETER.get(rule.endpoint)
        if parameter:
            yield method_permission(view, method), "GET", f"{rule.rule}?{parameter}={pk}", None
            yield method_permission(view, method), "POST", rule.rule, {parameter: pk}
            continue
        if not rule.arguments:
            continue
        if method == "related":
            continue  # takes a column name: test_relation_pickers_offer_only_the_actors_rows
        if method == "action":
            for name in view.actions:
                url = rule.rule.replace("<string:name>", name).replace("<pk>", str(pk))
                yield view.get_action_permission_name(name), "POST", url, {}
            continue
        url = re.sub(r"<[^>]+>", str(pk), rule.rule)
        for verb in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            form = edit_form(view, own_company_id) if verb == "POST" else None
            if form is not None and method != "edit":
                form = {"reason": "forged", "quantity": "5"}
            yield method_permission(view, method), verb, url, form
    for name in view.actions:
        permission = view.get_action_permission_name(name)
        yield permission, "POST", f"{view.route_base}/action_post", {"action": name, "rowid": [pk]}


def add_with_foreign_company(view, foreign_company_id):
    relation = next((c for c in ("company", "parent") if c in view.add_columns), None)
    if relation is None:
        return None
    form = {c: f"forged{c}" for c in view.add_columns}
    form.update(
        {
            relation: foreign_company_id,
            "email": "forged@example.com",
            "kind": "customer",
            "timezone": "UTC",
            "password": "long-enough-password",
            "conf_password": "long-enough-password",
        }
    )
    return form


def test_every_endpoint_is_in_the_matrix_or_exempt(app):
    scoped = {type(v).__name__ for v in scoped_views(app)}
    assert {"CompanyView", "LearnerView", "ManagerView", "OrderView", "EmailView"} <= scoped
    unclassified = []
    for rule in app.url_map.iter_rules():
        view, _, method = rule.endpoint.partition(".")
        if rule.endpoint in EXEMPT or view in ADMIN_ONLY_VIEWS or view == "api":
            continue  # (the API has its own matrix: tests/api/test_tenancy.py)
        covered = (
            bool(rule.arguments) or method in SCOPED_BY_FORM or rule.endpoint in SCOPED_BY_PARAMETER
        )
        if view not in scoped or not (covered or rule.endpoint in SCOPED_WITHOUT_ID):
            unclassified.append(rule.endpoint)
    assert not unclassified, f"add these endpoints to the tenancy matrix: {unclassified}"


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_no_role_reaches_another_tenants_objects(app, world, as_user, session, attacker):
    tree = world
    user = tree.users[attacker]
    actor = tree.actor(attacker)
    client = as_user(user)
    role, own_company_id = role_name(user), user.company_id
    before = snapshot(session)
    failures, tried = [], 0
    for view in scoped_views(app):
        view_name = view.class_permission_name
        model = view.datamodel.obj
        targets = foreign_objects(session, actor, model)
        assert targets, f"the tree gives {attacker} foreign {model.__name__} rows to try"
        for obj in targets:
            sent = []
            for permission, method, url, form in by_id_requests(app, view, obj, own_company_id):
                expected = 404
                if permission and not allowed(app, role, permission, view_name):
                    expected = 403
                data = {**(form or {}), "csrf_token": client.csrf} if method == "POST" else None
                response = client.open(url, method=method, data=data)
                tried += 1
                sent.append(f"{method} {url}")
                if response.status_code != expected:
                    failures.append(f"{method} {url}: {response.status_code} != {expected}")
            # The database is compared after each object's few requests (after every
            # request it was a quarter of this test's time); a change names them.
            if snapshot(session) != before:
                failures.append(f"one of {sent} changed the database")
                before = snapshot(session)
    assert not failures, "\n".join(failures)
    assert tried > 50


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_forged_company_ids_in_add_forms_and_filters_change_and_show_nothing(
    app, world, as_user, session, attacker
):
    tree = world
    user = tree.users[attacker]
    actor = tree.actor(attacker)
    client = as_user(user)
    before = snapshot(session)
    foreign_companies = foreign_objects(session, actor, Company)
    failures = []
    for view in scoped_views(app):
        can_list = "can_list" in view.base_permissions and allowed(
            app, role_name(user), "can_list", view.class_permission_name
        )
        model = view.datamodel.obj
        hidden = foreign_objects(session, actor, model)
        for company in foreign_companies:
            form = add_with_foreign_company(view, company.id)
            if form:
                client.post(f"{view.route_base}/add", data={**form, "csrf_token": client.csrf})
                if snapshot(session) != before:
                    failures.append(f"add to {view.route_base} under {company.name} changed data")
                    before = snapshot(session)
            for column in ("company", "parent"):
                if column not in view.search_columns:
                    continue
                response = client.get(f"{view.route_base}/list/?_flt_0_{column}={company.id}")
                if response.status_code != (200 if can_list else 403):
                    failures.append(f"list filter {column}={company.id}: {response.status_code}")
                html = response.get_data(as_text=True)
                leaked = [o for o in hidden if f'{view.route_base}/show/{o.id}"' in html]
                if leaked:
                    failures.append(f"{view.route_base} list with {column} filter shows {leaked}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_relation_pickers_offer_only_the_actors_rows(app, world, as_user, session, attacker):
    """Every relation filter's picker (`<view>/related/<column>?q=`), searched for
    every foreign row by name, offers none of them; an unknown column is 404."""
    tree = world
    user = tree.users[attacker]
    actor = tree.actor(attacker)
    client = as_user(user)
    failures, tried = [], 0
    for view in scoped_views(app):
        can_list = "can_list" in view.base_permissions and allowed(
            app, role_name(user), "can_list", view.class_permission_name
        )
        columns = [c for c in view.search_columns if view.datamodel.is_relation_many_to_one(c)]
        for column in columns:
            foreign = foreign_objects(session, actor, view.datamodel.get_related_model(column))
            for term in ["", *(getattr(o, "name", None) or o.last_name for o in foreign)]:
                response = client.get(
                    f"{view.route_base}/related/{column}", query_string={"q": term}
                )
                tried += 1
                if response.status_code != (200 if can_list else 403):
                    failures.append(f"{view.route_base}/related/{column}: {response.status_code}")
                    continue
                if can_list:
                    offered = {r["id"] for r in response.get_json()["results"]}
                    leaked = offered & {o.id for o in foreign}
                    if leaked:
                        failures.append(f"{view.route_base}/related/{column}?q={term}: {leaked}")
        if can_list:
            response = client.get(f"{view.route_base}/related/password")
            if response.status_code != 404:
                failures.append(f"{view.route_base}/related/password: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert tried > 10


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_security_administration_is_the_platform_admins_only(app, tree, as_user, session, attacker):
    client = as_user(tree.users[attacker])
    before = snapshot(session)
    victim = tree.users["partner"].id
    failures = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in ADMIN_ONLY_VIEWS or rule.endpoint in EXEMPT:
            continue  # (every manager's own Profile page is exempt)
        url = re.sub(r"<(?:\w+:)?pk>", str(victim), rule.rule)
        url = re.sub(r"<[^>]+>", "deactivate", url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": client.csrf, "rowid": victim, "action": "delete"}
            response = client.open(f"{url}?pk={victim}", method=method, data=data)
            # Actions of an unknown name answer 404 (KnownActionsOnly); FAB refuses a
            # GET action with a redirect before anything runs. Everything else: 403.
            expected = {302, 403, 404} if ".action" in rule.endpoint else {403}
            if response.status_code not in expected:
                failures.append(f"{method} {url}: {response.status_code}")
    assert snapshot(session) == before
    assert not failures, "\n".join(failures)
