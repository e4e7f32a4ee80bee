"""Users: the managers of the companies the viewer may act on (menu 'Users').

Roles are never chosen here: a manager's role follows its company's kind
(services/managers.py). FAB's own security views stay for the platform admin.
"""

from __future__ import annotations

from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo

from app.models import AppUser
from app.services import managers as service
from app.views.actions import ActiveToggleActions
from app.views.base import (
    ScopedInterface,
    ScopedModelView,
    active_label,
    local_when,
    role_names,
)
from app.views.filters import words_match


class ManagerView(ActiveToggleActions, ScopedModelView):
    route_base = "/managers"
    class_permission_name = "Managers"
    method_permission_name = {"deactivate": "deactivate", "activate": "activate"}
    datamodel = ScopedInterface(AppUser)
    noun, row_noun = "users", "user"
    set_active = staticmethod(service.set_managers_active)

    list_title = "Users"
    show_title = "User"
    add_title = "Add a manager"
    edit_title = "Edit user"
    column_links = {
        "first_name": "ManagerView",
        "last_name": "ManagerView",
        "company": "CompanyView",
    }
    quick_search_label = "name, username or email"

    def quick_search(self, term: str):
        return words_match(
            term, AppUser.first_name, AppUser.last_name, AppUser.username, AppUser.email
        )

    list_columns = ["first_name", "last_name", "username", "email", "company", "roles", "active"]
    order_columns = ["first_name", "last_name", "username", "email", "active", "last_login"]
    search_columns = ["first_name", "last_name", "username", "email", "company", "active"]
    show_columns = [
        "first_name",
        "last_name",
        "username",
        "email",
        "company",
        "roles",
        "active",
        "last_login",
    ]
    add_columns = [
        "company",
        "username",
        "first_name",
        "last_name",
        "email",
        "password",
        "conf_password",
    ]
    edit_columns = ["first_name", "last_name", "email"]
    base_order = ("last_name", "asc")
    formatters_columns = {"active": active_label, "roles": role_names, "last_login": local_when}
    label_columns = {"roles": "Role", "conf_password": "Confirm password"}
    description_columns = {"company": "The manager's role follows the company's kind."}
    add_form_extra_fields = {
        "password": PasswordField(
            "Password", validators=[DataRequired()], widget=BS3PasswordFieldWidget()
        ),
        "conf_password": PasswordField(
            "Confirm password",
            validators=[EqualTo("password", message="The passwords must match.")],
            widget=BS3PasswordFieldWidget(),
        ),
    }

    def create_item(self, actor, form):
        company = form.company.data
        return service.create_manager(
            actor,
            company.id if company else None,
            username=form.username.data,
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            email=form.email.data,
            password=form.password.data,
        )

    def update_item(self, actor, item, form):
        return service.update_manager(
            actor,
            item.id,
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            email=form.email.data,
        )
