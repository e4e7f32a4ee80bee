"""The Admin Dashboard: the page after login."""

from __future__ import annotations

from functools import wraps

from flask import redirect, url_for
from flask_appbuilder import IndexView, expose, has_access
from flask_login import current_user

from app import clock
from app.fab_compat import filter_url
from app.services import dashboard
from app.services.licenses import seat_position
from app.services.stats import dashboard_counts
from app.tenancy import screen_scope
from app.views.context import current_actor, display_zone, request_company
from app.views.filters import Is


def sign_in_first(view):
    """Someone not signed in who opens the panel's address gets the sign-in page,
    without FAB's red "Access is Denied" (nothing was denied: nobody asked yet)."""

    @wraps(view)
    def quietly(self, *args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login)
        return view(self, *args, **kwargs)

    return quietly


class DashboardView(IndexView):
    route_base = ""
    default_view = "index"
    class_permission_name = "Dashboard"
    index_template = "dashboard.html"

    @expose("/")
    @sign_in_first
    @has_access
    def index(self):
        actor = current_actor()
        companies = self.view("CompanyView")
        return self.render_template(
            self.index_template,
            title="Admin Dashboard",
            kind_urls={
                kind: filter_url(companies, "kind", Is, kind)
                for kind in ("partner", "sub_partner", "customer")
            },
            actor=actor,
            company=request_company(actor.company_in_view),
            counts=dashboard_counts(actor),
            seats=seat_position(lambda column: screen_scope(actor, column)),
            seat_urls=None if actor.sees_one_company else renewals_urls(),
            months=dashboard.expiring_by_month(actor, clock.now(), display_zone()),
            needs=dashboard.needs_action(actor),
            email_urls={
                state: filter_url(self.view("EmailView"), "state", Is, state)
                for state in ("failed", "needs_attention")
            },
            unrequested_url=url_for(
                "RenewalsView.index", min_expiring_30=1, max_open_requests=0, sort="expiring_30"
            ),
        )

    def view(self, endpoint: str):
        return next(v for v in self.appbuilder.baseviews if v.endpoint == endpoint)


# A subtree's seat figure opens Renewals: the companies it sums, largest first.
SEAT_FIGURES = {
    "assigned": "assigned",
    "allocated": "allocated",
    "free": "free",
    "expiring": "expiring_30",
    "expired": "expired",
}


def renewals_urls() -> dict[str, str]:
    return {
        seat: url_for("RenewalsView.index", **{f"min_{figure}": 1, "sort": figure, "dir": "desc"})
        for seat, figure in SEAT_FIGURES.items()
    }
