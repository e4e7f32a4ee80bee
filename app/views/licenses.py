"""Licenses: the seat position and the tabs Available · Allocated · Expiring ·
Expired Licenses · Unlicensed, with Allocate Licenses (one by one or Select All),
its confirmation, and Deallocate. The seats belong to the company in view (the
manager's own, or the one it manages), so every tab shows that company only."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import abort, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.actions import action

from app import clock, display
from app.errors import DomainError
from app.models import Company, Learner, LicenseType, Order, Selection
from app.models.order import type_label
from app.services import allocation, pools, reclaim, renewal_requests, states
from app.services import licenses as service
from app.tenancy import Screen
from app.views.base import (
    ScopedInterface,
    ScopedModelView,
    local_when,
    or_dash,
)
from app.views.context import current_actor, display_zone, request_company
from app.views.filters import KeptFilter, PeopleSearch, choice_field


class LicenseStateFilter(KeptFilter):
    """A tab's base filter: the state is derived from the expiry against the clock
    at the moment of the query."""

    name = "License state"

    def narrowing(self, value):
        now = clock.now()
        if value == "expiring":
            return value, {"now": now, "until": now + states.EXPIRING_WINDOW}
        return value, {"now": now}

    def conditions(self, shape, values):
        if shape == "expiring":
            return [states.ends_between(values["now"], values["until"])]
        return [states.TABS[shape](values["now"])]


class OpenPoolFilter(KeptFilter):
    name = "Open pool"

    def narrowing(self, value):
        return None, {"now": clock.now()}

    def conditions(self, shape, values):
        return [pools.is_open(values["now"])]


class FlagFilter(KeptFilter):
    """Expiring and Expired Licenses: `?flagged=yes` shows only the people flagged
    do-not-renew (seat reclaim), `?flagged=no` the others; a base filter, so the
    count, Select All and Request renewal see it too."""

    name = "Do not renew"
    arg_name = "flagged"

    def narrowing(self, value):
        shown, company = request.args.get("flagged"), _company_in_view()
        if shown not in FLAG_CHOICES or company is None:
            return None, {}
        day = reclaim.cutoff(company, clock.now())
        # The company's inactivity rule: off (no day), or its cutoff day.
        return (shown, day is not None), ({"day": day} if day is not None else {})

    def conditions(self, shape, values):
        if shape is None:
            return []
        shown, _rule = shape
        condition = reclaim.flagged_before(values.get("day"))
        return [condition if shown == "yes" else ~condition]


FLAG_CHOICES = {"yes": "Flagged do-not-renew", "no": "Not flagged"}


def _company_in_view() -> Company | None:
    return request_company(current_actor().company_in_view)


def _flag_links() -> list[tuple[str, str, bool]]:
    """Everybody · Flagged do-not-renew · Not flagged: (label, link, shown now), each
    link keeping the tab's other filters (and starting again at page 1)."""
    shown = request.args.get("flagged")
    shown = shown if shown in FLAG_CHOICES else None
    others = [
        (k, v) for k, v in request.args.items(multi=True) if k != "flagged" and k[:4] != "page"
    ]
    links = []
    for value, label in [(None, "Everybody"), *FLAG_CHOICES.items()]:
        args = others + ([("flagged", value)] if value else [])
        links.append(
            (label, request.path + (f"?{urlencode(args)}" if args else ""), shown == value)
        )
    return links


def _annotate_days_left(rows: list[Learner]) -> None:
    """Each listed person's days left and, for the renewal tabs, why they are
    flagged do-not-renew (the company's rule read once for the page)."""
    now = clock.now()
    day = reclaim.cutoff(request_company(rows[0].company_id), now)
    for row in rows:
        row.days_left = display.days_left(row.license_expires_at, now, display_zone())
        row.flag = reclaim.flag_reason(row, day) or "—"


def allocated_message(done) -> str:
    return (
        f"Allocated {display.count(done.size, 'license')}; they expire on "
        + ", ".join(display.when(e, display_zone()) for e in done.expiries)
        + "."
    )


def requested_message(done) -> str:
    """What a renewal request did, as the manager reads it after confirming."""
    text = (
        f"Order #{done.order.id} requested: a renewal for "
        f"{display.count(done.order.quantity, 'person', 'people')}."
    )
    if done.draft.left_out:
        text += f" Left out: {done.draft.left_out}."
    if done.assigned:
        text += f" Assigned now. {done.assigned.summary()}"
    return text


