"""Learners: the company's people, with an optional group/department."""

from __future__ import annotations

from app.models import Learner
from app.services import learners as service
from app.views.actions import ActiveToggleActions
from app.views.base import ScopedInterface, ScopedModelView, active_label, local_when, or_dash
from app.views.filters import PeopleSearch


class LearnerView(PeopleSearch, ActiveToggleActions, ScopedModelView):
    route_base = "/learners"
    class_permission_name = "Learners"
    method_permission_name = {"deactivate": "deactivate", "activate": "activate"}
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
    list_columns = ["first_name", "last_name", "email", "department", "company", "active"]
    order_columns = ["first_name", "last_name", "email", "department", "active", "created_at"]
    search_columns = ["first_name", "last_name", "email", "department", "company", "active"]
    show_columns = [
        "first_name",
        "last_name",
        "email",
        "department",
        "company",
        "active",
        "created_at",
    ]
    add_columns = ["company", "email", "first_name", "last_name", "department"]
    edit_columns = ["email", "first_name", "last_name", "department"]
    base_order = ("last_name", "asc")
    label_columns = {"department": "Group/department", "created_at": "Added"}
    formatters_columns = {
        "department": or_dash,
        "active": active_label,
        "created_at": local_when,
    }

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
        )
