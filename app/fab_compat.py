"""The Flask-AppBuilder seam: every use of FAB 5.3's private methods and internal
state is in this module, so an upgrade of FAB touches this file (and its tests).

- `RestrictedInterface`: FAB's data interface with one hook, `restrict(query)`,
  applied to every query FAB builds through it: lists and their counts, loads by id
  (its own query, not FAB's `get`), related-field loads and dropdowns; FAB's group
  queries (charts, which the panel has none of) are refused.
- `ServiceModelView`: FAB's CRUD handlers (`_add`, `_edit`, `_delete`), its search
  form set-up (`_init_forms`), its show widgets and its action endpoints, turned
  into hooks a view implements (`add_page`, `edit_page`, `delete_row`,
  `customise_search_form`, `show_extras`, `run_action`, with `render_add_form` and
  `render_edit_form` to show a form); and the request's filters
  and order as FAB reads them (`filtered_query`), for exports and Select All.
- `IdCheckingInterface`, `KnownActionsOnly`: FAB's own security views, hardened.

Kept beside `app/security.py` (not in `app/views/`) because the security manager
uses it and `app/views/` imports the security manager.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, request, session, url_for
from flask_appbuilder import ModelView, expose, has_access
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.urltools import (
    get_filter_args,
    get_order_args,
    get_page_args,
    get_page_size_args,
)
from sqlalchemy import func, select

from app.sql import read
from app.tenancy import coerce_pk


class IdCheckingInterface(SQLAInterface):
    """FAB's data interface, for an id from a URL or form that is not an id of an
    INTEGER column: not found (stock FAB sends it to the database, and PostgreSQL's
    "integer out of range" is a 500)."""

    def get(self, id, filters=None, select_columns=None, outer_default_load=False):
        pk = coerce_pk(id)
        if pk is None:
            return None
        return super().get(pk, filters, select_columns, outer_default_load)


class UnrestrictedQuery(RuntimeError):
    """A FAB query the panel cannot restrict to the viewer's rows, so never runs."""


class RestrictedInterface(SQLAInterface):
    """A data interface that sees only the rows `restrict(query)` keeps: subclasses
    define `restrict`, and every query FAB builds through it goes through it.

    `count_cap`: a list's count stops there (`count_cap + 1` means "more"), reading
    at most that many rows instead of counting a whole table."""

    count_cap: int | None = None

    def query_count(self, query, filters=None, select_columns=None):
        """The list's count: its filtered rows' keys counted (up to `count_cap + 1`),
        run by Core on the session's connection (`sql.read`: a list page reads
        before any change). Only the key is read: SQLite does not flatten a LIMITed
        subquery, so selecting the whole row read up to count_cap rows of the table."""
        rows = self._apply_inner_all(
            self.restrict(query), filters, select_columns=select_columns, aliases_mapping={}
        ).with_entities(*self.obj.__mapper__.primary_key)
        if self.count_cap is not None:
            rows = rows.limit(self.count_cap + 1)
        return read(select(func.count()).select_from(rows.statement.subquery())).scalar()

    def apply_all(self, query, *args, **kwargs):
        return super().apply_all(self.restrict(query), *args, **kwargs)

    def get(self, id, filters=None, select_columns=None, outer_default_load=False):
        """One row by id: the restricted query, the view's base filters, the id."""
        pk = coerce_pk(id)
        if pk is None:
            return None
        query = self.restrict(self.session.query(self.obj))
        if filters:
            query = filters.apply_all(query)
        return query.filter(self.obj.__mapper__.primary_key[0] == pk).one_or_none()

    def get_related_obj(self, col_name, value):
        """A relation filter's value (`_flt_0_company=…`): loaded through the related
        model's restricted interface; None (filter ignored) for anything else."""
        return self.get_related_interface(col_name).get(value)

    def _refused(self, *args, **kwargs):
        raise UnrestrictedQuery(
            "FAB's group queries (chart views) are not restricted: the panel has none."
        )

    query_simple_group = query_month_group = query_year_group = _refused


