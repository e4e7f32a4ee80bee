"""The API's operations: each translates HTTP to the same service calls and
tenancy as the screens."""

from __future__ import annotations

from functools import cache

from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import lazyload

from app import clock
from app.api import in_view, operation, page, paged, require_unchanged
from app.api import schemas as s
from app.api.dumping import read_attributes
from app.errors import Invalid
from app.extensions import db
from app.models import AuditEvent, Company, Email, Learner, Order, Webhook, WebhookDelivery
from app.services import (
    allocation,
    companies,
    learners,
    licenses,
    orders,
    reclaim,
    renewal_requests,
    renewals,
    states,
    webhooks,
)
from app.services.imports import directory
from app.services.licenses import company_seat_position
from app.services.states import is_expired, is_unlicensed
from app.tenancy import Screen, audience, get_scoped, require_company, screen_scope

# A company's people in its screens' order (ix_learners_company_last_name).
BY_LAST_NAME = (Learner.last_name, Learner.id)


def listed(model, item, query: dict, where: list, filters: tuple[str, ...], order, options=()):
    """A page of `model`'s rows kept by `where` and the query's equality `filters`
    (those given), in `order` (stable: it ends with the id). What the item schema
    `item` dumps is read as plain columns when each of its attributes is one (no
    entity, no relationship: a list's rows cost little more than the SQL); else as
    entities with no relationship loaded but those `options` name."""
    where = [*where, *(getattr(model, name) == query[name] for name in filters if name in query)]
    columns = row_columns(model, item)
    rows = select(model).options(lazyload("*"), *options) if columns is None else select(*columns)
    return page(
        rows.where(*where).order_by(*order),
        query,
        select(func.count()).select_from(model).where(*where),
        entities=columns is None,
    )


@cache
def row_columns(model, item) -> list | None:
    """The columns of `model` the schema `item` reads, labelled by its attribute
    names; None when one of them is not a column."""
    mapper = sa_inspect(model)
    names = read_attributes(item)
    if not all(name in mapper.column_attrs for name in names):
        return None
    return [getattr(model, name).label(name) for name in names]


@operation(
    "/companies",
    "GET",
    "The companies in the key's scope, by id.",
    query=s.CompanyQuery,
    response=s.page_of(s.Company),
)
def list_companies(actor, query):
    return listed(
        Company,
        s.Company,
        query,
        [screen_scope(actor, Company.id, Screen.PARTNER)],
        ("kind", "parent_id"),
        [Company.id],
    )


@operation("/companies/<int:company_id>", "GET", "One company.", response=s.Company)
def show_company(actor, company_id):
    return require_company(actor, company_id)


@operation(
    "/companies/<int:company_id>/learners",
    "GET",
    "A company's learners, by last name.",
    query=s.LearnerQuery,
    response=s.page_of(s.Learner),
)
def list_learners(actor, company_id, query):
    # (the company in the path is checked by `operation`, as every path id)
    return listed(
        Learner, s.Learner, query, [Learner.company_id == company_id], ("active",), BY_LAST_NAME
    )


@operation(
    "/companies/<int:company_id>/learners",
    "POST",
    "Add a learner to a company (licensed at once when the company auto-licenses).",
    body=s.NewLearner,
    response=s.Learner,
    status=201,
)
def add_learner(actor, company_id, body):
    return learners.add_learner(in_view(actor, company_id), company_id, **body)


@operation(
    "/companies/<int:company_id>/learners:bulk",
    "PUT",
    "Directory sync: add or update up to 1,000 people by email, all or nothing (any "
    "person refused refuses the call, each refusal listed in `errors`). Import "
    "Learners' rules: names are needed for new people; deactivated people are passed "
    "over; nobody is removed.",
    body=s.BulkLearners,
    response=s.BulkResult,
)
def sync_learners(actor, company_id, body):
    return directory.sync(
        in_view(actor, company_id), company_id, body["learners"], body["auto_license"]
    )


@operation("/learners/<int:learner_id>", "GET", "One learner.", response=s.Learner)
def show_learner(actor, learner_id):
    return get_scoped(actor, Learner, learner_id)


