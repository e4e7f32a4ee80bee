"""What every tenant-scoped Flask-AppBuilder view shares.

`ScopedInterface` applies `tenancy.scope()` to every query FAB builds through it:
the list and its count, show/edit/delete by id, the row loads of actions (which
stock FAB does without base filters), and related-field dropdowns (FAB builds
those through `get_related_interface`, i.e. this class). `ScopedModelView` routes
add/edit/delete and actions to services, committing once per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlencode

from flask import abort, current_app, flash, jsonify, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_appbuilder.widgets import RenderTemplateWidget, SearchWidget
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup, escape
from sqlalchemy import Select, asc, bindparam, desc, func, select
from sqlalchemy.sql.elements import True_
from wtforms.widgets import html_params

from app import display, tenancy
from app.errors import DomainError, NotFound
from app.fab_compat import RestrictedInterface, ServiceModelView
from app.models import AppUser, Company
from app.services.managed import ManagedByPartner
from app.sql import like_any, read, read_in_index_order
from app.transaction import transaction
from app.views.context import current_actor, display_zone
from app.views.filters import (
    FILTER_ARG,
    QUICK_SEARCH_ARG,
    KeptFilter,
    PlainFilterConverter,
    QuickSearch,
    quick_search_term,
)
from app.views.list_rows import RowMenuListWidget
from app.views.page_rows import Computed, PageReader


def or_dash(value) -> object:
    """Column formatter: an empty optional value reads "—", not FAB's "None"."""
    return "—" if value is None or value == "" else value


def active_label(value) -> str:
    """Column formatter: "Active" or "Deactivated", not FAB's True/False."""
    return "Active" if value else "Deactivated"


def role_names(roles) -> str:
    """Column formatter: "Customer Manager", not FAB's "[Customer Manager]"."""
    return ", ".join(role.name for role in roles or [])


def action_label(value: str) -> str:
    """Column formatter: an audit action in words ("manage_mode.entered" reads
    "Manage mode entered")."""
    return (value or "").replace(".", " ").replace("_", " ").capitalize()


class LocalWhen:
    """Column formatter: an instant in the page's time zone ("1 Dec 2026, 23:15 GMT").
    A list's rows use `for_page()`, which reads the zone once for all its cells."""

    def __call__(self, value) -> str:
        return display.when(value, display_zone())

    def for_page(self) -> Callable[[object], str]:
        return partial(display.when, zone_name=display_zone())


local_when = LocalWhen()


@dataclass(frozen=True)
class RowAction:
    """One entry of a row's actions menu (list_rows.py)."""

    label: str
    url: str
    post: bool = False


class InViewSearchWidget(SearchWidget):
    """FAB's Add Filter, in view (not in a collapsed panel), with the quick search:
    its menu's labels, value fields and operators come ready as JSON (`fields`, from
    `ScopedModelView.search_fields`), not rendered from a search form per request."""

    template = "widgets/search.html"

    def __call__(self, **kwargs):
        kwargs.update(self.template_args["fields"])
        kwargs["active_filters"] = self.filters.get_filters_values_tojson()
        return RenderTemplateWidget.__call__(self, **kwargs)


@dataclass(frozen=True)
class FilterChip:
    """An active filter above a list, and the list's address without it."""

    text: str
    remove_url: str


# What a relation filter's picker searches, per related model (first: the order).
PICKER_COLUMNS = {
    Company: [Company.name],
    AppUser: [AppUser.last_name, AppUser.first_name, AppUser.username],
}
PICKER_LIMIT = 20


class RelatedPicker:
    """The value field of a relation filter (Company, Requested by, …): a select that
    asks `<view>/related/<column>?q=` for matching options as the user types
    (panel.js starts select2 on it), instead of rendering every company under a
    partner into every list page. The filter's current value is its only option."""

    def __init__(self, view: ScopedModelView, column: str):
        self.view = view
        self.column = column

    def __call__(self, field, **kwargs):
        endpoint = url_for(f"{self.view.endpoint}.related", column=self.column)
        options = "".join(
            f'<option value="{escape(pk)}" selected>{escape(label)}</option>'
            for pk, label in self.view.picked(self.column)
        )
        attributes = html_params(
            id=kwargs.get("id", field.id),
            name=field.name,
            class_="related-picker form-control",
            data_endpoint=endpoint,
        )
        return Markup(f"<select {attributes}>{options}</select>")


