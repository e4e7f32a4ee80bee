"""The ceiling of `bench/load.py`: a page with the layout of every page (FAB's base
template, the menus, the signed-in user, the permission check, the CSRF token) and
no queries of its own. Bench-only: `bench/load_app.py` adds it to the served app."""

from __future__ import annotations

from flask_appbuilder import BaseView, expose, has_access
from jinja2 import ChoiceLoader, DictLoader

URL = "/bench/ceiling"
TEMPLATE = """{% extends "appbuilder/base.html" %}
{% block content %}
<h1 class="h2">Ceiling</h1>
<p>The layout of every page (menus, the signed-in user, the CSRF token) and static
content: what one request costs before a list page runs a query of its own.</p>
{% endblock %}
"""


class CeilingView(BaseView):
    """Behind `has_access` like every page: Flask-Login loads the user and FAB checks
    the role's permission, exactly as for the list pages."""

    route_base = "/bench"
    class_permission_name = "Dashboard"  # every manager's role grants Dashboard can_.*
    default_view = "ceiling"

    @expose("/ceiling")
    @has_access
    def ceiling(self):
        return self.render_template("bench/ceiling.html", title="Ceiling")


def add_ceiling(app) -> None:
    """Register the page on a built app (before its first request)."""
    app.jinja_loader = ChoiceLoader(
        [app.jinja_loader, DictLoader({"bench/ceiling.html": TEMPLATE})]
    )
    with app.app_context():
        app.appbuilder.add_view_no_menu(CeilingView)
