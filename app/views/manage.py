"""Manage Company mode in the web session: enter (from Company), exit, and the check
on every request that the mode is still allowed."""

from __future__ import annotations

from dataclasses import replace

from flask import flash, g, has_request_context, redirect, url_for
from flask import session as web_session
from flask_appbuilder import BaseView, expose

from app.models import Company
from app.services import manage_mode
from app.transaction import transaction
from app.views.context import MANAGING_KEY, current_actor, request_company


def start(company: Company) -> None:
    web_session[MANAGING_KEY] = company.id


def check_manage_mode() -> None:
    """Before every request: end manage mode if the user, role or company no longer
    allows it (a company moved away, a manager deactivated mid-session)."""
    company_id = web_session.get(MANAGING_KEY)
    if company_id is None:
        return
    actor = replace(current_actor(), managing_company_id=None)
    why = manage_mode.still_allowed(actor, g.get("user"), company_id)
    if why:
        web_session.pop(MANAGING_KEY, None)
        flash(f"Manager Mode ended: {why}.", "warning")


def banner_context() -> dict:
    """The manage-mode banner's names, for every page (nothing outside requests)."""
    company_id = web_session.get(MANAGING_KEY) if has_request_context() else None
    if company_id is None:
        return {"managing": None}
    actor = current_actor()
    own = request_company(actor.company_id)
    return {
        "managing": request_company(company_id),
        "managing_for": own.name if own else "the platform",
    }


class ManageModeView(BaseView):
    route_base = "/manage"
    class_permission_name = "ManageMode"
    default_view = "exit"

    @expose("/exit", methods=["POST"])
    def exit(self):
        """Exit Manager Mode: back to the account manager's own dashboard."""
        actor = current_actor()  # still acting for the managed company: audited so
        company_id = web_session.pop(MANAGING_KEY, None)
        if company_id is not None and actor.managing_company_id:
            with transaction():
                manage_mode.leave(actor, company_id)
            flash("You left Manager Mode.", "info")
        return redirect(url_for("DashboardView.index"))
