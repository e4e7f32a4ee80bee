"""The Admin Dashboard: the page after login."""

from __future__ import annotations

from flask_appbuilder import IndexView, expose, has_access

from app.extensions import db
from app.models import Company
from app.services.licenses import seat_position
from app.services.stats import dashboard_counts
from app.tenancy import screen_scope
from app.views.base import current_actor


class DashboardView(IndexView):
    route_base = ""
    default_view = "index"
    class_permission_name = "Dashboard"
    index_template = "dashboard.html"

    @expose("/")
    @has_access
    def index(self):
        actor = current_actor()
        return self.render_template(
            self.index_template,
            title="Admin Dashboard",
            actor=actor,
            company=db.session.get(Company, actor.company_in_view)
            if actor.company_in_view
            else None,
            counts=dashboard_counts(actor),
            seats=seat_position(lambda column: screen_scope(actor, column)),
        )
