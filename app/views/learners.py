"""Learners: the company's people, with an optional group/department."""

from __future__ import annotations

from flask import redirect
from flask_appbuilder.actions import action
from wtforms import StringField

from app.models import Learner
from app.services import learners as service
from app.services import reclaim
from app.views.actions import ActiveToggleActions
from app.views.base import ScopedInterface, ScopedModelView, active_label, local_when, or_dash
from app.views.filters import PeopleSearch


def _flag_label(value) -> str:
    """A manager's flag: "Flagged", "Cleared" (over the company's rule), or "—"
    (the company's inactivity rule decides)."""
    return {True: "Flagged", False: "Cleared"}.get(value, "—")


class LearnerView(PeopleSearch, ActiveToggleActions, ScopedModelView):
    route_base = "/learners"
    class_permission_name = "Learners"
    method_permission_name = {
        "deactivate": "deactivate",
        "activate": "activate",
        "flag": "edit",
        "unflag": "edit",
    }
    datamodel = ScopedInterface(Learner)
    list_template = "learners/list.html"
    noun, row_noun = "learners", "learner"
    set_active = staticmethod(service.set_learners_active)

    list_title = "Learners"
    column_links = {
        "first_name": "LearnerView",
        "last_name": "LearnerView",
        "company": "CompanyView",
    }

    show_title = "Learner"
    add_title = "Add a learner"
    edit_title = "Edit learner"
    list_columns = [
        "first_name",
        "last_name",
        "email",
        "department",
        "company",
        "last_active_on",
        "do_not_renew",
        "active",
    ]
    order_columns = ["first_name", "last_name", "email", "department", "active", "created_at"]
    search_columns = ["first_name", "last_name", "email", "department", "company", "active"]
    show_columns = [
        "first_name",
        "last_name",
        "email",
        "department",
        "company",
        "active",
        "last_active_on",
        "do_not_renew",
        "created_at",
    ]
    add_columns = ["company", "email", "first_name", "last_name", "department"]
    edit_columns = ["email", "first_name", "last_name", "department", "last_active_on"]
    edit_form_extra_fields = {"last_active_on": StringField("Last active (YYYY-MM-DD)")}
    base_order = ("last_name", "asc")
    label_columns = {
        "department": "Group/department",
        "created_at": "Added",
        "last_active_on": "Last active",
        "do_not_renew": "Do not renew",
    }
    formatters_columns = {
        "department": or_dash,
        "active": active_label,
        "created_at": local_when,
        "last_active_on": or_dash,
        "do_not_renew": _flag_label,
    }

    @action("flag", "Flag do-not-renew", "Flag the selected people do-not-renew?", "fa-flag")
    def flag(self, pks):
        """Seat reclaim: these people are left out of renewals (any manager)."""
        return self._set_flag(pks, True, "Flagged {n} {noun} do-not-renew.")

    @action("unflag", "Clear do-not-renew", "Clear the flag of the selected people?", "fa-flag-o")
    def unflag(self, pks):
        """The flag cleared, whatever the company's inactivity rule says."""
        return self._set_flag(pks, False, "Cleared the do-not-renew flag of {n} {noun}.")

    def _set_flag(self, pks, flag: bool, done: str):
        self.run_service(
            lambda a: reclaim.set_flag(a, pks, flag),
            lambda n: done.format(n=n, noun=self.noun),
        )
        return redirect(self.back_to_list())

    def create_item(self, actor, form):
        company = form.company.data
        return service.add_learner(
            actor,
            company.id if company else None,
            email=form.email.data,
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            department=form.department.data,
        )

    def update_item(self, actor, item, form):
        return service.update_learner(
            actor,
            item.id,
            email=form.email.data,
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            department=form.department.data,
            last_active_on=form.last_active_on.data,
        )