@dataclass(frozen=True)
class Outcome:
    ok: bool
    result: object = None
    error: DomainError | None = None

    def __bool__(self) -> bool:
        return self.ok


def run_service(work: Callable, success: str | Callable | None, form=None) -> Outcome:
    """Run one unit of work as the current actor: commit and flash `success`, or
    roll back and show the rule's message (on its form field when it names one),
    on the page the caller shows next — a refused bulk action goes back to its
    list, never to an error page. Only an id outside the actor's scope is 404.
    The outcome is truthy when the work was done, and carries its result."""
    try:
        with transaction():
            result = work(current_actor())
    except NotFound:
        abort(404)
    except ManagedByPartner:
        raise  # a 403 page with its message (views/errors.py), whatever the route
    except DomainError as exc:
        field = getattr(form, exc.field, None) if form is not None and exc.field else None
        if field is not None:
            field.errors = [*field.errors, exc.message]
        flash(exc.message, "danger")
        return Outcome(False, error=exc)
    if success:
        flash(success(result) if callable(success) else success, "success")
    return Outcome(True, result)


# The Record Count of the logs that grow without end stops here ("10,000+").
LOG_COUNT_CAP = 10_000
# A log's scope found past its cap is remembered so for this long: its count (up to
# 10,001 rows matched with the subtree, ~2 ms on PostgreSQL, most of the page's own SQL)
# is not re-run on every page. The logs only grow, so the Record Count can be stale
# only after a company moved out of the subtree or was deleted, for this long at most.
OVER_CAP_SECONDS = 60


def forget_counts() -> None:
    """Forget which logs were found past their cap, in this process (tests roll
    their data back between tests)."""
    _over_cap.clear()


# (count statement, cap, the request's values) -> until when (time.monotonic()).
_over_cap: dict[tuple, float] = {}