@operation(
    "/learners/<int:learner_id>",
    "PATCH",
    "Change a learner (fields left out keep their value). Send the ETag of its last "
    "read as If-Match to refuse the change when someone changed it meanwhile (412).",
    body=s.LearnerChange,
    response=s.Learner,
)
def change_learner(actor, learner_id, body):
    learner = get_scoped(actor, Learner, learner_id)
    require_unchanged(s.Learner, learner)
    kept = {name: getattr(learner, name) for name in ("email", "first_name", "last_name")}
    kept["department"] = learner.department
    return learners.update_learner(
        in_view(actor, learner.company_id), learner.id, **{**kept, **body}
    )


@operation(
    "/learners/<int:learner_id>/deactivate",
    "POST",
    "Deactivate a learner (a leaver): kept, no longer counted or reminded.",
    response=s.Learner,
)
def deactivate_learner(actor, learner_id):
    return _set_active(actor, learner_id, False)


@operation(
    "/learners/<int:learner_id>/reactivate",
    "POST",
    "Reactivate a learner.",
    response=s.Learner,
)
def reactivate_learner(actor, learner_id):
    return _set_active(actor, learner_id, True)


def _set_active(actor, learner_id, active: bool):
    learner = get_scoped(actor, Learner, learner_id)
    learners.set_learners_active(in_view(actor, learner.company_id), [learner.id], active)
    return fresh(actor, Learner, learner_id)


@operation(
    "/companies/<int:company_id>/seats",
    "GET",
    "A company's seat position: seats assigned, allocated and free (in all and per "
    "license type), people expiring within 30 days and expired.",
    response=s.Seats,
)
def company_seats(actor, company_id):
    company = require_company(actor, company_id)
    position = company_seat_position(company.id)
    return {
        "assigned": position.assigned,
        "allocated": position.allocated,
        "free": position.free,
        "expiring": position.expiring,
        "expired": position.expired,
        "by_type": [
            {"license_type": kind, "assigned": a, "allocated": b, "free": a - b}
            for kind, (a, b) in position.by_type.items()
        ],
    }


@operation(
    "/orders",
    "GET",
    "Orders in the key's scope, newest request first.",
    query=s.OrderQuery,
    response=s.page_of(s.Order),
)
def list_orders(actor, query):
    return listed(
        Order,
        s.Order,
        query,
        [screen_scope(actor, Order.company_id)],
        ("status", "company_id", "license_type"),
        [Order.requested_at.desc(), Order.id.desc()],
    )


@operation("/orders/<int:order_id>", "GET", "One order.", response=s.Order)
def show_order(actor, order_id):
    return get_scoped(actor, Order, order_id)


@operation(
    "/companies/<int:company_id>/orders",
    "POST",
    "Request licenses for a company (Request Licenses).",
    body=s.NewOrder,
    response=s.Order,
    status=201,
)
def request_licenses(actor, company_id, body):
    return orders.request_order(in_view(actor, company_id), company_id, **body)


@operation(
    "/orders/<int:order_id>/assign",
    "POST",
    "Assign a requested order (an account manager above its company); optionally "
    "approve fewer seats, with a reason.",
    body=s.Assignment,
    response=s.Order,
)
def assign_order(actor, order_id, body):
    orders.assign_orders(
        actor,
        [order_id],
        normal_term=[order_id] if body["normal_term"] else (),
        approve=body.get("approve"),
        reason=body.get("reason"),
    )
    return fresh(actor, Order, order_id)


@operation(
    "/orders/<int:order_id>/decline",
    "POST",
    "Decline a requested order (an account manager above its company), with a reason.",
    body=s.Reason,
    response=s.Order,
)
def decline_order(actor, order_id, body):
    orders.decline_order(actor, order_id, body["reason"])
    return fresh(actor, Order, order_id)


