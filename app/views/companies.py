"""Company: an account manager's subtree (the guide's 'Company' section)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField

from app import display
from app.models import Company, CompanyKind, LicenseType
from app.services import companies as service
from app.services import manage_mode, pools, reclaim, trials
from app.services.licenses import company_figure_columns, figure_values
from app.services.validation import zone_choices
from app.sql import like_any
from app.tenancy import Screen
from app.views.base import (
    RowAction,
    ScopedInterface,
    ScopedModelView,
    local_when,
    or_dash,
)
from app.views.context import current_actor
from app.views.filters import choice_field
from app.views.list_rows import UrlPattern
from app.views.manage import start
from app.views.page_rows import Computed


def _annotate(rows: list[Company]) -> None:
    """Each row's plan, from the rank read with its figures (`CompanyView.
    computed_columns`), and its actions menu (Manage Company for the companies the
    actor manages)."""
    actor = current_actor()
    may_manage = actor.may_manage_others
    manage = UrlPattern("CompanyView.action", name="manage")
    schedule = UrlPattern("ScheduleView.show")
    for row in rows:
        row.row_menu = (
            [RowAction("Manage Company", manage(row.id), post=True)]
            if may_manage and row.id != actor.company_id
            else []
        ) + ([RowAction("Reminder schedule", schedule(row.id))] if may_manage else [])
        row.plan = pools.plan_label(row.plan_rank)


def _kind_label(value: str) -> str:
    return CompanyKind(value).label


class TrialForm(FlaskForm):
    trial_seats = StringField("Free Trial seats")


class CompanyView(ScopedModelView):
    noun, row_noun = "companies", "company"
    route_base = "/companies"
    class_permission_name = "Company"
    method_permission_name = {
        "manage": "manage",
        "start_trial": "start_trial",
        "trial": "start_trial",
    }
    datamodel = ScopedInterface(Company, annotate=_annotate, screen=Screen.PARTNER)
    # Learners and the seat figures, read with the page's rows.
    computed_columns = Computed(company_figure_columns(Company.id), figure_values)

    list_title = "Company"
    show_title = "Company"
    add_title = "Add a company"
    edit_title = "Edit company"
    list_columns = [
        "name",
        "kind",
        "parent",
        "timezone",
        "plan",
        "learner_count",
        "free",
        "expiring",
        "expired",
        "row_menu",
    ]
    column_links = {"name": "CompanyView"}
    quick_search_label = "company name"
    search_form_extra_fields = {"kind": choice_field("Kind", CompanyKind)}

    def quick_search(self, term: str):
        return like_any(term, Company.name)

    order_columns = ["name", "kind", "timezone", "created_at"]
    search_columns = ["name", "kind", "parent", "timezone"]
    show_columns = ["name", "kind", "parent", "timezone", "created_at"]
    add_columns = [
        "name",
        "kind",
        "parent",
        "timezone",
        "auto_license",
        "trial_seats",
        "quantity",
        "license_type",
        "po_number",
        "assign_now",
    ]
    edit_columns = [
        "name",
        "parent",
        "timezone",
        "auto_license",
        "partner_handles_renewals",
        "send_digest",
        "inactive_days",
    ]
    base_order = ("name", "asc")
    label_columns = {
        "kind": "Kind",
        "parent": "Parent",
        "timezone": "Time zone",
        "plan": "Plan",
        "learner_count": "Learners",
        "created_at": "Created",
        "auto_license": "License new learners automatically",
        "partner_handles_renewals": "We handle this company's renewals",
        "send_digest": "Daily digest to this company's account managers",
        "inactive_days": "Flag people inactive for this many days as do-not-renew",
        "trial_seats": "Start a Free Trial with this many seats (optional)",
        "quantity": "Licenses to order (optional)",
        "license_type": "License type",
        "po_number": "PO number (optional)",
        "assign_now": "and assign the order now",
        "row_menu": "",
        "free": "Free seats",
        "expiring": "Expiring (30 days)",
        "expired": "Expired",
    }
    formatters_columns = {
        "kind": _kind_label,
        "parent": or_dash,
        "created_at": local_when,
        **dict.fromkeys(("learner_count", "free", "expiring", "expired"), display.number),
    }
    add_form_extra_fields = {
        "auto_license": BooleanField("License new learners automatically", default=True),
        "kind": SelectField("Kind", choices=[], widget=Select2Widget()),
        "timezone": SelectField("Time zone", choices=[], default="UTC", widget=Select2Widget()),
        # A Free Trial or its first order (optional): the service checks every value.
        "trial_seats": StringField("Start a Free Trial with this many seats (optional)"),
        "quantity": StringField("Licenses to order (optional)"),
        "license_type": SelectField(
            "License type",
            choices=[(t.value, t.label) for t in (LicenseType.PREMIUM, LicenseType.MANAGED)],
            validate_choice=False,
        ),
        "po_number": StringField("PO number (optional)"),
        "assign_now": BooleanField("and assign the order now"),
    }
    edit_form_extra_fields = {
        "auto_license": BooleanField("License new learners automatically"),
        "partner_handles_renewals": BooleanField("We handle this company's renewals"),
        "send_digest": BooleanField("Daily digest to this company's account managers"),
        "inactive_days": StringField("Flag people inactive for this many days as do-not-renew"),
        "timezone": SelectField("Time zone", choices=[], widget=Select2Widget()),
    }
    description_columns = {
        "parent": "The partner or sub-partner this company belongs to.",
        "timezone": "Licenses expire and reminders are dated in this time zone.",
        "partner_handles_renewals": "Its reminder emails go to the account managers above "
        "it instead of its own managers (set by the account managers above it; no order "
        "is made automatically).",
        "inactive_days": "Seat reclaim: people whose last-active date is older are left out "
        "of renewals and counted apart in reminders. Empty: off.",
        "send_digest": "For a partner or sub-partner: one email a day about its companies' "
        "licenses expired in the last day or expiring within 72 hours.",
        "trial_seats": "A customer's 30-day Free Trial: its people are licensed as they "
        "are added. Start a trial or order licenses, not both.",
        "quantity": "Requests the company's first order with it (Requested Orders), "
        "on its behalf; tick 'assign now' to assign it at once.",
    }

    @action("manage", "Manage Company", None, "fa-sign-in-alt")
    def manage(self, pks):
        """Enter Manager Mode for the selected company (the guide's Actions menu)."""
        outcome = self.run_service(
            lambda a: manage_mode.enter(a, pks), lambda c: f"You are managing {c.name}."
        )
        if not outcome:
            return redirect(self.back_to_list())
        start(outcome.result)
        return redirect(url_for("DashboardView.index"))

    @action("start_trial", "Start Free Trial", None, "fa-gift")
    def start_trial(self, pks):
        """Company → Actions: a customer's Free Trial (once per company), on its page."""
        if len(pks) != 1:
            flash("Start a Free Trial for one company at a time.", "warning")
            return redirect(self.back_to_list())
        company = self.datamodel.get(pks[0])
        if company is None:
            abort(404)
        return redirect(url_for("CompanyView.trial", pk=company.id))

    @expose("/trial/<pk>", methods=["GET", "POST"])
    @has_access
    def trial(self, pk):
        company = self.datamodel.get(pk)
        if company is None:
            abort(404)
        form = TrialForm()
        if form.validate_on_submit() and self.run_service(
            lambda a: trials.start_trial(a, company.id, form.trial_seats.data),
            lambda order: (
                f"Started a Free Trial of {display.count(order.quantity, 'seat')} "
                f"for {company.name}, until "
                f"{display.when(order.expires_at, company.timezone)}."
            ),
            form,
        ):
            return redirect(url_for("CompanyView.show", pk=company.id))
        return self.render_template(
            "companies/trial.html",
            form=form,
            company=company,
            days=current_app.config["TRIAL_TERM_DAYS"],
            title=f"Start a Free Trial for {company.name}",
        )

    def prepare_form(self, form, item=None):
        form.timezone.choices = zone_choices()
        if hasattr(form, "kind"):
            form.kind.choices = service.kind_choices(current_actor())

    def create_item(self, actor, form):
        parent = form.parent.data
        return service.create_company(
            actor,
            name=form.name.data,
            kind=form.kind.data,
            parent_id=parent.id if parent else None,
            timezone=form.timezone.data,
            auto_license=form.auto_license.data,
            trial_seats=form.trial_seats.data,
            order=service.NewOrder(
                form.quantity.data,
                form.license_type.data,
                form.po_number.data,
                bool(form.assign_now.data),
            ),
        )

    def update_item(self, actor, item, form):
        parent = form.parent.data
        service.update_company(
            actor,
            item.id,
            name=form.name.data,
            timezone=form.timezone.data,
            auto_license=form.auto_license.data,
            partner_handles_renewals=form.partner_handles_renewals.data,
            send_digest=form.send_digest.data,
        )
        if reclaim.parse_days(form.inactive_days.data) != item.inactive_days:
            reclaim.set_inactive_days(actor, item.id, form.inactive_days.data)
        return service.move_company(actor, item.id, parent.id if parent else None)

    def delete_item(self, actor, item):
        service.delete_company(actor, item.id)
