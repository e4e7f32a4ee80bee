"""A list page's rows read as plain values, not ORM entities.

FAB's list reads a page as ORM entities, and every related row a column shows (an
event's person and companies, an email's company) in one `selectin` statement per
relation after it: four statements and SQLAlchemy's identity map and attribute
machinery for 25 rows, most of a list page's time above its layout. Here the page
is the same statement (FAB's filters, order and page, the tenancy scope) selecting
the table's columns, with each shown related row's name by a scalar subquery
(`LABELS`), read as plain rows into light objects (`PageRow`): one statement, no
identity map. A row keeps the model's Python properties (an order's `number` and
`status_label`, a learner's `full_name`), so annotations and formatters read it as
they read an entity; a related row is a `Related` (its id, for the cell's link,
and its name, which is what `str()` of the entity gives).

Models whose listed columns include anything else (a list of roles) keep FAB's
entities: `PageReader.for_columns` answers None for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import JSON, ColumnElement, LargeBinary, Select, Text, select
from sqlalchemy.orm import RelationshipDirection, aliased

from app.models import AppUser, Company
from app.sql import read

# What a related row reads as in a list: the SQL of its `str()` (`__repr__`).
LABELS = {
    Company: lambda company: company.name,
    AppUser: lambda user: user.first_name + " " + user.last_name,
}
# Column types not read for a list unless it shows them (an email's body, an
# event's before and after).
BULKY = (Text, JSON, LargeBinary)


class Related(NamedTuple):
    """A listed row's related row: its id (the cell's link) and its name."""

    id: int
    label: str

    def __str__(self) -> str:
        return self.label


class PageRow:
    """A listed row: the table's columns as attributes (subclassed per model with
    the model's properties)."""


@dataclass(frozen=True)
class Computed:
    """Values a list computes per row in its page's own statement (the Company list's
    figures): named scalar subqueries over the row's columns, and a function giving
    this request's values of their parameters."""

    columns: dict[str, ColumnElement]
    values: Callable[[], dict]


def _properties(model) -> dict[str, property]:
    """The model's plain Python properties (not SQLAlchemy's attributes)."""
    found = {}
    for klass in reversed(model.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, property):
                found[name] = value
    return found


class PageReader:
    """Reads a page of `model` for the list columns `shown` (see the module)."""

    def __init__(
        self,
        model,
        shown: list[str],
        relations: dict[str, tuple[str, object]],
        computed: Computed | None = None,
    ):
        mapper = model.__mapper__
        self.columns = [
            attr.columns[0]
            for attr in mapper.column_attrs
            if attr.key in shown or not isinstance(attr.columns[0].type, BULKY)
        ]
        self.keys = [attr.key for attr in mapper.column_attrs if attr.columns[0] in self.columns]
        self.relations = []  # (attribute, the key of its foreign key)
        self.labels = []
        for name, (fk_key, related) in relations.items():
            column = mapper.column_attrs[fk_key].columns[0]
            # An alias: a company's parent is a company too.
            other = aliased(related)
            self.labels.append(
                select(LABELS[related](other)).where(other.id == column).scalar_subquery()
            )
            self.relations.append((name, fk_key))
        self.computed = computed or Computed({}, dict)
        self.row_class = type(f"{model.__name__}Row", (PageRow,), _properties(model))
        # The list's count and page statements, built once per shape of the list
        # (`ScopedInterface.prepared`), kept with the list's columns.
        self.statements: dict = {}

    @classmethod
    def for_columns(
        cls, model, shown: list[str], computed: Computed | None = None
    ) -> PageReader | None:
        """A reader for a list of `shown` columns (and the `computed` ones), or None
        when one of them is a relation this module cannot name in SQL (FAB's
        entities then)."""
        mapper = model.__mapper__
        relations = {}
        for name in shown:
            relation = mapper.relationships.get(name)
            if relation is None:
                continue
            if (
                relation.direction is not RelationshipDirection.MANYTOONE
                or relation.mapper.class_ not in LABELS
                or len(relation.local_columns) != 1
            ):
                return None
            (fk,) = relation.local_columns
            relations[name] = (mapper.get_property_by_column(fk).key, relation.mapper.class_)
        return cls(model, shown, relations, computed)

    def select(self) -> Select:
        """The page's columns and names, to which a list adds its conditions, order
        and page (`ScopedInterface`'s statements built once); its parameters besides
        the list's are `values()`."""
        return select(*self._selected())

    def values(self) -> dict:
        """This request's values of the computed columns' parameters."""
        return self.computed.values()

    def read(self, query) -> list[PageRow]:
        """The rows of `query` (FAB's list query: filters, order, page), one statement."""
        return self.rows(read(query.with_entities(*self._selected()).statement, self.values()))

    def _selected(self) -> list:
        return [*self.columns, *self.labels, *self.computed.columns.values()]

    def rows(self, result) -> list[PageRow]:
        """The rows of a result of `select()`'s columns."""
        rows, width, new = [], len(self.keys), object.__new__
        labelled = width + len(self.relations)
        computed = list(self.computed.columns)
        for values in result:
            row = new(self.row_class)
            attributes = row.__dict__
            attributes.update(zip(self.keys, values[:width], strict=True))
            for (name, fk_key), label in zip(self.relations, values[width:labelled], strict=True):
                key = attributes[fk_key]
                attributes[name] = None if key is None else Related(key, label)
            attributes.update(zip(computed, values[labelled:], strict=True))
            rows.append(row)
        return rows