class LicensesTab(ScopedModelView):
    """What the tabs share: the Licenses page header, tabs and seat position."""

    class_permission_name = "Licenses"
    list_template = "licenses/tab.html"
    tab = ""
    page_size = 25

    def render_template(self, template, **kwargs):
        actor = current_actor()
        return super().render_template(
            template,
            active_tab=self.tab,
            seats=service.company_seat_position(actor.company_in_view),  # the tab's company
            actor=actor,
            query_string=urlencode(list(request.args.items(multi=True))),
            **kwargs,
        )


class AvailableView(LicensesTab):
    route_base = "/licenses/available"
    tab = "available"
    base_permissions = ["can_list"]
    datamodel = ScopedInterface(Order, screen=Screen.OWN)
    base_filters = [["status", OpenPoolFilter, None]]
    list_title = "Licenses · Available"
    column_links = {"number": "OrderView"}
    list_columns = [
        "number",
        "license_type",
        "quantity",
        "allocated",
        "free",
        "assigned_at",
        "expires_at",
    ]
    order_columns = ["quantity", "allocated", "assigned_at", "expires_at"]
    search_columns = ["license_type", "quantity", "expires_at"]
    search_form_extra_fields = {"license_type": choice_field("Type", LicenseType)}
    base_order = ("expires_at", "desc")
    label_columns = {
        "number": "Order",
        "license_type": "Type",
        "free": "Free",
        "assigned_at": "Assigned",
        "expires_at": "Expires",
    }
    formatters_columns = {
        "license_type": type_label,
        "assigned_at": local_when,
        "expires_at": local_when,
        **dict.fromkeys(("quantity", "allocated", "free"), display.number),
    }


class PeopleTab(PeopleSearch, LicensesTab):
    """A tab of people in one license state (the state is a base filter)."""

    noun, row_noun = "people", "person"

    datamodel = ScopedInterface(Learner, annotate=_annotate_days_left, screen=Screen.OWN)
    state = ""
    column_links = {"first_name": "LearnerView", "last_name": "LearnerView"}

    list_columns = [
        "first_name",
        "last_name",
        "email",
        "department",
        "license_type",
        "license_expires_at",
        "days_left",
    ]
    order_columns = ["first_name", "last_name", "email", "department", "license_expires_at"]
    search_columns = [
        "first_name",
        "last_name",
        "email",
        "department",
        "license_type",
        "license_expires_at",
    ]
    search_form_extra_fields = {"license_type": choice_field("Type", LicenseType)}
    base_order = ("last_name", "asc")
    label_columns = {
        "department": "Group/department",
        "license_type": "Type",
        "license_expires_at": "Expiry",
        "days_left": "Days left",
    }
    formatters_columns = {
        "license_expires_at": local_when,
        "department": or_dash,
        "license_type": type_label,
    }

    shows_flag = False  # the tab shows and filters the do-not-renew flag

    def __init__(self, **kwargs):
        self.base_filters = [["license_expires_at", LicenseStateFilter, self.state]]
        if self.shows_flag:
            self.base_filters.append(["id", FlagFilter, None])
            self.list_columns = [*self.list_columns, "flag"]
            self.label_columns = {**self.label_columns, "flag": "Do not renew"}
        super().__init__(**kwargs)

    def render_template(self, template, **kwargs):
        """The tab's tools say how many people its current filter matches (all of
        them, not only the visible page): Select All, Request renewal for these N —
        the list's own count (FAB counted it for the pager), not a second query —
        and, on the renewal tabs, how many of them are flagged do-not-renew."""
        if template == self.list_template:
            kwargs["matching"] = kwargs["widgets"]["list"].template_args["count"]
            kwargs["flagged_matching"] = kwargs["renewable"] = 0
            if self.shows_flag:
                company = _company_in_view()
                if kwargs["matching"] and company is not None:
                    kwargs["flagged_matching"] = allocation.flagged_matching(
                        company, self._matching_ids()
                    )
                kwargs["flag_links"] = _flag_links()
            # Select All and Request renewal leave the flagged people out.
            kwargs["renewable"] = kwargs["matching"] - kwargs["flagged_matching"]
        return super().render_template(template, **kwargs)

    def _matching_ids(self):
        query = self.filtered_query(self.datamodel.session.query(Learner))
        return query.with_entities(Learner.id).order_by(None).statement