@operation(
    "/orders/<int:order_id>/cancel",
    "POST",
    "Cancel a requested order (its company's managers), with a reason.",
    body=s.Reason,
    response=s.Order,
)
def cancel_order(actor, order_id, body):
    order = get_scoped(actor, Order, order_id)
    orders.cancel_order(in_view(actor, order.company_id), order_id, body["reason"])
    return fresh(actor, Order, order_id)


def fresh(actor, model, pk):
    """A row re-read after a service changed it in SQL."""
    row = get_scoped(actor, model, pk)
    db.session.refresh(row)
    return row


@operation(
    "/emails",
    "GET",
    "The emails the key's user sees (the Emails page), newest first.",
    query=s.EmailQuery,
    response=s.page_of(s.Email),
)
def list_emails(actor, query):
    return listed(
        Email,
        s.Email,
        query,
        [screen_scope(actor, Email.company_id), audience(actor, Email)],
        ("company_id", "state"),
        [Email.created_at.desc(), Email.id.desc()],
    )


@operation(
    "/audit",
    "GET",
    "The audit log of the key's scope, newest first.",
    query=s.AuditQuery,
    response=s.page_of(s.AuditEvent),
)
def list_audit_events(actor, query):
    return listed(
        AuditEvent,
        s.AuditEvent,
        query,
        [screen_scope(actor, AuditEvent.company_id)],
        ("company_id", "action"),
        [AuditEvent.at.desc(), AuditEvent.id.desc()],
    )


@operation(
    "/companies",
    "POST",
    "Create a customer (or a sub-partner) under a company of the key's scope.",
    body=s.NewCompany,
    response=s.Company,
    status=201,
)
def create_company(actor, body):
    parent = body.pop("parent_id", actor.company_id)
    return companies.create_company(actor, parent_id=parent, **body)


@operation(
    "/renewals",
    "GET",
    "The Renewals screen: every company of the key's scope with its figures, "
    "filtered by ranges (min_<figure>, max_<figure>) and a name search.",
    query=s.RenewalQuery,
    response=s.page_of(s.RenewalRow),
)
def list_renewals(actor, query):
    ranges = {
        key: (query.get(f"min_{key}"), query.get(f"max_{key}"))
        for key in renewals.COUNTS
        if f"min_{key}" in query or f"max_{key}" in query
    }
    found = renewals.page(
        actor,
        renewals.Query(
            search=query.get("search", ""),
            ranges=ranges,
            sort=query["sort"],
            descending=query["descending"],
            page=query["page"] - 1,
            page_size=query["page_size"],
        ),
    )
    return paged(found.rows, found.total, query)


@operation(
    "/companies/<int:company_id>/renewal-requests",
    "POST",
    "Request renewal for these people of the company: one order for as many seats as "
    "people who need it (the others are left out and said why).",
    body=s.RenewalRequest,
    response=s.Order,
    status=201,
)
def request_renewal(actor, company_id, body):
    people = select(Learner.id).where(
        Learner.id.in_(body["learner_ids"]), Learner.company_id == company_id
    )
    requested = renewal_requests.request(
        in_view(actor, company_id), company_id, people, assign_now=body["assign_now"]
    )
    return fresh(actor, Order, requested.order.id)


@operation(
    "/companies/<int:company_id>/allocations",
    "POST",
    "Plan allocating licenses to people (`learner_ids`) or to a tab's people who need "
    "one (`tab`): what confirming would do, with any reason it cannot. Nothing is "
    "allocated until the plan is confirmed.",
    body=s.NewAllocation,
    response=s.Allocation,
    status=201,
)
def plan_allocation(actor, company_id, body):
    actor = in_view(actor, company_id)
    if "learner_ids" in body:
        selection = allocation.select_people(actor, company_id, body["learner_ids"])
    elif "tab" in body:
        state = is_expired(clock.now()) if body["tab"] == "expired" else is_unlicensed()
        selection = allocation.select_matching(
            actor,
            company_id,
            select(Learner.id).where(Learner.active, state),
            include_flagged=body["include_flagged"],
        )
    else:
        raise Invalid("Name the people (learner_ids) or a tab (tab).", "learner_ids")
    return _allocation(allocation.plan(actor, selection.id))


