"""The API's schemas: what each operation validates and answers with, and what the
OpenAPI document describes (the same classes)."""

from __future__ import annotations

from functools import cache

from marshmallow import Schema, fields, validate

from app.api import MAX_PAGE_SIZE
from app.models import CompanyKind, DeliveryState, EmailState, LicenseType, OrderStatus
from app.models.order import order_number
from app.services.webhooks import EVENTS as WEBHOOK_EVENT_LABELS

KINDS = [kind.value for kind in CompanyKind]
WEBHOOK_EVENTS = list(WEBHOOK_EVENT_LABELS)


class PageQuery(Schema):
    page = fields.Integer(
        load_default=1, validate=validate.Range(min=1, max=1_000_000), metadata={"example": 1}
    )
    page_size = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"description": f"At most {MAX_PAGE_SIZE}."},
    )


class CompanyQuery(PageQuery):
    kind = fields.String(validate=validate.OneOf(KINDS))
    parent_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))


class LearnerQuery(PageQuery):
    active = fields.Boolean(metadata={"description": "Only active (true) or inactive (false)."})


class Company(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": KINDS})
    parent_id = fields.Integer(allow_none=True, required=True)
    timezone = fields.String(required=True)
    partner_handles_renewals = fields.Boolean(required=True)


class Learner(Schema):
    id = fields.Integer(required=True)
    company_id = fields.Integer(required=True)
    email = fields.String(required=True)
    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    department = fields.String(allow_none=True, required=True)
    active = fields.Boolean(required=True)
    license_type = fields.String(allow_none=True, required=True)
    license_expires_at = fields.DateTime(allow_none=True, required=True)
    last_active_on = fields.Date(allow_none=True, required=True)
    do_not_renew = fields.Boolean(allow_none=True, required=True)


class NewLearner(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    department = fields.String(allow_none=True, validate=validate.Length(max=120))


class BulkPerson(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    first_name = fields.String(
        validate=validate.Length(min=1, max=80),
        metadata={"description": "Needed for a new person; a known one keeps theirs if left out."},
    )
    last_name = fields.String(validate=validate.Length(min=1, max=80))
    department = fields.String(allow_none=True, validate=validate.Length(max=120))
    last_active_on = fields.Date(allow_none=True)


class BulkLearners(Schema):
    learners = fields.List(
        fields.Nested(BulkPerson),
        required=True,
        validate=validate.Length(min=1, max=1000),
        metadata={"description": "1 to 1,000 people, matched by email."},
    )
    auto_license = fields.Boolean(
        load_default=True,
        metadata={
            "description": "New people get free seats when the company licenses automatically."
        },
    )


class BulkResult(Schema):
    added = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    deactivated = fields.Integer(
        required=True, metadata={"description": "Deactivated here: passed over, not reactivated."}
    )
    licensed = fields.Integer(required=True)


@cache
def page_of(item: type[Schema]) -> type[Schema]:
    """The list answer of `item`: {items, total, next} (one class per item schema)."""
    return type(
        f"{item.__name__}Page",
        (Schema,),
        {
            "is_page": True,
            "items": fields.List(fields.Nested(item), required=True),
            "total": fields.Integer(required=True),
            "next": fields.String(
                allow_none=True,
                required=True,
                metadata={"description": "The next page's address, or null on the last."},
            ),
        },
    )


class RefusedPerson(Schema):
    index = fields.Integer(required=True, metadata={"description": "Its place in `learners`."})
    reason = fields.String(required=True)


class Problem(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    field = fields.String(metadata={"description": "The input field at fault (422)."})
    errors = fields.List(
        fields.Nested(RefusedPerson),
        metadata={"description": "learners:bulk: every person refused (422)."},
    )


STATUSES = [status.value for status in OrderStatus]
TYPES = [kind.value for kind in LicenseType]


class OrderQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(STATUSES))
    company_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    license_type = fields.String(validate=validate.OneOf(TYPES))


class Order(Schema):
    id = fields.Integer(required=True)
    number = fields.Function(
        lambda order: order_number(order.id),
        required=True,
        metadata={"type": "string", "example": "#12"},
    )
    company_id = fields.Integer(required=True)
    quantity = fields.Integer(required=True)
    allocated = fields.Integer(required=True)
    license_type = fields.String(required=True, metadata={"enum": TYPES})
    status = fields.String(required=True, metadata={"enum": STATUSES})
    po_number = fields.String(allow_none=True, required=True)
    coterm_order_id = fields.Integer(allow_none=True, required=True)
    split_from_id = fields.Integer(allow_none=True, required=True)
    requested_at = fields.DateTime(allow_none=True, required=True)
    assigned_at = fields.DateTime(allow_none=True, required=True)
    expires_at = fields.DateTime(allow_none=True, required=True)
    closed_at = fields.DateTime(allow_none=True, required=True)
    close_reason = fields.String(allow_none=True, required=True)


class NewOrder(Schema):
    quantity = fields.Integer(required=True, validate=validate.Range(min=1, max=999_999_999))
    license_type = fields.String(load_default="premium", validate=validate.OneOf(TYPES))
    po_number = fields.String(allow_none=True, validate=validate.Length(max=64))
    coterm_order_id = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "Expire with this pool of the company (co-terming)."},
    )


class Assignment(Schema):
    approve = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=1, max=999_999_999),
        metadata={"description": "Approve only this many seats; the rest is declined."},
    )
    reason = fields.String(
        allow_none=True,
        validate=validate.Length(max=500),
        metadata={"description": "Why only part is approved (required then)."},
    )
    normal_term = fields.Boolean(
        load_default=False,
        metadata={"description": "Assign with the normal term when its co-term pool expired."},
    )


