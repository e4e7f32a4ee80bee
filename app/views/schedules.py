"""Reminder schedule: a company's effective schedule and where it comes from; the
account managers above it (and of it) edit it, or let it use the one above."""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access

from app.errors import NotFound
from app.models.reminder_step import parse_key
from app.services import schedules
from app.tenancy import require_company
from app.views.base import run_service
from app.views.context import current_actor

ROWS = schedules.MAX_STEPS
DEFAULT_AUDIENCE = schedules.Audience.COMPANY_MANAGERS.value


def _rows(found: schedules.Effective) -> list[dict]:
    """The form's rows: each step as amount, unit and anchor; then empty rows."""
    rows = []
    for step in found.steps:
        offset, in_days = parse_key(schedules.key_of(step))
        amount = abs(offset.days) if in_days else abs(int(offset.total_seconds() // 3600))
        rows.append(
            {
                "amount": amount,
                "unit": "days" if in_days or not amount else "hours",
                "anchor": "before" if offset.total_seconds() < 0 else "after",
                "audience": step.audience.value,
            }
        )
    empty = {"amount": "", "unit": "days", "anchor": "before", "audience": DEFAULT_AUDIENCE}
    return rows + [empty] * (ROWS - len(rows))


def _posted() -> list[tuple[str, str]]:
    steps = []
    for i in range(ROWS):
        amount = request.form.get(f"amount-{i}", "").strip()
        if not amount:
            continue
        key = schedules.step_key(
            amount, request.form.get(f"unit-{i}", "days"), request.form.get(f"anchor-{i}", "")
        )
        steps.append((key, request.form.get(f"audience-{i}", DEFAULT_AUDIENCE)))
    return steps


class ScheduleView(BaseView):
    route_base = "/schedules"
    class_permission_name = "Schedules"
    method_permission_name = {"show": "show", "save": "edit", "clear": "edit"}
    base_permissions = ["can_show", "can_edit"]
    default_view = "show"

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        return self._page(pk)

    @expose("/<int:pk>", methods=["POST"])
    @has_access
    def save(self, pk):
        company = self._company(pk)
        outcome = run_service(
            lambda actor: schedules.set_schedule(actor, company.id, _posted()),
            f"Saved the reminder schedule of {company.name}.",
        )
        if outcome:
            return redirect(url_for("ScheduleView.show", pk=company.id))
        return self._page(pk, posted=True)

    @expose("/<int:pk>/clear", methods=["POST"])
    @has_access
    def clear(self, pk):
        company = self._company(pk)
        run_service(
            lambda actor: schedules.clear_schedule(actor, company.id),
            f"{company.name} uses the schedule above it.",
        )
        return redirect(url_for("ScheduleView.show", pk=company.id))

    def _company(self, pk):
        try:
            return require_company(current_actor(), pk)
        except NotFound:
            abort(404)

    def _page(self, pk, posted: bool = False):
        company = self._company(pk)
        found = schedules.effective(company.id)
        rows = _rows(found)
        if posted:
            rows = [
                {
                    "amount": request.form.get(f"amount-{i}", ""),
                    "unit": request.form.get(f"unit-{i}", "days"),
                    "anchor": request.form.get(f"anchor-{i}", "before"),
                    "audience": request.form.get(f"audience-{i}", DEFAULT_AUDIENCE),
                }
                for i in range(ROWS)
            ]
        actor = current_actor()
        return self.render_template(
            "schedules/edit.html",
            company=company,
            found=found,
            rows=rows,
            own=found.source is not None and found.source.id == company.id,
            may_edit=schedules.may_edit(actor, company.id),
            labels={s.key: schedules.key_label(schedules.key_of(s)) for s in found.steps},
            audiences=[(a.value, a.label) for a in schedules.AUDIENCES],
            title=f"Reminder schedule: {company.name}",
        )
