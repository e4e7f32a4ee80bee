"""The SecurityManager: FAB's users extended with a company."""

from __future__ import annotations

from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import UserDBModelView

from app.models import AppUser


class AppUserDBModelView(UserDBModelView):
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


class AppSecurityManager(SecurityManager):
    user_model = AppUser
    userdbmodelview = AppUserDBModelView
