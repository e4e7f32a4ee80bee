"""The list widget of every list page: its rows built in Python.

FAB's list widget renders each cell through Jinja blocks and macros, with a
`url_for` per link and permission checks in the template: for 25 rows that was
more than the page's SQL and layout together. Here the permissions are checked
once per page, every link's address is built once per page (`UrlPattern`) and
filled in per row, and each row is one f-string of escaped cells. The markup is
the same as the template's was (`tr[data-pk]`, the row checkboxes, the Show / Edit
/ Delete buttons, the actions menu), so styles, scripts and tests see no change.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app, request, url_for
from flask_appbuilder.widgets import ListWidget
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from app import display
from app.views.page_rows import Related

# The open argument while the address is built: a number, so `<int:pk>` routes
# build too, long enough never to occur in an address by chance.
_HOLE = 918273645546372819


class UrlPattern:
    """An endpoint's address with one argument left open, built once: `url(key)`
    fills it in (`url_for` per row cost ~10 µs a link)."""

    def __init__(self, endpoint: str, argument: str = "pk", **values):
        built = url_for(endpoint, **{argument: _HOLE}, **values)
        self.head, _, self.tail = built.partition(str(_HOLE))

    def __call__(self, key) -> str:
        return f"{self.head}{key}{self.tail}"


def _crud_cell(pk: str, show: UrlPattern | None, edit: UrlPattern | None, delete) -> str:
    buttons = []
    if show:
        buttons.append(
            f'<a href="{show(pk)}" class="btn btn-sm btn-default" title="Show record">'
            '<span class="sr-only">Show</span><i class="fa fa-search"></i></a>'
        )
    if edit:
        buttons.append(
            f'<a href="{edit(pk)}" class="btn btn-sm btn-default" title="Edit record">'
            '<span class="sr-only">Edit</span><i class="fa fa-edit"></i></a>'
        )
    if delete:
        buttons.append(
            f'<a href="#" data-delete="{delete(pk)}" class="btn btn-sm btn-default confirm"'
            ' title="Delete record"><span class="sr-only">Delete</span>'
            '<i class="fa fa-trash"></i></a>'
        )
    return (
        '<td><center><div class="btn-group btn-group-xs" style="display: flex;">'
        f"{''.join(buttons)}</div></center></td>"
    )


def _menu_cell(menu, pk: str, csrf) -> str:
    """A row's actions menu (the guide's three dots) from its `row_menu` list of
    RowAction(label, url, post): a POST action is a small CSRF-protected form."""
    if not menu:
        return '<td class="row-menu"></td>'
    entries = []
    for entry in menu:
        label, url = escape(entry.label), escape(entry.url)
        if entry.post:
            entries.append(
                f'<li><form method="post" action="{url}">'
                f'<input type="hidden" name="csrf_token" value="{csrf()}">'
                f'<button type="submit" class="btn btn-link row-menu-item">{label}</button>'
                "</form></li>"
            )
        else:
            entries.append(f'<li><a href="{url}">{label}</a></li>')
    return (
        '<td class="row-menu"><div class="dropdown">'
        '<button class="btn btn-sm btn-default dropdown-toggle" type="button"'
        ' data-toggle="dropdown" aria-haspopup="true" aria-expanded="false"'
        f' aria-label="Actions for row {pk}"><i class="fa fa-ellipsis-v" aria-hidden="true"></i>'
        '</button><ul class="dropdown-menu dropdown-menu-right">'
        f"{''.join(entries)}</ul></div></td>"
    )


def render_rows(
    *,
    pks: list,
    values: Iterable[dict],
    columns: list[str],
    formatters: dict,
    links: dict[str, str],
    view: str,
    checkboxes: bool,
    can: dict[str, bool],
    ticked: set | frozenset = frozenset(),
) -> Markup:
    """The `<tr>`s of a page of rows: each column's value through its formatter,
    escaped; a column in `links` opens the show page of its related row (a company)
    or of the row itself."""
    show = UrlPattern(f"{view}.show") if can["can_show"] else None
    edit = UrlPattern(f"{view}.edit") if can["can_edit"] else None
    delete = UrlPattern(f"{view}.delete") if can["can_delete"] else None
    crud = show or edit or delete
    link_urls = {column: UrlPattern(f"{target}.show") for column, target in links.items()}
    # A formatter that reads the request (the page's time zone) does so once a page.
    formatters = {
        column: formatter.for_page() if hasattr(formatter, "for_page") else formatter
        for column, formatter in formatters.items()
        if column in columns
    }
    token = []

    def csrf() -> str:
        if not token:
            token.append(generate_csrf())
        return token[0]

    out = []
    for pk, item in zip(pks, values, strict=True):
        key = escape(pk)
        cells = [f'<tr data-pk="{key}">']
        if checkboxes:
            checked = " checked" if pk in ticked else ""
            cells.append(
                f'<td><input id="{key}" class="action_check" name="rowid" value="{key}"'
                f' type="checkbox" aria-label="Select row {key}"{checked}></td>'
            )
        if crud:
            cells.append(_crud_cell(key, show, edit, delete))
        for column in columns:
            value = item[column]
            if column == "row_menu":
                cells.append(_menu_cell(value, key, csrf))
                continue
            formatter = formatters.get(column)
            text = escape(formatter(value) if formatter else value)
            link = link_urls.get(column)
            if link and value is not None:
                related = isinstance(value, Related) or hasattr(value, "__table__")
                target = value.id if related else pk
                cells.append(f'<td><a href="{link(escape(target))}">{text}</a></td>')
            else:
                cells.append(f"<td>{text}</td>")
        cells.append("</tr>")
        out.append("".join(cells))
    return Markup("\n".join(out))


def _nonce() -> str:
    """The page's CSP nonce where the app has one (FAB's `baselib.get_nonce`)."""
    nonce = current_app.jinja_env.globals.get("csp_nonce")
    return nonce() if nonce else ""


def _request_link(key: str) -> UrlPattern:
    """This page's address with `key` set to the open argument and the other query
    arguments kept, as FAB's `link_page` / `link_page_size` filters build it."""
    args = {**request.view_args, **request.args.to_dict(), key: _HOLE}
    built = url_for(request.endpoint, **args)
    pattern = object.__new__(UrlPattern)
    pattern.head, _, pattern.tail = built.partition(str(_HOLE))
    return pattern