class ScopedInterface(RestrictedInterface):
    """SQLAInterface that only ever sees the current actor's companies' rows.

    `annotate`, when given, receives each listed page of rows so a view can attach
    what it derives from them (row menus; figures come as the view's
    `computed_columns`, in the page's own statement), never a query per row. `screen` is
    the kind of screen (`tenancy.screen_scope`): partner, company or own.
    `count_cap`: the list's Record Count stops there ("10,000+"), for the logs
    that grow without end (Audit Log, Emails), whose exact count over a whole
    tree is most of their page's time; filtering narrows them to an exact count.
    `wide_order`: (column, index) — a list ordered by `column` whose count reached
    the cap is read through `index` in order (`sql.read_in_index_order`).
    """

    def __init__(
        self,
        obj,
        session=None,
        annotate: Callable | None = None,
        screen: tenancy.Screen = tenancy.Screen.COMPANY,
        count_cap: int | None = None,
        wide_order: tuple[str, str] | None = None,
    ):
        super().__init__(obj, session=session)
        self.annotate = annotate
        self.screen = screen
        self.count_cap = count_cap
        self.wide_order = wide_order

    def restrict(self, query):
        return self.scoped_query(query)

    def scoped_query(self, query):
        column = tenancy.scope_column(self.obj)
        if column is None:
            return query
        actor = current_actor()
        shape, values = self.narrowing()
        return query.filter(
            tenancy.screen_scope(actor, column, self.screen),
            tenancy.audience(actor, self.obj),
            *self.narrowing_conditions(shape, values),
        )

    def narrowing(self) -> tuple[Hashable, dict]:
        """What this interface narrows the actor's rows to (a section of the Orders
        tab): its shape and this request's values; (None, {}): nothing."""
        return None, {}

    def narrowing_conditions(self, shape: Hashable, values: dict) -> list:
        """The conditions of `narrowing()`'s shape, of `values`: the request's own, or
        bound parameters of the same names (a list's statements built once)."""
        return []

    filter_converter_class = PlainFilterConverter

    def get_related_interface(self, col_name: str):
        return ScopedInterface(self.get_related_model(col_name), screen=self.screen)

    def query(
        self,
        filters=None,
        order_column: str = "",
        order_direction: str = "",
        page: int | None = None,
        page_size: int | None = None,
        reader: PageReader | None = None,
    ):
        """FAB's list query (the count and the page: an exact count read with the
        page in one statement, a capped count first), with the page read in the
        order's index when the count reached its cap (`wide_order`), as plain rows
        by `reader` when given (else as entities), and each page annotated. A list
        that only FAB can filter (`prepared` answers None) builds FAB's query."""
        prepared = reader and self.prepared(
            filters, order_column, order_direction, page_size, reader
        )
        if prepared:
            count, rows = self._read_prepared(*prepared, page, page_size, reader)
        else:
            count, rows = self._read_built(
                filters, order_column, order_direction, page, page_size, reader
            )
        if self.annotate and rows:
            self.annotate(rows)
        return count, rows

    def _read_built(self, filters, order_column, order_direction, page, page_size, reader):
        query = self.session.query(self.obj)
        count = self.query_count(query, filters)
        if self.wide_order and order_column == self.wide_order[0] and count > self.count_cap:
            query = read_in_index_order(query, self.obj, self.wide_order[1])
        query = self.apply_all(query, filters, order_column, order_direction, page, page_size)
        return count, reader.read(query) if reader else query.all()

    def prepared(self, filters, order_column, order_direction, page_size, reader: PageReader):
        """The list's count and page statements for its shape, built once (every
        value a parameter: a statement built per request costs more Python than a
        list's SQL), and this request's values. None where something only FAB's
        query applies is in play: Add Filter's filters, a quick search's term, an
        API key's scope."""
        column = tenancy.scope_column(self.obj)
        if column is None or page_size is None:
            return None
        parts = self.narrowing_parts(filters)
        if parts is None:
            return None
        if order_column and order_column not in self.obj.__mapper__.column_attrs:
            return None
        actor = current_actor()
        scope = tenancy.screen_scope_kind(actor, self.screen)
        if scope is None:
            return None
        # The role: a customer's managers see fewer emails (`tenancy.audience`).
        # LIMIT and OFFSET are parameters too: the page size is not part of the shape.
        shape = (
            scope[0],
            tenancy.page_scope_kind(*scope),
            actor.role,
            tuple(part.key for part in parts),
            order_column,
            order_direction,
        )
        statements = reader.statements.get(shape)
        if statements is None:
            statements = reader.statements[shape] = self._build(column, actor, shape, parts, reader)
        values = {name: value for i, part in enumerate(parts) for name, value in part.named(i)}
        return statements, {**values, "scope_company": scope[1], **reader.values()}

    def narrowing_parts(self, filters) -> list[Narrowing] | None:
        """What narrows the list beyond the actor's scope, for this request: the
        interface's own narrowing (an Orders section), then each of the list's
        filters; None when one of them only FAB's query can apply."""
        parts = [Narrowing("interface", self.narrowing_conditions, *self.narrowing())]
        for flt, value in zip(filters.filters, filters.values, strict=True) if filters else ():
            narrowing = flt.narrowing(value) if isinstance(flt, KeptFilter) else None
            if narrowing is None:
                return None
            parts.append(Narrowing((type(flt), flt.column_name), flt.conditions, *narrowing))
        return parts

    def _build(self, column, actor, shape, parts, reader: PageReader) -> ListStatements:
        scope, page_scope, _role, _parts, order_column, order_direction = shape
        narrowing = [tenancy.audience(actor, self.obj)]
        for i, part in enumerate(parts):
            params = {name: bindparam(key) for name, key in part.parameters(i)}
            narrowing += part.conditions(part.shape, params)
        narrowing = [c for c in narrowing if not isinstance(c, True_)]
        company = bindparam("scope_company")
        conditions = [tenancy.SCOPES[scope](column, company), *narrowing]
        (pk,) = self.obj.__mapper__.primary_key
        keys = select(pk).where(*conditions)
        if self.count_cap is not None:
            keys = keys.limit(self.count_cap + 1)
        # The scope alone, uncapped: the closure table may count it without the rows.
        whole = not narrowing and self.count_cap is None
        count = tenancy.scope_count(scope, column, company) if whole else None
        if count is None:
            count = select(func.count()).select_from(keys.subquery())
        page = reader.select().where(tenancy.SCOPES[page_scope](column, company), *narrowing)
        if order_column:
            direction = asc if order_direction == "asc" else desc
            tie_break = [direction(pk)] if order_column != pk.key else []
            page = page.order_by(direction(getattr(self.obj, order_column)), *tie_break)
        page = page.limit(bindparam("limit")).offset(bindparam("offset"))
        if self.count_cap is None:
            # Exact: the count rides with the page as its last column (one statement,
            # one round trip), and is read on its own only for a page past the end.
            return ListStatements(count, page.add_columns(count.scalar_subquery()), None, True)
        # Capped: counted first, past the cap the page is read in its order's index.
        wide = None
        if self.wide_order and order_column == self.wide_order[0]:
            wide = read_in_index_order(page, self.obj, self.wide_order[1])
        return ListStatements(count, page, wide)

    def _read_prepared(self, statements, values, page, page_size, reader):
        if statements.counted:
            paged = {**values, "limit": page_size, "offset": (page or 0) * page_size}
            rows = read(statements.page, paged).all()
            if not rows:
                return read(statements.count, values).scalar(), []
            return rows[0][-1], reader.rows(row[:-1] for row in rows)
        count = self._count(statements.count, values)
        wide = statements.wide_page is not None and count > self.count_cap
        values = {**values, "limit": page_size, "offset": (page or 0) * page_size}
        rows = reader.rows(read(statements.wide_page if wide else statements.page, values))
        return count, rows

    def _count(self, statement, values: dict) -> int:
        """The list's count; for a capped list whose scope and values were found past
        the cap less than `OVER_CAP_SECONDS` ago, the cap + 1 ("10,000+") without a
        query. Never rows: only the count statement is skipped."""
        if self.count_cap is None:
            return read(statement, values).scalar()
        key = (statement, self.count_cap, *sorted(values.items()))
        try:
            hash(key)
        except TypeError:  # a value that cannot be a key (none today): count
            return read(statement, values).scalar()
        now = time.monotonic()
        if _over_cap.get(key, 0) > now:
            return self.count_cap + 1
        count = read(statement, values).scalar()
        if count > self.count_cap:
            if len(_over_cap) > 10_000:  # (scopes × filters: bounded all the same)
                _over_cap.clear()
            _over_cap[key] = now + OVER_CAP_SECONDS
        return count