class AllocatedView(PeopleTab):
    route_base = "/licenses/allocated"
    tab = state = "allocated"
    list_title = "Licenses · Allocated"
    base_permissions = ["can_list", "can_deallocate"]
    method_permission_name = {"list": "list", "deallocate": "deallocate"}

    @action("deallocate", "Deallocate", "Take the selected people's seats back?", "fa-undo")
    def deallocate(self, pks):
        self.run_service(
            lambda a: service.deallocate(a, pks),
            lambda n: f"{display.count(n, 'seat')} returned to their orders.",
        )
        return redirect(self.back_to_list())


class RequestRenewal:
    """Expiring and Expired Licenses: Request renewal for these N people — ticked
    (Actions → Request renewal) or all the tab's current filter matches — staged,
    then confirmed on the request page (`SelectionView.renewal`)."""

    @action("request_renewal", "Request renewal", None, "fa-refresh")
    def request_renewal(self, pks):
        return self._to_request(list(pks))

    @expose("/request-renewal-all", methods=["POST"])
    @has_access
    def request_renewal_all(self):
        """Everybody the tab's current filter matches, not only the visible page."""
        return self._to_request(self._matching_ids())

    def _to_request(self, people):
        outcome = self.run_service(
            lambda a: renewal_requests.stage(a, a.company_in_view, people), None
        )
        back = self.back_to_list()
        if not outcome:
            return redirect(back)
        return redirect(url_for("SelectionView.renewal", pk=outcome.result.id, back=back))


class ExpiringView(RequestRenewal, PeopleTab):
    route_base = "/licenses/expiring"
    tab = state = "expiring"
    shows_flag = True
    list_title = "Licenses · Expiring (30 days)"
    list_template = "licenses/expiring_tab.html"
    base_permissions = ["can_list", "can_request_renewal"]
    method_permission_name = {
        "list": "list",
        "request_renewal": "request_renewal",
        "request_renewal_all": "request_renewal",
    }


class RenewalTab(PeopleTab):
    """Expired Licenses and Unlicensed: Select users Manually (tick, or Select All
    matching the filter) → Allocate Licenses → the confirmation."""

    base_permissions = ["can_list", "can_allocate", "can_select_all"]
    method_permission_name = {"list": "list", "allocate": "allocate", "select_all": "select_all"}
    list_template = "licenses/renewal_tab.html"

    def render_template(self, template, **kwargs):
        # Select users Manually keeps the list's filters (and a filter applied later
        # keeps the mode: panel.js).
        manual = {**request.args.to_dict(flat=False), "select": "manual"}
        return super().render_template(
            template, manual_url=f"{request.path}?{urlencode(manual, True)}", **kwargs
        )

    @action("allocate", "Allocate Licenses", None, "fa-id-card")
    def allocate(self, pks):
        outcome = self.run_service(
            lambda a: allocation.select_people(a, a.company_in_view, pks, "manual"), None
        )
        back = self.back_to_list()
        if not outcome:
            return redirect(back)
        return redirect(url_for("SelectionView.confirm", pk=outcome.result.id, back=back))

    @expose("/select-all", methods=["POST"])
    @has_access
    def select_all(self):
        """Everybody the tab's current filter matches, not only the visible page."""
        outcome = self.run_service(
            lambda a: allocation.select_matching(
                a,
                a.company_in_view,
                self._matching_ids(),
                include_flagged=not self.shows_flag or request.form.get("include_flagged") == "y",
            ),
            None,
        )
        query = urlencode(list(request.args.items(multi=True)))
        back = url_for(f"{type(self).__name__}.list") + (f"?{query}" if query else "")
        if not outcome:
            return redirect(back)
        return redirect(url_for("SelectionView.confirm", pk=outcome.result.id, back=back))

    def list_widget_args(self) -> dict:
        """Back from the confirmation (`?selection=`): the people picked one by one
        are ticked again (a Select All's people are its filter, kept in the URL)."""
        return {**super().list_widget_args(), "ticked": self._ticked()}

    def _ticked(self) -> set[int]:
        if not request.args.get("selection"):
            return set()
        try:
            selection = allocation.get_selection(current_actor(), request.args.get("selection"))
        except DomainError:
            return set()
        return allocation.ticked_ids(selection)


