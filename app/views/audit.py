"""Audit Log: every change, who made it, for which company, on behalf of which."""

from __future__ import annotations

import json

from flask import request
from flask_appbuilder import expose, has_access
from sqlalchemy import or_, select

from app import exports
from app.models import AppUser, AuditEvent, Company
from app.sql import like_any
from app.views.base import (
    LOG_COUNT_CAP,
    ScopedInterface,
    ScopedModelView,
    action_label,
    local_when,
    or_dash,
)
from app.views.filters import words_match

COLUMNS = [
    ("at", "When"),
    ("action", "Action"),
    ("actor", "Who"),
    ("company", "Company"),
    ("on_behalf_of", "On behalf of"),
    ("interface", "Via"),
    ("entity", "Object"),
    ("entity_id", "Object id"),
    ("before", "Before"),
    ("after", "After"),
]


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False) if value else ""


def _cell(event: AuditEvent, column: str):
    value = getattr(event, column)
    if column == "at":
        return exports.iso_utc(value)
    if column in ("before", "after"):
        return _json(value)
    if column == "actor":
        return value.username if value else "the platform"
    if column in ("company", "on_behalf_of"):
        return value.name if value else ""
    return value


class AuditLogView(ScopedModelView):
    route_base = "/audit"
    class_permission_name = "AuditLog"
    method_permission_name = {"list": "list", "show": "show", "export": "export"}
    base_permissions = ["can_list", "can_show", "can_export"]
    datamodel = ScopedInterface(
        AuditEvent, count_cap=LOG_COUNT_CAP, wide_order=("at", "ix_audit_events_at_id")
    )
    list_template = "audit/list.html"

    list_title = "Audit Log"
    column_links = {"action": "AuditLogView", "company": "CompanyView"}
    quick_search_label = "company or who"

    def quick_search(self, term: str):
        companies = select(Company.id).where(like_any(term, Company.name))
        people = select(AppUser.id).where(
            words_match(term, AppUser.first_name, AppUser.last_name, AppUser.username)
        )
        return or_(AuditEvent.company_id.in_(companies), AuditEvent.actor_id.in_(people))

    show_title = "Audit event"
    list_columns = ["at", "action", "actor", "company", "on_behalf_of", "interface", "entity_id"]
    show_columns = [c for c, _ in COLUMNS]
    order_columns = ["at", "action", "interface"]
    search_columns = ["company", "actor", "action", "at", "on_behalf_of", "interface"]
    base_order = ("at", "desc")
    label_columns = dict(COLUMNS)
    formatters_columns = {
        "at": local_when,
        "action": action_label,
        "before": _json,
        "after": _json,
        "actor": or_dash,
        "company": or_dash,
        "on_behalf_of": or_dash,
        "entity_id": or_dash,
    }

    @expose("/export/<fmt>")
    @has_access
    def export(self, fmt):
        """The list as filtered and sorted on screen, as CSV (streamed) or XLSX."""
        header = [f"{label} (UTC)" if c == "at" else label for c, label in COLUMNS]

        def rows():
            return ([_cell(e, c) for c, _ in COLUMNS] for e in self._filtered_events())

        return exports.download(fmt, "audit-log", "Audit Log", header, rows)

    def _filtered_events(self):
        query = self.datamodel.session.query(AuditEvent)
        return self.filtered_query(query, ordered=True).yield_per(500)

    def render_template(self, template, **kwargs):
        return super().render_template(template, export_args=request.args.to_dict(), **kwargs)
