"""Licenses → Orders: Request Licenses, the sections of a subtree's orders, and the
per-row menu (the guide's three dots) with Assign and Decline."""

from __future__ import annotations

from flask import abort, g, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.actions import action
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app import clock, display
from app.models import Company, LicenseType, Order, OrderStatus
from app.models.order import type_label
from app.services import orders as service
from app.services import pools, renewal_requests
from app.sql import like_any
from app.views.base import (
    RowAction,
    ScopedInterface,
    ScopedModelView,
    local_when,
    or_dash,
)
from app.views.context import (
    current_actor,
    licenses_managed,
    request_company,
    show_times_in,
)
from app.views.filters import choice_field
from app.views.list_rows import UrlPattern

# An assigned order past its term: a section of its own, not a stored status.
EXPIRED = "expired"
# The Orders tab's sections, each at /orders/section/<status>: (label, status, or
# None for all of them at /orders/list/).
SECTIONS = [
    ("Requested Orders", OrderStatus.REQUESTED.value),
    ("Assigned", OrderStatus.ASSIGNED.value),
    ("Expired", EXPIRED),
    ("Declined", OrderStatus.DECLINED.value),
    ("Cancelled", OrderStatus.CANCELLED.value),
    ("All", None),
]


def assigned_message(orders: list[Order]) -> str:
    """What Assign did: a partial approval's split; for a renewal request, who got its
    licenses and who did not."""
    text = f"Assigned {display.count(len(orders), 'order')}: " + ", ".join(o.number for o in orders)
    parts = [text + "."]
    rest = service.remainder_of(orders[0]) if len(orders) == 1 else None  # one order only
    if rest:
        approved = orders[0].quantity
        parts.append(
            f"{approved:,} of {approved + rest.quantity:,} approved; "
            f"{rest.quantity:,} declined (order {rest.number}): {rest.close_reason}."
        )
    parts += [renewal_requests.last_outcome(o.id).summary() for o in orders if o.renewal]
    return " ".join(parts)


class RequestLicensesForm(FlaskForm):
    quantity = StringField("Number of licenses", validators=[DataRequired("Enter a quantity.")])
    # Its choices are the actor's (orders.requestable_types); the service decides.
    license_type = SelectField("License type", validate_choice=False)
    po_number = StringField("PO number (optional)")
    # A full term, or the expiry of one of the company's pools (co-terming).
    coterm_order_id = SelectField("Expiry", validate_choice=False)


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[DataRequired("Give a reason."), Length(max=500)])


def _annotate(rows: list[Order]) -> None:
    actor = current_actor()
    decidable = service.decidable_ids(actor, rows, listed=True)  # the page's rows: scoped
    here = request.full_path.rstrip("?")  # the list as shown: Assign comes back to it
    assign = UrlPattern("OrderView.assign_preview", "order", next=here)
    decline, cancel = UrlPattern("OrderView.decline"), UrlPattern("OrderView.cancel")
    for order in rows:
        menu = []
        if order.id in decidable:
            menu.append(RowAction("Assign", assign(order.id)))
            menu.append(RowAction("Decline", decline(order.id)))
        if service.can_cancel(actor, order) and not licenses_managed():
            menu.append(RowAction("Cancel request", cancel(order.id)))
        order.row_menu = menu


SECTION_STATUSES = {status for _label, status in SECTIONS if status}
# Links in emails sent before the sections had their own URLs filtered the list:
# "Equal to" status (Add Filter's fourth operator), or "Starts with" (the first).
LEGACY_SECTION_FILTERS = ("_flt_3_status", "_flt_0_status")


class OrderInterface(ScopedInterface):
    """The orders the actor may see, narrowed to the section being shown, if any."""

    def narrowing(self):
        section = g.get("order_section")
        if section in (OrderStatus.ASSIGNED, EXPIRED):
            return section, {"now": clock.now()}
        return ("status", {"section": section}) if section else (None, {})

    def narrowing_conditions(self, shape, values):
        if shape == OrderStatus.ASSIGNED:
            return [pools.is_pool(values["now"])]  # still running
        if shape == EXPIRED:
            return [pools.is_spent(values["now"])]
        return [Order.status == values["section"]] if shape == "status" else []