class ServiceModelView(ModelView):
    """FAB's ModelView with its private CRUD handlers and action endpoints turned into
    hooks, which a subclass defines by calling services: `add_page()` and
    `edit_page(pk)` (None when done, else the widgets to show), `delete_row(pk)` and
    `run_action(name, pks)`; `customise_search_form` and `show_extras` are optional."""

    def customise_search_form(self, form) -> None:
        """Adjust the search (Add Filter) form's fields once, when FAB builds it."""

    def show_extras(self, item) -> dict:
        """More values for the show template, beside FAB's widgets."""
        return {}

    def render_add_form(self, form):
        return self._get_add_widget(form=form)

    def render_edit_form(self, form):
        return self._get_edit_widget(form=form)

    # Cells that open a page: column → the view (class name) whose show page it opens,
    # for the related row when the cell holds one (a company), else for the row itself.
    column_links: dict[str, str] = {}

    def allowed_links(self) -> dict[str, str]:
        """`column_links` limited to the views the user may open (show)."""
        views = {type(v).__name__: v for v in self.appbuilder.baseviews}
        return {
            column: name
            for column, name in self.column_links.items()
            if name in views
            and self.appbuilder.sm.has_access("can_show", views[name].class_permission_name)
        }

    def list_widget_args(self) -> dict:
        """More values for the list widget (views/list_rows.py) and its template."""
        return {
            "column_links": self.allowed_links(),
            "count_cap": getattr(self.datamodel, "count_cap", None),
        }

    def list_page(self, filters, order_column, order_direction, page, page_size):
        """A list page's (count, rows): FAB's `datamodel.query`, as a hook."""
        return self.datamodel.query(filters, order_column, order_direction, page, page_size)

    def _get_list_widget(
        self,
        filters,
        actions=None,
        order_column="",
        order_direction="",
        page=None,
        page_size=None,
        widgets=None,
        **kwargs,
    ):
        """FAB's list widget, its page read by `list_page` and its template given
        `list_widget_args`."""
        widgets = widgets or {}
        page_size = page_size or self.page_size
        if not order_column and self.base_order:
            order_column, order_direction = self.base_order
        count, rows = self.list_page(
            filters.get_joined_filters(self._base_filters),
            order_column,
            order_direction,
            page,
            page_size,
        )
        widgets["list"] = self.list_widget(
            label_columns=self.label_columns,
            include_columns=self.list_columns,
            value_columns=[{c: getattr(row, c) for c in self.list_columns} for row in rows],
            order_columns=self.order_columns,
            formatters_columns=self.formatters_columns,
            page=page,
            page_size=page_size,
            count=count,
            pks=self.datamodel.get_keys(rows),
            actions=actions or self.actions,
            filters=filters,
            modelview_name=self.__class__.__name__,
            **self.list_widget_args(),
            **kwargs,
        )
        return widgets

    def filtered_query(self, query, ordered: bool = False):
        """`query` with the list's current filters (the request's and the view's base
        filters) and, if `ordered`, its current order, as FAB's list applies them."""
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        filters = self._filters.get_joined_filters(self._base_filters)
        if not ordered:
            return self.datamodel.apply_all(query, filters)
        column, direction = get_order_args().get(type(self).__name__) or self.base_order
        return self.datamodel.apply_all(query, filters, column, direction)

    def _list(self, **kwargs):
        """FAB's list handler (`BaseCRUDView._list`), its search widget given
        `search_widget_args()` (FAB's: the search form, refreshed per request)."""
        name = type(self).__name__
        order_column, order_direction = get_order_args().get(name) or ("", "")
        get_filter_args(self._filters)
        widgets = self._get_list_widget(
            filters=self._filters,
            order_column=order_column,
            order_direction=order_direction,
            page=get_page_args().get(name),
            page_size=get_page_size_args().get(name),
            **kwargs,
        )
        self.update_redirect()
        widgets["search"] = self.search_widget(
            route_base=self.route_base,
            include_cols=self.search_columns,
            exclude_cols=[],
            filters=self._filters,
            **self.search_widget_args(),
        )
        return widgets

    def search_widget_args(self) -> dict:
        """The search widget's form, or what a subclass's widget takes instead."""
        return {"form": self.search_form.refresh()}

    def update_redirect(self):
        """FAB's Back history (the session's `page_history`), written only when this
        page is not its last entry already (FAB's stack keeps no repeat, but writing
        it marks the session changed: signed and sent again with every list)."""
        history = session.get("page_history")
        if not history or history[-1] != request.url:
            super().update_redirect()

    # FAB's private handlers, routed to the hooks.

    def _init_forms(self):
        super()._init_forms()
        self.customise_search_form(self.search_form)

    def _add(self):
        return self.add_page()

    def _edit(self, pk):
        return self.edit_page(pk)

    def _delete(self, pk):
        return self.delete_row(pk)

    def _get_show_widget(self, pk, item, **kwargs):
        widgets = super()._get_show_widget(pk, item, **kwargs)
        widgets.update(self.show_extras(item))
        return widgets

    @expose("/action/<string:name>/<pk>", methods=["POST"])
    def action(self, name, pk):
        return self.run_action(name, [pk])

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        return self.run_action(request.form.get("action", ""), request.form.getlist("rowid"))

    def back_to_list(self) -> str:
        """Where an action returns: the page of this view it was posted from, with its
        filters, order and page (the referrer, when it is ours); else the view's list.
        (FAB's `get_redirect` goes back two pages in its history: the page before
        the list, since an action adds none.)"""
        referrer = urlsplit(request.referrer or "")
        if referrer.netloc != request.host:
            return url_for(f"{self.endpoint}.list")
        return self.local_url(referrer.path + (f"?{referrer.query}" if referrer.query else ""))

    def local_url(self, url: str | None, prefix: str | None = None, fallback: str | None = None):
        """`url` when it is a page of this view, or under `prefix` (a path, no other
        site: never an open redirect), else `fallback` or the view's list."""
        parts = urlsplit(url or "")
        prefix = prefix or self.route_base + "/"
        own = not parts.scheme and not parts.netloc and parts.path.startswith(prefix)
        if own and "\\" not in parts.path:
            return parts.path + (f"?{parts.query}" if parts.query else "")
        return fallback or url_for(f"{self.endpoint}.list")

    def action_allowed(self, name: str) -> bool:
        """Whether the action exists (else 404) and the role may run it."""
        if name not in self.actions:
            abort(404)
        permission = self.get_action_permission_name(name)
        return self.appbuilder.sm.has_access(permission, self.class_permission_name)