@dataclass(frozen=True)
class Narrowing:
    """One part of what narrows a list (`ScopedInterface.narrowing_parts`): who it is
    (`origin`), its `conditions(shape, values)`, and this request's shape and values.
    In a list's statements built once, each value is a parameter named after the
    part's position, so two parts' values never share a name."""

    origin: Hashable
    conditions: Callable[[Hashable, dict], list]
    shape: Hashable
    values: dict

    @property
    def key(self) -> Hashable:
        """The part in a list's shape: who it is and its shape."""
        return self.origin, self.shape

    def parameters(self, position: int) -> list[tuple[str, str]]:
        """Each value's name and its parameter's name."""
        return [(name, f"part{position}_{name}") for name in self.values]

    def named(self, position: int) -> list[tuple[str, object]]:
        """Each value under its parameter's name."""
        return [(key, self.values[name]) for name, key in self.parameters(position)]


@dataclass(frozen=True)
class ListStatements:
    """A list's statements for one shape (`ScopedInterface.prepared`)."""

    count: Select
    page: Select
    wide_page: Select | None  # the page read in its order's index (`wide_order`)
    counted: bool = False  # the page's rows end with the count (an exact count)


class ScopedModelView(ServiceModelView):
    """A CRUD view whose changes go through services.

    Subclasses implement `create_item(actor, form)`, `update_item(actor, item, form)`
    and `delete_item(actor, item)` by calling a service; actions receive the raw
    posted ids and pass them to a service, which re-checks every one of them.
    """

    page_size = 25
    list_widget = RowMenuListWidget  # FAB's list, with named checkboxes and row menus
    search_widget = InViewSearchWidget
    # The quick search box: what it searches, in words ("name or email"), and the
    # condition for a term (`quick_search(term)`); None: no box.
    quick_search_label: str | None = None
    # Values computed per row in the page's own statement (views/page_rows.py).
    computed_columns: Computed | None = None
    noun = "rows"  # what a row is, in messages: "Deactivated 3 learners."
    row_noun = "row"  # one of them: "Select at least one learner first."
    add_success = "Saved."
    edit_success = "Saved."
    delete_success = "Deleted."

    def __init__(self, **kwargs):
        if self.quick_search_label:
            self.base_filters = [*(self.base_filters or []), ["id", QuickSearch, self.quick_search]]
        super().__init__(**kwargs)
        self.page_reader = PageReader.for_columns(
            self.datamodel.obj, self.list_columns, self.computed_columns
        )
        self._search_fields: dict | None = None
        # Filters whose value field shows the picked row (RelatedPicker).
        self.relation_filters = {
            c for c in self.search_columns if self.datamodel.is_relation_many_to_one(c)
        }

    def search_widget_args(self) -> dict:
        return {"fields": self.search_fields()}

    def search_fields(self) -> dict:
        """Add Filter's labels, value fields (their HTML) and operators, as JSON for the
        page's script. The same on every page of this list unless a relation filter is
        in the address (its picker shows the picked row, read within the viewer's
        scope): rendered once and kept, else rendered for the request (a fresh search
        form's seven fields cost ~1 ms a page)."""
        picking = any(
            (match := FILTER_ARG.fullmatch(key)) and match[2] in self.relation_filters
            for key in request.args
        )
        if self._search_fields is not None and not picking:
            return self._search_fields
        form = self.search_form.refresh()
        operators = self._filters.get_search_filters()

        def tojson(value) -> Markup:  # as the template's `tojson` filter writes it
            return htmlsafe_json_dumps(value, dumps=current_app.json.dumps)

        columns = self.search_columns
        labels = {c: str(form[c].label.text) for c in columns}
        fields = {
            "labels": list(labels.items()),
            "label_columns": tojson(labels),
            "form_fields": tojson({c: form[c]() for c in columns}),
            "search_filters": tojson({c: [str(f.name) for f in operators[c]] for c in columns}),
        }
        if not picking:
            self._search_fields = fields
        return fields

    def list_page(self, filters, order_column, order_direction, page, page_size):
        """The page as plain rows (views/page_rows.py) where its columns allow."""
        return self.datamodel.query(
            filters, order_column, order_direction, page, page_size, reader=self.page_reader
        )

    def render_template(self, template, **kwargs):
        if template == self.list_template:
            kwargs.update(
                filter_chips=self.filter_chips(), quick_search_label=self.quick_search_label
            )
        return super().render_template(template, row_noun=self.row_noun, **kwargs)

    def filter_chips(self) -> list[FilterChip]:
        """The list's active filters and quick search, each with the list's address
        without it (the page reset, everything else kept)."""
        args = [(k, v) for k, v in request.args.items(multi=True) if not k.startswith("page_")]
        operators = self._filters.get_search_filters()
        chips = []
        for key, value in args:
            match = FILTER_ARG.fullmatch(key)
            if key == QUICK_SEARCH_ARG and self.quick_search_label and quick_search_term():
                text = f"Search: {quick_search_term()}"
            elif match and match[2] in operators and int(match[1]) < len(operators[match[2]]):
                column, operator = match[2], operators[match[2]][int(match[1])]
                label = self.label_columns.get(column, column)
                text = f"{label} {operator.name} {self.filter_value_label(column, value)}"
            else:
                continue
            rest = [(k, v) for k, v in args if (k, v) != (key, value)]
            chips.append(FilterChip(text, f"{request.path}?{urlencode(rest)}".rstrip("?")))
        return chips

    def filter_value_label(self, column: str, value: str) -> str:
        """A filter's value as the list shows it: a related row's name, a choice's label."""
        if self.datamodel.is_relation_many_to_one(column):
            row = self.datamodel.get_related_interface(column).get(value)
            return str(row) if row is not None else value
        choices = getattr(getattr(self.search_form, column, None), "kwargs", {}).get("choices")
        return dict(choices or []).get(value, value)

    def customise_search_form(self, form):
        for column in self.search_columns:
            field = getattr(form, column)
            if self.datamodel.is_relation_many_to_one(column):
                field.kwargs["widget"] = RelatedPicker(self, column)
            elif self.datamodel.is_integer(column):
                # A phone's number pad; an empty filter row never blocks the others.
                field.kwargs["render_kw"] = {"inputmode": "numeric", "required": False}

    @expose("/related/<column>")
    @has_access
    @permission_name("list")
    def related(self, column):
        """The options of a relation filter matching `q`, within the actor's scope
        (JSON for select2): at most PICKER_LIMIT, by name."""
        if column not in self.search_columns or not self.datamodel.is_relation_many_to_one(column):
            abort(404)
        related = self.datamodel.get_related_interface(column)
        columns = PICKER_COLUMNS.get(related.obj)
        if columns is None:
            abort(404)
        query = related.scoped_query(related.session.query(related.obj))
        term = request.args.get("q", "").strip()[:100]
        if term:
            query = query.filter(like_any(term, *columns))
        rows = query.order_by(*columns).limit(PICKER_LIMIT).all()
        return jsonify(results=[{"id": row.id, "text": str(row)} for row in rows])

    def picked(self, column: str) -> list[tuple[int, str]]:
        """The options a relation filter in the URL has chosen, loaded within scope."""
        related = self.datamodel.get_related_interface(column)
        picked = []
        for key, value in request.args.items(multi=True):
            match = FILTER_ARG.fullmatch(key)
            if match and match[2] == column:
                row = related.get(value)
                if row is not None:
                    picked.append((row.id, str(row)))
        return picked

    def create_item(self, actor, form):
        raise DomainError("Adding is not available here.")

    def update_item(self, actor, item, form):
        raise DomainError("Editing is not available here.")

    def delete_item(self, actor, item):
        raise DomainError("Deleting is not available here.")

    def prepare_form(self, form, item=None):
        """Adjust a form for the actor (choices, defaults) before it is shown or checked."""

    def add_page(self):
        form = self.add_form.refresh()
        self.prepare_form(form)
        if (
            request.method == "POST"
            and form.validate()
            and self.run_service(lambda a: self.create_item(a, form), self.add_success, form)
        ):
            return None
        return self.render_add_form(form)

    def edit_page(self, pk):
        item = self.datamodel.get(pk)
        if item is None:
            abort(404)
        if request.method == "POST":
            form = self.edit_form.refresh(request.form)
            form._id = item.id
            self.prepare_form(form, item)
            if form.validate() and self.run_service(
                lambda a: self.update_item(a, item, form), self.edit_success, form
            ):
                return None
        else:
            form = self.edit_form.refresh(obj=item)
            self.prepare_form(form, item)
        return self.render_edit_form(form)

    def delete_row(self, pk):
        item = self.datamodel.get(pk)
        if item is None:
            abort(404)
        self.run_service(lambda a: self.delete_item(a, item), self.delete_success)

    def run_service(self, work: Callable, success: str | Callable | None, form=None) -> Outcome:
        return run_service(work, success, form)

    @expose("/delete/<pk>", methods=["POST"])
    @has_access
    def delete(self, pk):
        """Deleting is a POST (with its CSRF token); FAB's GET variant is not offered.
        Done or refused, the user lands on the list (FAB's history would go back past
        it, to the page before)."""
        self.delete_row(pk)
        return redirect(url_for(f"{self.endpoint}.list"))

    @expose("/download/<string:filename>")
    def download(self, filename):
        """FAB serves stored upload files here; the panel stores none this way."""
        abort(404)

    def run_action(self, name: str, pks: list[str]):
        """Actions get the posted ids as they came: the service loads them within
        scope and refuses the whole batch if any id is not the actor's."""
        if not self.action_allowed(name):
            abort(403)
        if not pks:
            flash(f"Select at least one {self.row_noun} first.", "warning")
            return redirect(self.back_to_list())
        return self.actions[name].func(pks)