def current_section() -> str | None:
    section = g.get("order_section")
    return section or next(filter(None, map(request.args.get, LEGACY_SECTION_FILTERS)), None)


class OrderView(ScopedModelView):
    noun, row_noun = "orders", "order"
    route_base = "/orders"
    class_permission_name = "Orders"
    method_permission_name = {
        "list": "list",
        "section": "list",
        "show": "show",
        "request_licenses": "request",
        "assign": "assign",
        "assign_preview": "assign",
        "decline": "decline",
        "cancel": "cancel",
    }
    base_permissions = [
        "can_list",
        "can_show",
        "can_request",
        "can_assign",
        "can_decline",
        "can_cancel",
    ]
    datamodel = OrderInterface(Order, annotate=_annotate)
    column_links = {"number": "OrderView", "company": "CompanyView"}
    quick_search_label = "order number, PO number or company"
    search_form_extra_fields = {
        "status": choice_field("Status", OrderStatus),
        "license_type": choice_field("Type", LicenseType),
    }

    def quick_search(self, term: str):
        by_company = Order.company_id.in_(select(Company.id).where(like_any(term, Company.name)))
        found = or_(by_company, like_any(term, Order.po_number))
        number = term.removeprefix("#")
        if number.isascii() and number.isdecimal() and len(number) < 10:
            return or_(Order.id == int(number), found)
        return found

    list_template = "orders/list.html"
    show_template = "orders/show.html"

    list_title = "Licenses · Orders"
    show_title = "Order"
    list_columns = [
        "number",
        "company",
        "license_type",
        "quantity",
        "po_number",
        "status_label",
        "requested_by",
        "requested_at",
        "expires_at",
        "row_menu",
    ]
    order_columns = ["quantity", "status", "requested_at", "assigned_at", "expires_at"]
    search_columns = [
        "company",
        "requested_by",
        "status",
        "license_type",
        "quantity",
        "po_number",
        "requested_at",
    ]
    show_columns = [
        "number",
        "company",
        "license_type",
        "quantity",
        "po_number",
        "coterm_order",
        "status_label",
        "requested_by",
        "requested_at",
        "assigned_by",
        "assigned_at",
        "expires_at",
        "closed_by",
        "closed_at",
        "close_reason",
    ]
    base_order = ("requested_at", "desc")
    label_columns = {
        "number": "Order",
        "license_type": "Type",
        "po_number": "PO number",
        "coterm_order": "Co-termed with",
        "status_label": "Status",
        "requested_by": "Requested by",
        "requested_at": "Requested",
        "assigned_by": "Assigned by",
        "assigned_at": "Assigned",
        "expires_at": "Expires",
        "closed_by": "Closed by",
        "closed_at": "Closed",
        "close_reason": "Reason",
        "row_menu": "",
    }
    formatters_columns = {
        "license_type": type_label,
        "quantity": display.number,
        "requested_at": local_when,
        "assigned_at": local_when,
        "expires_at": local_when,
        "closed_at": local_when,
        "requested_by": or_dash,
        "assigned_by": or_dash,
        "closed_by": or_dash,
        "close_reason": or_dash,
        "po_number": or_dash,
        "coterm_order": or_dash,
    }

    def render_template(self, template, **kwargs):
        return super().render_template(
            template, sections=SECTIONS, section=current_section(), actor=current_actor(), **kwargs
        )

    @expose("/section/<status>")
    @has_access
    def section(self, status):
        """A section of the Orders tab (Requested Orders, Assigned, …): the list, with
        the filters of the URL, narrowed to one status."""
        if status not in SECTION_STATUSES:
            abort(404)
        g.order_section = status
        return self.list()

    @action("assign", "Assign", None, "fa-check")
    def assign(self, pks):
        """Assign on ticked orders: first what it will do (`assign_preview`), unless
        it cannot be done (the reason, on the list)."""
        back = self.back_to_list()
        if not self.run_service(lambda a: service.preview_assignment(a, pks), None):
            return redirect(back)
        return redirect(url_for("OrderView.assign_preview", order=pks, next=back))

    @expose("/assign", methods=["GET", "POST"])
    @has_access
    def assign_preview(self):
        """What Assign will do — per order its quantity, company and the resulting
        expiry in the company's time zone — then Assign (POST) or Back, to the list
        the orders were picked on (its filters kept)."""
        pks = request.values.getlist("order")
        back = self.local_url(request.values.get("next"))
        if request.method == "POST":
            form = request.form
            self.run_service(
                lambda a: service.assign_orders(
                    a, pks, form.getlist("normal_term"), form.get("approve"), form.get("reason")
                ),
                assigned_message,
            )
            return redirect(back)
        outcome = self.run_service(lambda a: service.preview_assignment(a, pks), None)
        if not outcome:
            return redirect(back)
        plan = outcome.result
        return self.render_template(
            "orders/assign.html",
            plan=plan,
            outcome_labels=renewal_requests.OUTCOMES,
            back=back,
            title=f"Assign {display.count(len(plan), 'order')}",
        )

    @expose("/request", methods=["GET", "POST"])
    @has_access
    def request_licenses(self):
        """Request Licenses: a quantity for the company the manager is working in."""
        form = RequestLicensesForm()
        actor = current_actor()
        company = request_company(actor.company_in_view)
        types = service.requestable_types(actor, company) if company else [LicenseType.PREMIUM]
        form.license_type.choices = [(t.value, t.label) for t in types]
        pools_now = service.coterm_choices(company.id, clock.now()) if company else []
        form.coterm_order_id.choices = [("", "A full term from assignment")] + [
            (
                str(o.id),
                f"With order {o.number} ({o.type_label}): expires "
                + display.when(o.expires_at, company.timezone),
            )
            for o in pools_now
        ]
        wanted = request.args.get("quantity", "")
        if request.method == "GET" and wanted.isdecimal() and len(wanted) <= 7:
            form.quantity.data = wanted  # "Request 25 more" from a confirmation
        if form.validate_on_submit() and self.run_service(
            lambda a: service.request_order(
                a,
                a.company_in_view,
                form.quantity.data,
                form.license_type.data,
                form.po_number.data,
                form.coterm_order_id.data,
            ),
            lambda order: (
                f"Requested {display.count(order.quantity, f'{order.type_label} license')} "
                f"(order {order.number})."
            ),
            form,
        ):
            return redirect(url_for("OrderView.list"))
        return self.render_template("orders/request.html", form=form, title="Request Licenses")

    @expose("/decline/<pk>", methods=["GET", "POST"])
    @has_access
    def decline(self, pk):
        return self._reason_form(
            pk,
            "Decline",
            lambda a, f: service.decline_order(a, pk, f.reason.data),
            lambda order: f"Declined order {order.number}.",
        )

    @expose("/cancel/<pk>", methods=["GET", "POST"])
    @has_access
    def cancel(self, pk):
        return self._reason_form(
            pk,
            "Cancel",
            lambda a, f: service.cancel_order(a, pk, f.reason.data),
            lambda order: f"Cancelled order {order.number}.",
        )

    def _reason_form(self, pk, verb: str, work, success):
        order = self.datamodel.get(pk)
        if order is None:
            abort(404)
        form = ReasonForm()
        if form.validate_on_submit() and self.run_service(lambda a: work(a, form), success, form):
            return redirect(url_for("OrderView.show", pk=order.id))
        return self.render_template(
            "orders/reason.html",
            form=form,
            order=order,
            verb=verb,
            title=f"{verb} order {order.number}",
        )

    def show_extras(self, item) -> dict:
        show_times_in(item.company.timezone)
        actor = current_actor()
        return {
            "history": service.history(item.id),
            "can_decide": service.can_decide(actor, item),
            "can_cancel": service.can_cancel(actor, item) and not licenses_managed(),
            "people": renewal_requests.people_page(item.id) if item.renewal else [],
            "people_total": item.quantity,
            "outcome_labels": renewal_requests.OUTCOMES,
        }