class ExpiredView(RequestRenewal, RenewalTab):
    route_base = "/licenses/expired"
    tab = state = "expired"
    shows_flag = True
    list_title = "Licenses · Expired Licenses"
    base_permissions = [*RenewalTab.base_permissions, "can_request_renewal"]
    method_permission_name = {
        **RenewalTab.method_permission_name,
        "request_renewal": "request_renewal",
        "request_renewal_all": "request_renewal",
    }


class UnlicensedView(RenewalTab):
    route_base = "/licenses/unlicensed"
    tab = state = "unlicensed"
    list_title = "Licenses · Unlicensed"


class SelectionView(ScopedModelView):
    """The confirmation of an allocation: how many seats, from which orders, the
    resulting expiry; then Confirm (or confirm the remainder)."""

    route_base = "/licenses/selection"
    class_permission_name = "Licenses"
    base_permissions = ["can_confirm", "can_remainder", "can_request_renewal"]
    method_permission_name = {
        "confirm": "confirm",
        "allocate_first": "confirm",
        "remainder": "remainder",
        "renewal": "request_renewal",
    }
    datamodel = ScopedInterface(Selection, screen=Screen.OWN)

    @expose("/<pk>", methods=["GET", "POST"])
    @has_access
    def confirm(self, pk):
        selection = self.datamodel.get(pk)
        if selection is None:
            abort(404)
        order_id = request.values.get("order") or None
        if request.method == "POST" and self.run_service(
            lambda a: allocation.allocate(a, selection.id, order_id), allocated_message
        ):
            return redirect(url_for("AllocatedView.list"))
        plan = allocation.plan(current_actor(), selection.id, order_id)
        return self.render_template(
            "licenses/confirm.html",
            plan=plan,
            title="Allocate Licenses",
            people=allocation.members_page(selection.id),
            order_id=order_id,
            choices=pools.open_pools(selection.company_id, clock.now(), any_type=True),
            back=self.back_url(selection),
        )

    @expose("/<pk>/renewal", methods=["GET", "POST"])
    @has_access
    def renewal(self, pk):
        """Request renewal for these N people: who the request will hold, who is left
        out (already in another open request), and — for the account managers above
        the company — "and assign now"."""
        if self.datamodel.get(pk) is None:
            abort(404)
        if request.method == "POST":
            outcome = self.run_service(
                lambda a: renewal_requests.request_staged(
                    a, pk, assign_now=request.form.get("assign_now") == "y"
                ),
                requested_message,
            )
            if outcome:
                return redirect(url_for("OrderView.show", pk=outcome.result.order.id))
        actor = current_actor()
        selection, draft = renewal_requests.staged(actor, pk)
        return self.render_template(
            "licenses/renewal_request.html",
            title="Request renewal",
            selection=selection,
            draft=draft,
            people=allocation.members_page(selection.id),
            may_assign=renewal_requests.may_assign(actor, selection.company_id),
            back=self.local_url(
                request.args.get("back"), "/licenses/", url_for("ExpiredView.list")
            ),
        )

    @expose("/<pk>/first", methods=["POST"])
    @has_access
    def allocate_first(self, pk):
        """Too few seats: Allocate N now, to the first N people as listed."""
        order_id = request.values.get("order") or None
        if self.run_service(
            lambda a: allocation.allocate_first(a, pk, order_id), allocated_message
        ):
            return redirect(url_for("AllocatedView.list"))
        return redirect(url_for("SelectionView.confirm", pk=pk, back=request.args.get("back")))

    def back_url(self, selection) -> str:
        """Back to the list the people were picked on (`back`, one of the Licenses
        tabs with its filters), in Select users Manually with this selection ticked."""
        back = self.local_url(request.args.get("back"), "/licenses/", url_for("ExpiredView.list"))
        back = urlsplit(back)
        args = [(k, v) for k, v in parse_qsl(back.query) if k not in ("select", "selection")]
        args += [("select", "manual"), ("selection", str(selection.id))]
        return f"{back.path}?{urlencode(args)}"

    @expose("/<pk>/remainder", methods=["POST"])
    @has_access
    def remainder(self, pk):
        outcome = self.run_service(lambda a: allocation.remainder(a, pk), None)
        if not outcome:
            return redirect(url_for("SelectionView.confirm", pk=pk))
        return redirect(url_for("SelectionView.confirm", pk=outcome.result.id))
