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

from flask import current_app, url_for
from flask_appbuilder.widgets import ListWidget
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

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
                target = getattr(value, "id", None) if hasattr(value, "__table__") else pk
                cells.append(f'<td><a href="{link(escape(target))}">{text}</a></td>')
            else:
                cells.append(f"<td>{text}</td>")
        cells.append("</tr>")
        out.append("".join(cells))
    return Markup("\n".join(out))


class RowMenuListWidget(ListWidget):
    """Every list: FAB's header (pagination, page size, Actions, Record Count), the
    rows from `render_rows`, a per-row actions menu from each row's `row_menu`."""

    template = "widgets/list_row_menu.html"

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
        template = current_app.jinja_env.get_template(self.template)
        return template.render({**args, **can, "actions": actions, "rows": rows})