@operation(
    "/companies/<int:company_id>/allocations/<int:selection_id>/confirm",
    "POST",
    "Confirm a plan: all of its people get their licenses, or none (409 with the "
    "reason: seats taken meanwhile, someone licensed since). Needs an Idempotency-Key: "
    "a retry answers the same and allocates nothing more.",
    response=s.Allocation,
    idempotent=True,
)
def confirm_allocation(actor, company_id, selection_id):
    return _allocation(allocation.allocate(in_view(actor, company_id), selection_id))


def _allocation(plan) -> dict:
    selection = plan.selection
    return {
        "selection_id": selection.id,
        "company_id": selection.company_id,
        "people": plan.size,
        "free": plan.free,
        "shortfall": plan.shortfall,
        "problem": plan.problem(),
        "orders": [
            {"order_id": order.id, "seats": seats, "expires_at": order.expires_at}
            for order, seats in plan.chunks
        ],
        "confirmed": selection.used_at is not None,
    }


@operation(
    "/companies/<int:company_id>/deallocations",
    "POST",
    "Take licenses back from leavers of the company: each seat returns to its pool. All or none.",
    body=s.Deallocation,
    response=s.Deallocated,
)
def deallocate(actor, company_id, body):
    count = licenses.deallocate(in_view(actor, company_id), body["learner_ids"])
    return {"deallocated": count}


@operation(
    "/companies/<int:company_id>/licenses",
    "GET",
    "A license tab of a company (Allocated, Expiring, Expired, Unlicensed): its people, "
    "by last name, with their license's type and expiry.",
    query=s.LicenseTabQuery,
    response=s.page_of(s.Learner),
)
def license_tab(actor, company_id, query):
    now = clock.now()  # (the company in the path is checked by `operation`)
    where = [Learner.company_id == company_id, states.TABS[query["tab"]](now)]
    if "flagged" in query:
        flagged = reclaim.flagged(require_company(actor, company_id), now)
        where.append(flagged if query["flagged"] else ~flagged)
    return listed(Learner, s.Learner, query, where, ("license_type",), BY_LAST_NAME)


@operation(
    "/companies/<int:company_id>/webhooks",
    "GET",
    "A company's webhooks (each hears of the company and every company under it).",
    query=s.PageQuery,
    response=s.page_of(s.Webhook),
)
def list_webhooks(actor, company_id, query):
    return listed(Webhook, s.Webhook, query, [Webhook.company_id == company_id], (), [Webhook.id])


@operation(
    "/companies/<int:company_id>/webhooks",
    "POST",
    "Add a webhook to a company: its signing secret is in this answer only.",
    body=s.NewWebhook,
    response=s.CreatedWebhook,
    status=201,
)
def add_webhook(actor, company_id, body):
    return webhooks.subscribe(in_view(actor, company_id), company_id, **body)[0]


@operation(
    "/webhooks/<int:webhook_id>",
    "DELETE",
    "Delete a webhook: nothing more is sent to it.",
    status=204,
)
def delete_webhook(actor, webhook_id):
    webhooks.remove(actor, webhook_id)


@operation(
    "/webhooks/<int:webhook_id>/deliveries",
    "GET",
    "A webhook's delivery log, newest first.",
    query=s.PageQuery,
    response=s.page_of(s.WebhookDelivery),
)
def list_deliveries(actor, webhook_id, query):
    return listed(
        WebhookDelivery,
        s.WebhookDelivery,
        query,
        [WebhookDelivery.webhook_id == webhook_id],
        (),
        [WebhookDelivery.id.desc()],
        webhooks.WITH_EVENT_NAMES,
    )


@operation(
    "/webhooks/<int:webhook_id>/replay",
    "POST",
    "Send an event sent to this webhook again, with the same event id.",
    body=s.Replay,
    response=s.WebhookDelivery,
    status=202,
)
def replay_webhook_event(actor, webhook_id, body):
    return webhooks.replay_event(actor, webhook_id, body["event_id"])