def _pagination(view: str, page: int, pages: int) -> str:
    """FAB's `render_pagination`: seven pages around this one, first/previous/next/last."""
    low, high = page - 3, page + 4
    if low < 0:
        high -= low
    if high >= pages:
        low -= high - pages
    low, high = max(low, 0), min(high, pages)
    link = _request_link(f"page_{view}")

    def item(target: int | None, text: str, active: bool = False) -> str:
        if active:
            return f'<li class="active"><a href="#">{text}</a></li>'
        if target is None:
            return f'<li class="disabled"><a href="#">{text}</a></li>'
        return f'<li><a href="{link(target)}">{text}</a></li>'

    items = [
        item(0 if low > 0 else None, "&laquo;"),
        item(page - 1 if page > 0 else None, "&lt;"),
        *(item(p, str(p + 1), active=p == page) for p in range(low, high)),
        item(page + 1 if page + 1 < pages else None, "&gt;"),
        item(pages - 1 if high < pages else None, "&raquo;"),
    ]
    return f'<ul class="pagination pagination-sm" style="display:inherit;">{"".join(items)}</ul>'


ACTIVE = ' class="active"'


def _page_sizes(view: str, page: int, page_size: int, count: int) -> str:
    """FAB's `render_set_page_size`: 25 to 100 rows a page."""
    link = _request_link(f"psize_{view}")
    items = "".join(
        f'<li{ACTIVE if size == page_size else ""}><a href="{link(size)}">{size}</a></li>'
        for size in range(25, 125, 25)
        if page * size <= count
    )
    return (
        '<div class="btn-group"><button type="button" class="btn btn-default btn-sm'
        f' dropdown-toggle" data-toggle="dropdown">{escape(_("Page size"))}'
        f'<span class="caret"></span></button><ul class="dropdown-menu" role="menu">{items}'
        "</ul></div>"
    )


def _actions_menu(actions: dict) -> str:
    """FAB's `render_actions`: the Actions menu over the ticked rows."""
    if not actions:
        return ""
    items, handlers = [], []
    for action in actions.values():
        items.append(
            f'<li><a href="#" class="{escape(action.name)}_menu_item">'
            f'<i class="fa {escape(action.icon)}"></i> {escape(_(action.text))}</a></li>'
        )
        confirmation = f"'{escape(action.confirmation)}'" if action.confirmation else "false"
        handlers.append(
            f"$('.{escape(action.name)}_menu_item').on('click', function(){{"
            f" return modelActions.execute_multiple('{escape(action.name)}',{confirmation}); }});"
        )
    return (
        '<div class="btn-group"><button type="button" class="btn btn-default btn-sm'
        f' dropdown-toggle" data-toggle="dropdown">{escape(_("Actions"))}'
        f'<span class="caret"></span></button><ul class="dropdown-menu" role="menu">'
        f'{"".join(items)}</ul><script nonce="{_nonce()}">$(document).ready(function() {{'
        f"{''.join(handlers)} }});</script></div>"
    )


