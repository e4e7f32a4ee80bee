"""The Admin Dashboard: the page after login."""

from __future__ import annotations

from functools import wraps

from flask import redirect
from flask_appbuilder import IndexView, expose, has_access
from flask_login import current_user

from app.extensions import db
from app.fab_compat import filter_url
from app.models import Company
from app.services.licenses import seat_position
from app.services.stats import dashboard_counts
from app.tenancy import screen_scope
from app.views.base import current_actor
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
        companies = next(v for v in self.appbuilder.baseviews if v.endpoint == "CompanyView")
        return self.render_template(
            self.index_template,
            title="Admin Dashboard",
            kind_urls={
                kind: filter_url(companies, "kind", Is, kind)
                for kind in ("partner", "sub_partner", "customer")
            },
            actor=actor,
            company=db.session.get(Company, actor.company_in_view)
            if actor.company_in_view
            else None,
            counts=dashboard_counts(actor),
            seats=seat_position(lambda column: screen_scope(actor, column)),
        )