class Reason(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class LearnerChange(Schema):
    """What to change; fields left out keep their value."""

    email = fields.String(validate=validate.Length(min=1, max=320))
    first_name = fields.String(validate=validate.Length(min=1, max=80))
    last_name = fields.String(validate=validate.Length(min=1, max=80))
    department = fields.String(allow_none=True, validate=validate.Length(max=120))
    last_active_on = fields.Date(
        allow_none=True,
        metadata={"description": "The day the person was last active (seat reclaim)."},
    )


class SeatsByType(Schema):
    license_type = fields.String(required=True, metadata={"enum": TYPES})
    assigned = fields.Integer(required=True)
    allocated = fields.Integer(required=True)
    free = fields.Integer(required=True)


class Seats(Schema):
    """A company's seat position, as its license screens show it."""

    assigned = fields.Integer(required=True)
    allocated = fields.Integer(required=True)
    free = fields.Integer(required=True)
    expiring = fields.Integer(
        required=True, metadata={"description": "Active people expiring within 30 days."}
    )
    expired = fields.Integer(required=True)
    by_type = fields.List(fields.Nested(SeatsByType), required=True)


class EmailQuery(PageQuery):
    company_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    state = fields.String(validate=validate.OneOf([state.value for state in EmailState]))


class Email(Schema):
    id = fields.Integer(required=True)
    company_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    recipient = fields.String(required=True)
    subject = fields.String(required=True)
    state = fields.String(required=True)
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True, required=True)
    order_id = fields.Integer(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    sent_at = fields.DateTime(allow_none=True, required=True)


class AuditQuery(PageQuery):
    company_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    action = fields.String(validate=validate.Length(min=1, max=64))


class AuditEvent(Schema):
    id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    company_id = fields.Integer(allow_none=True, required=True)
    on_behalf_of_id = fields.Integer(allow_none=True, required=True)
    actor_id = fields.Integer(allow_none=True, required=True)
    interface = fields.String(required=True)
    via = fields.String(allow_none=True, required=True)
    action = fields.String(required=True)
    entity = fields.String(required=True)
    entity_id = fields.Integer(allow_none=True, required=True)
    before = fields.Dict(allow_none=True, required=True)
    after = fields.Dict(allow_none=True, required=True)


class NewCompany(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    kind = fields.String(
        load_default="customer", validate=validate.OneOf(["customer", "sub_partner"])
    )
    parent_id = fields.Integer(
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "The partner or sub-partner above it (default: the key's own)."},
    )
    timezone = fields.String(load_default="UTC", validate=validate.Length(min=1, max=64))
    auto_license = fields.Boolean(load_default=True)


def _renewal_query_fields() -> dict:
    from app.services.renewals import COUNTS, SORTABLE

    found = {
        "search": fields.String(validate=validate.Length(max=120)),
        "sort": fields.String(
            load_default="expiring_30", validate=validate.OneOf(sorted(SORTABLE))
        ),
        "descending": fields.Boolean(load_default=True),
    }
    for key in COUNTS:
        found[f"min_{key}"] = fields.Integer(validate=validate.Range(min=0, max=2**31 - 1))
        found[f"max_{key}"] = fields.Integer(validate=validate.Range(min=0, max=2**31 - 1))
    return found


RenewalQuery = type("RenewalQuery", (PageQuery,), _renewal_query_fields())


class RenewalFigures(Schema):
    learners = fields.Integer(required=True)
    assigned = fields.Integer(required=True)
    allocated = fields.Integer(required=True)
    free = fields.Integer(required=True)
    expiring_30 = fields.Integer(required=True)
    expiring_90 = fields.Integer(required=True)
    expired = fields.Integer(required=True)
    next_expiry = fields.DateTime(allow_none=True, required=True)
    open_requests = fields.Integer(required=True)
    open_seats = fields.Integer(required=True)


class RenewalRow(Schema):
    company_id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": KINDS})
    plan = fields.String(required=True)
    figures = fields.Nested(RenewalFigures, required=True)


class RenewalRequest(Schema):
    learner_ids = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=2**31 - 1)),
        required=True,
        validate=validate.Length(min=1, max=10_000),
    )
    assign_now = fields.Boolean(
        load_default=False,
        metadata={"description": "Assign it at once (account managers above the company)."},
    )


