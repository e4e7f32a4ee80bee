"""The SecurityManager: FAB's users extended with a company."""

from __future__ import annotations

from flask import abort
from flask_appbuilder.api import expose
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import (
    PermissionModelView,
    PermissionViewModelView,
    RoleModelView,
    UserDBModelView,
    UserGroupModelView,
    ViewMenuModelView,
)

from app.models import AppUser


class KnownActionsOnly:
    """Stock FAB answers 500 to an action name it does not know (it looks the
    action up before checking permissions); answer 404 instead."""

    def get_action_permission_name(self, name: str) -> str:
        if name not in self.actions:
            abort(404)
        return super().get_action_permission_name(name)


def _known_actions_only(view_class):
    # Same class name, so FAB's permission and endpoint names do not change.
    return type(view_class.__name__, (KnownActionsOnly, view_class), {})


class AppUserDBModelView(KnownActionsOnly, UserDBModelView):
    """FAB's user administration (platform admin only), showing each user's company."""

    list_columns = ["first_name", "last_name", "username", "email", "company", "active", "roles"]
    add_columns = [
        "first_name",
        "last_name",
        "username",
        "active",
        "email",
        "company",
        "roles",
        "password",
        "conf_password",
    ]
    edit_columns = ["first_name", "last_name", "username", "active", "email", "company", "roles"]


class ClosedSecurityApi(SecurityApi):
    """The panel has no token API yet: FAB's API login would let passwords be guessed
    outside the rate-limited login form, so it answers 404 until an API issue opens it."""

    @expose("/login", methods=["POST"])
    def login(self):
        abort(404)

    @expose("/refresh", methods=["POST"])
    def refresh(self):
        abort(404)


class AppSecurityManager(SecurityManager):
    user_model = AppUser
    userdbmodelview = AppUserDBModelView
    security_api = ClosedSecurityApi
    rolemodelview = _known_actions_only(RoleModelView)
    groupmodelview = _known_actions_only(UserGroupModelView)
    permissionmodelview = _known_actions_only(PermissionModelView)
    viewmenumodelview = _known_actions_only(ViewMenuModelView)
    permissionviewmodelview = _known_actions_only(PermissionViewModelView)
