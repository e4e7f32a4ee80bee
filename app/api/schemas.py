"""The API's schemas: what each operation validates and answers with, and what the
OpenAPI document describes (the same classes)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.api import MAX_PAGE_SIZE
from app.models import CompanyKind, LicenseType, OrderStatus

KINDS = [kind.value for kind in CompanyKind]


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


def page_of(item: type[Schema]) -> type[Schema]:
    """The list answer of `item`: {items, total, next}."""
    return type(
        f"{item.__name__}Page",
        (Schema,),
        {
            "items": fields.List(fields.Nested(item), required=True),
            "total": fields.Integer(required=True),
            "next": fields.String(
                allow_none=True,
                required=True,
                metadata={"description": "The next page's address, or null on the last."},
            ),
        },
    )


class Problem(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    field = fields.String(metadata={"description": "The input field at fault (422)."})


STATUSES = [status.value for status in OrderStatus]
TYPES = [kind.value for kind in LicenseType]


class OrderQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(STATUSES))
    company_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    license_type = fields.String(validate=validate.OneOf(TYPES))


class Order(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"example": "#12"})
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
