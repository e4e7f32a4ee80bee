"""Every view and menu entry, registered in one place."""

from __future__ import annotations

from flask import current_app

from app.views.api_keys import ApiKeyView
from app.views.audit import AuditLogView
from app.views.companies import CompanyView
from app.views.context import display_zone, licenses_managed
from app.views.emails import EmailView
from app.views.imports import ImportView
from app.views.learners import LearnerView
from app.views.licenses import (
    AllocatedView,
    AvailableView,
    ExpiredView,
    ExpiringView,
    SelectionView,
    UnlicensedView,
)
from app.views.manage import ManageModeView
from app.views.managers import ManagerView
from app.views.orders import OrderView
from app.views.renewals import RenewalsView
from app.views.schedules import ScheduleView
from app.views.system import SystemView
from app.views.webhooks import WebhookView


def register_views(appbuilder) -> None:
    appbuilder.add_link(
        "Admin Dashboard", href="/", icon="fa-tachometer-alt", label="Admin Dashboard"
    )
    appbuilder.add_view(CompanyView, "Company", icon="fa-building", label="Company")
    appbuilder.add_view(RenewalsView, "Renewals", icon="fa-sync", label="Renewals")
    appbuilder.add_view(ManagerView, "Users", icon="fa-user-tie", label="Users")
    appbuilder.add_view(OrderView, "Licenses", icon="fa-id-card", label="Licenses")
    appbuilder.add_view(LearnerView, "Learners", icon="fa-users", label="Learners")
    appbuilder.add_view(EmailView, "Emails", icon="fa-envelope", label="Emails")
    appbuilder.add_view(AuditLogView, "Audit Log", icon="fa-history", label="Audit Log")
    appbuilder.add_view(SystemView, "System", icon="fa-heartbeat", label="System")
    appbuilder.add_view_no_menu(ManageModeView)
    for tab in (AvailableView, AllocatedView, ExpiringView, ExpiredView, UnlicensedView):
        appbuilder.add_view_no_menu(tab)
    appbuilder.add_view_no_menu(SelectionView)
    appbuilder.add_view_no_menu(ImportView)
    appbuilder.add_view_no_menu(ScheduleView)
    appbuilder.add_view_no_menu(ApiKeyView)
    appbuilder.add_view_no_menu(WebhookView)
    current_app.context_processor(
        lambda: {"page_zone": display_zone, "licenses_managed": licenses_managed}
    )
    _hide_managed_actions(current_app.jinja_env)


# The actions a Managed company's customer managers may not take (services/managed.py).
MANAGED_ACTIONS = {"allocate", "deallocate", "request_renewal"}


def _hide_managed_actions(env) -> None:
    """FAB's filter of the actions a list offers, also leaving out the license
    actions for a Managed company's customer managers (the service refuses them
    anyway, with a 403)."""
    allowed = env.filters["get_actions_on_list"]

    def actions_on_list(actions, modelview_name):
        shown = allowed(actions, modelview_name)
        if licenses_managed():
            return {k: v for k, v in shown.items() if k not in MANAGED_ACTIONS}
        return shown

    env.filters["get_actions_on_list"] = actions_on_list
