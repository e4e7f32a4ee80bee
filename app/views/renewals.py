"""Renewals (account managers, the platform admin): the subtree's companies with
their figures, sorted and filtered by range, exported; each figure one click from
acting — a company's own tab, entered in Manage Company mode by a POST."""

from __future__ import annotations

from dataclasses import replace

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access

from app import clock, display, exports
from app.services import manage_mode, renewal_requests, renewals
from app.views.base import run_service
from app.views.context import current_actor, display_zone
from app.views.manage import start

# Where each figure is acted on: the company's own tab (endpoint).
TABS = {
    "learners": "LearnerView.list",
    "assigned": "AvailableView.list",
    "allocated": "AllocatedView.list",
    "free": "AvailableView.list",
    "expiring_30": "ExpiringView.list",
    "expiring_90": "ExpiringView.list",
    "expired": "ExpiredView.list",
    "next_expiry": "ExpiringView.list",
    "open_requests": "OrderView.list",
    "open_seats": "OrderView.list",
}
# Ready-made ranges, as the screen offers them.
PRESETS = [
    ("Expiring in 30 days, no open request", {"min_expiring_30": 1, "max_open_requests": 0}),
    ("Expired people", {"min_expired": 1}),
    ("No free seats", {"max_free": 0}),
]
MAX_FIGURE = 10**9


class RenewalsView(BaseView):
    route_base = "/renewals"
    default_view = "index"
    class_permission_name = "Renewals"
    method_permission_name = {
        "index": "list",
        "export": "export",
        "open": "manage",
        "request_renewals": "request",
    }
    base_permissions = ["can_list", "can_export", "can_manage", "can_request"]

    @expose("/")
    @has_access
    def index(self):
        query = read_query()
        result = renewals.page(current_actor(), query)
        return self.render_template(
            "renewals.html",
            title="Renewals",
            result=result,
            figures=renewals.FIGURES,
            presets=PRESETS,
            tabs=TABS,
            own_company=current_actor().company_id,
            windows=renewal_requests.WINDOWS,
            now=clock.now(),
            zone=display_zone(),
            args=request.args,
        )

    @expose("/export/<fmt>")
    @has_access
    def export(self, fmt):
        """The companies the screen's filters match, in its order: plain numbers and
        ISO 8601 UTC times, formula-like names neutralised."""
        query = read_query()
        actor = current_actor()
        header = ["Company", "Kind", "Plan", *(f.label for f in renewals.FIGURES)]

        def rows():
            for row in renewals.all_rows(actor, query):
                values = [row.figures[f.key] for f in renewals.FIGURES]
                values[-3] = exports.iso_utc(values[-3])  # next expiry
                yield [row.name, row.kind, row.plan, *values]

        return exports.download(fmt, "renewals", "Renewals", header, rows)

    @expose("/open/<int:company_id>/<figure>", methods=["POST"])
    @has_access
    def open(self, company_id, figure):
        """A figure of another company's row: Manage Company mode for that company
        (audited like any entry), on the tab the figure counts."""
        if figure not in TABS:
            abort(404)
        if company_id == current_actor().company_id:
            return redirect(url_for(TABS[figure]))
        outcome = run_service(
            lambda a: manage_mode.enter(replace(a, managing_company_id=None), [company_id]),
            lambda company: f"You are managing {company.name}.",
        )
        if not outcome:
            return redirect(url_for("RenewalsView.index"))
        start(outcome.result)
        return redirect(url_for(TABS[figure]))

    @expose("/request", methods=["POST"])
    @has_access
    def request_renewals(self):
        """Ticked companies (or one row's **Request renewal**) → first a confirmation
        with each company's count of people to renew in the window, then (`confirm`)
        one request per company, audited on behalf of each."""
        form = request.form
        ids = [form["only"]] if form.get("only") else form.getlist("company")
        days, assign_now = form.get("window", ""), form.get("assign_now") == "y"
        if form.get("confirm") == "y":
            run_service(
                lambda a: renewal_requests.request_many(a, ids, days, assign_now=assign_now),
                requested_message,
            )
            return redirect(url_for("RenewalsView.index"))
        actor = current_actor()
        outcome = run_service(lambda a: renewal_requests.drafts(a, ids, days), None)
        if not outcome:
            return redirect(url_for("RenewalsView.index"))
        companies = [d.company.id for d in outcome.result]
        return self.render_template(
            "renewals_request.html",
            title="Request renewals",
            drafts=outcome.result,
            days=int(days),
            expired_days=current_app.config["RENEWAL_EXPIRED_DAYS"],
            assignable=renewal_requests.assignable(actor, companies),
        )


def requested_message(result) -> str:
    """What Request renewals made: each request, and the companies with nobody."""
    done, nobody = result
    parts = [
        f"Requested renewals for {display.count(len(done), 'company', 'companies')}: "
        + "; ".join(
            f"order #{r.order.id} for {r.order.company.name} "
            f"({display.count(r.order.quantity, 'person', 'people')})"
            + (f", left out: {r.draft.left_out}" if r.draft.left_out else "")
            + (f", assigned now: {r.assigned.summary()}" if r.assigned else "")
            for r in done
        )
        + "."
    ]
    if nobody:
        parts.append("Nobody to renew at " + ", ".join(c.name for c in nobody) + ".")
    return " ".join(parts) if done else parts[-1]


def read_query() -> renewals.Query:
    """The screen's arguments; a bad one is named in a message and left out."""
    args = request.args
    ranges = {}
    for key in renewals.COUNTS:
        low, high = _whole(f"min_{key}"), _whole(f"max_{key}")
        if low is not None or high is not None:
            ranges[key] = (low, high)
    sort = args.get("sort", "expiring_30")
    if sort not in renewals.SORTABLE:
        flash(f"Renewals cannot be sorted by {sort[:40]!r}: sorted by expiring in 30 days.")
        sort = "expiring_30"
    return renewals.Query(
        search=args.get("q", "").strip()[:100],
        ranges=ranges,
        sort=sort,
        descending=args.get("dir", "desc") != "asc",
        page=_whole("page", 0, 1_000_000) or 0,
        page_size=_whole("psize", 1, renewals.MAX_PAGE_SIZE) or renewals.PAGE_SIZE,
    )


def _whole(name: str, low: int = 0, high: int = MAX_FIGURE) -> int | None:
    value = request.args.get(name, "").strip().replace(",", "")
    if value == "":
        return None
    if value.isascii() and value.isdecimal() and len(value) <= 10 and low <= int(value) <= high:
        return int(value)
    flash(f"{name.replace('_', ' ')}: {value[:20]!r} is not a whole number from {low:,}: left out.")
    return None