def _column_heads(columns, order_columns, labels, view: str) -> str:
    """The column headers: a sortable column links to the list sorted by it (FAB's
    `link_order`: ascending first, then the other way), with its direction's icon."""
    ordered = request.args.get(f"_oc_{view}")
    direction = request.args.get(f"_od_{view}")
    heads = []
    for column in columns:
        label = escape(labels.get(column, ""))
        if column == "row_menu":
            heads.append('<th><span class="sr-only">Actions</span></th>')
        elif column in order_columns:
            args = {**request.view_args, **request.args.to_dict()}
            args[f"_oc_{view}"] = column
            # FAB's toggle: the other direction from the list's current one.
            sorted_now = f"_oc_{view}" in request.args
            args[f"_od_{view}"] = "desc" if sorted_now and direction == "asc" else "asc"
            icon = (
                ("fa-chevron-up" if direction == "asc" else "fa-chevron-down")
                if ordered == column
                else "fa-arrows-v"
            )
            heads.append(
                f'<th><a href="{url_for(request.endpoint, **args)}">{label}'
                f'<i class="fa {icon} pull-right" aria-hidden="true"></i></a></th>'
            )
        else:
            heads.append(f"<th>{label}</th>")
    return "".join(heads)


class RowMenuListWidget(ListWidget):
    """Every list, built in Python (a Jinja template of FAB's macros cost more than
    the page's SQL): FAB's header (pagination, page size, Add, Actions, Back, Record
    Count with thousands separators — a capped count reads "10,000+"), the column
    headers, the rows from `render_rows` with each row's `row_menu`, and the form
    the Actions menu posts."""

    def __call__(self, **kwargs):
        args = {**self.template_args, **kwargs}
        view = args["modelview_name"]
        # FAB's own checks (its method-to-permission mapping, the view's permissions;
        # the actions as the panel filters them, views/__init__.py).
        filters = current_app.jinja_env.filters
        can = {
            name: filters["is_item_visible"](name, view)
            for name in ("can_add", "can_show", "can_edit", "can_delete")
        }
        actions = filters["get_actions_on_list"](args["actions"], view)
        count, page_size, page = args["count"], args["page_size"], args["page"] or 0
        pages = -(-count // page_size)
        header = []
        if pages > 1:
            header += [_pagination(view, page, pages), _page_sizes(view, page, page_size, count)]
        if can["can_add"]:
            add = filters["safe_url_for"](f"{view}.add")
            if add:
                add = escape(filters["set_link_filters"](add, args["filters"]))
                header.append(
                    f'<a href="{add}" class="btn btn-sm btn-primary" data-toggle="tooltip"'
                    f' rel="tooltip" title="{escape(_("Add a new record"))}">'
                    f'<span class="sr-only">{escape(_("Add"))}</span><i class="fa fa-plus"></i></a>'
                )
        header.append(_actions_menu(actions))
        header.append(
            f'<a href="{url_for("UtilView.back")}" class="btn btn-sm btn-default"'
            f' data-toggle="tooltip" rel="tooltip" title="{escape(_("Back"))}">'
            f'<span class="sr-only">{escape(_("Back"))}</span><i class="fa fa-arrow-left"></i></a>'
        )
        cap = args.get("count_cap")
        shown = f"{display.number(cap)}+" if cap and count > cap else display.number(count)
        header.append(
            f'<div class="pull-right record-count"><strong>Record Count:</strong> {shown}</div>'
        )
        out = [f'<div class="well well-sm">{"".join(header)}</div>']
        if count <= 0:
            out.append("<b>No records found</b>")
            return Markup("".join(out))
        rows = render_rows(
            pks=args["pks"],
            values=args["value_columns"],
            columns=args["include_columns"],
            formatters=args["formatters_columns"],
            links=args.get("column_links") or {},
            view=view,
            checkboxes=bool(actions),
            can=can,
            ticked=args.get("ticked") or frozenset(),
        )
        heads = []
        if actions:
            heads.append(
                '<th class="action_checkboxes"><input id="check_all" class="action_check_all"'
                ' name="check_all" type="checkbox" aria-label="Select all rows on this page"></th>'
            )
        if can["can_show"] or can["can_edit"] or can["can_delete"]:
            heads.append('<th class="col-md-1"><span class="sr-only">Open</span></th>')
        heads.append(
            _column_heads(
                args["include_columns"], args["order_columns"], args["label_columns"], view
            )
        )
        # A table wider than a phone scrolls in its box, which the keyboard can reach.
        out.append(
            '<div class="table-responsive" tabindex="0" role="region" aria-label="The list">'
            f'<table class="table table-bordered table-hover"><thead><tr>{"".join(heads)}'
            f"</tr></thead>\n{rows}\n</table></div>"
        )
        csrf = f'<input type="hidden" name="csrf_token" value="{generate_csrf()}"/>'
        if actions:
            post = filters["safe_url_for"](f"{view}.action_post")
            if post:
                out.append(
                    f'<form id="action_form" action="{escape(post)}" method="POST"'
                    f' style="display: none">{csrf}<input type="hidden" id="action"'
                    ' name="action" /></form>'
                )
        else:
            out.append(
                '<form id="delete_form" action="" method="POST" style="display: none">'
                f'{csrf}<input type="hidden" id="delete" name="delete" /></form>'
            )
        out.append(
            f'<script nonce="{_nonce()}">$(document).ready(function() {{'
            " window.modelActions = new AdminActions(); });</script>"
        )
        return Markup("".join(out))
