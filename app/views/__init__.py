"""Every view and menu entry, registered in one place."""

from __future__ import annotations

from app.views.companies import CompanyView
from app.views.learners import LearnerView
from app.views.managers import ManagerView


def register_views(appbuilder) -> None:
    appbuilder.add_link(
        "Admin Dashboard", href="/", icon="fa-tachometer-alt", label="Admin Dashboard"
    )
    appbuilder.add_view(CompanyView, "Company", icon="fa-building", label="Company")
    appbuilder.add_view(ManagerView, "Users", icon="fa-user-tie", label="Users")
    appbuilder.add_view(LearnerView, "Learners", icon="fa-users", label="Learners")
