"""The SecurityManager: FAB's users extended with a company."""

from __future__ import annotations

from flask import abort, g
from flask_appbuilder import expose
from flask_appbuilder.exceptions import PasswordComplexityValidationError
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
from wtforms.validators import DataRequired

from app.extensions import db
from app.fab_compat import IdCheckingInterface, KnownActionsOnly, known_actions_only
from app.models import AppUser
from app.services import passwords, sessions
from app.signin import PanelAuthDBView, PanelResetMyPasswordView
from app.tenancy import coerce_pk


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
    # FAB's own validator reads a "groups" field these forms do not have (a 500).
    validators_columns = {"roles": [DataRequired()]}

    def pre_add(self, item):
        """The password policy, with the new user's name and address as context."""
        item.password = passwords.hash_password(
            item.password, username=item.username, email=item.email
        )

    def post_update(self, item):
        """A deactivated user's browsers are signed out at once."""
        if not item.active:
            sessions.end_all([item.id], sessions.DEACTIVATED)
            db.session.commit()


def password_policy(password: str) -> None:
    """FAB's password forms (the admin's add-user and reset forms) check the panel's
    policy (FAB_PASSWORD_COMPLEXITY_VALIDATOR)."""
    reason = passwords.problem(password)
    if reason:
        raise PasswordComplexityValidationError(reason)


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
    authdbview = PanelAuthDBView
    resetmypasswordview = PanelResetMyPasswordView
    security_api = ClosedSecurityApi
    rolemodelview = known_actions_only(RoleModelView)
    groupmodelview = known_actions_only(UserGroupModelView)
    permissionmodelview = known_actions_only(PermissionModelView)
    viewmenumodelview = known_actions_only(ViewMenuModelView)
    permissionviewmodelview = known_actions_only(PermissionViewModelView)
    # FAB's login-count chart: nothing the panel needs, and its URL takes an index it
    # does not check (a 500 for anything else).
    userstatschartview = None

    def has_access(self, permission_name: str, view_name: str) -> bool:
        """FAB's check, remembered for the rest of the request and its signed-in
        user: a list page asks about the same menus, buttons, links and actions a
        dozen times or more, each a walk through the role's patterns."""
        user = g.get("_login_user")
        if user is None or g.get("_api_key_user"):
            return super().has_access(permission_name, view_name)
        memo = g.setdefault("_access_memo", {})
        key = (user, permission_name, view_name)
        if key not in memo:
            memo[key] = super().has_access(permission_name, view_name)
        return memo[key]

    def __init__(self, appbuilder):
        super().__init__(appbuilder)
        for view in (
            self.userdbmodelview,
            self.rolemodelview,
            self.groupmodelview,
            self.permissionmodelview,
            self.viewmenumodelview,
            self.permissionviewmodelview,
        ):
            if view is not None:
                view.datamodel = IdCheckingInterface(view.datamodel.obj)

    def load_user(self, token):
        """Flask-Login's loader: the cookie names a server-side session, not a user."""
        return sessions.user_for(token)

    def reset_password(self, userid, password):
        """The platform admin's reset of a user's password (and `flask fab
        reset-password`): the policy applies and the user's sessions end. FAB's form
        takes the user id from the query string: anything that is not a user's id
        answers 404 (FAB itself would fail with a 500). Raises Invalid."""
        pk = coerce_pk(userid)
        user = self.get_user_by_id(pk) if pk is not None else None
        if user is None:
            abort(404)
        user.password = passwords.hash_password(password, username=user.username, email=user.email)
        sessions.end_all([user.id], sessions.PASSWORD_CHANGED)
        db.session.commit()