def filter_url(view: ModelView, column: str, operator: type, value) -> str:
    """The address of `view`'s list filtered by `column` `operator` (a filter class,
    e.g. `filters.Is`) `value`. FAB names a filter in the URL by its position in the
    column's list of filters (`_flt_3_kind`): found here, never written by hand."""
    filters = view._filters.get_search_filters()[column]
    index = next(i for i, f in enumerate(filters) if type(f) is operator)
    return url_for(f"{view.endpoint}.list", **{f"_flt_{index}_{column}": value})


class KnownActionsOnly:
    """FAB's security views, hardened: an action name FAB does not know answers 404
    (stock FAB looks the action up before checking permissions: a 500), an action
    the role may not run answers 403 (stock FAB: a redirect to "Access is
    Denied"), and the file `download` endpoint, which no view has files for,
    answers 404 (stock FAB fails on a name without its separator)."""

    def get_action_permission_name(self, name: str) -> str:
        if name not in self.actions:
            abort(404)
        return super().get_action_permission_name(name)

    def _may_run(self, name: str) -> None:
        permission = self.get_action_permission_name(name)
        if not self.appbuilder.sm.has_access(permission, self.class_permission_name):
            abort(403)

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        self._may_run(name)
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        self._may_run(request.form.get("action", ""))
        return super().action_post()

    @expose("/download/<string:filename>")
    @has_access
    def download(self, filename):
        abort(404)


def known_actions_only(view_class):
    """A FAB security view class, hardened; same class name, so FAB's permission and
    endpoint names do not change."""
    return type(view_class.__name__, (KnownActionsOnly, view_class), {})