class NewAllocation(Schema):
    learner_ids = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=2**31 - 1)),
        validate=validate.Length(min=1, max=10_000),
        metadata={"description": "These people (all of the company), or:"},
    )
    tab = fields.String(
        validate=validate.OneOf(["expired", "unlicensed"]),
        metadata={"description": "Everybody of this tab who needs a license (Select All)."},
    )
    include_flagged = fields.Boolean(
        load_default=False,
        metadata={"description": "With `tab`: people flagged do-not-renew too."},
    )


class AllocationChunk(Schema):
    order_id = fields.Integer(required=True)
    seats = fields.Integer(required=True)
    expires_at = fields.DateTime(allow_none=True, required=True)


class Allocation(Schema):
    """What confirming would do (or did, once `confirmed`)."""

    selection_id = fields.Integer(required=True)
    company_id = fields.Integer(required=True)
    people = fields.Integer(required=True)
    free = fields.Integer(required=True)
    shortfall = fields.Integer(required=True)
    problem = fields.String(
        allow_none=True, required=True, metadata={"description": "Why confirming would fail."}
    )
    orders = fields.List(fields.Nested(AllocationChunk), required=True)
    confirmed = fields.Boolean(required=True)


class Deallocation(Schema):
    learner_ids = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=2**31 - 1)),
        required=True,
        validate=validate.Length(min=1, max=10_000),
    )


class Deallocated(Schema):
    deallocated = fields.Integer(required=True)


class LicenseTabQuery(PageQuery):
    tab = fields.String(
        required=True,
        validate=validate.OneOf(["allocated", "expiring", "expired", "unlicensed"]),
        metadata={"description": "The license tab: its people."},
    )
    license_type = fields.String(validate=validate.OneOf(TYPES))
    flagged = fields.Boolean(
        metadata={"description": "Only people flagged do-not-renew (true) or the others."}
    )


class Webhook(Schema):
    id = fields.Integer(required=True)
    company_id = fields.Integer(required=True)
    url = fields.String(required=True)
    events = fields.List(
        fields.String(metadata={"enum": WEBHOOK_EVENTS}), required=True, attribute="event_types"
    )
    created_at = fields.DateTime(required=True)


class NewWebhook(Schema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    events = fields.List(
        fields.String(validate=validate.OneOf(WEBHOOK_EVENTS)),
        load_default=lambda: list(WEBHOOK_EVENTS),
        validate=validate.Length(min=1, max=len(WEBHOOK_EVENTS)),
        metadata={"description": "The event types it hears (default: all)."},
    )


class CreatedWebhook(Webhook):
    secret = fields.String(
        required=True, metadata={"description": "The signing secret, shown this once."}
    )


class WebhookDelivery(Schema):
    id = fields.Integer(required=True)
    event_id = fields.String(required=True, attribute="event.uid")
    type = fields.String(required=True, attribute="event.type")
    state = fields.String(required=True, metadata={"enum": [s.value for s in DeliveryState]})
    attempts = fields.Integer(required=True)
    status_code = fields.Integer(allow_none=True, required=True)
    last_error = fields.String(allow_none=True, required=True)
    last_attempt_at = fields.DateTime(allow_none=True, required=True)
    next_attempt_at = fields.DateTime(required=True)
    delivered_at = fields.DateTime(allow_none=True, required=True)
    replay_of_id = fields.Integer(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)


class Replay(Schema):
    event_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "The id of an event sent to this webhook (evt_…)."},
    )
