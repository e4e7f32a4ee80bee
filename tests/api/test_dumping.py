"""The API's compiled dumpers answer exactly what marshmallow's `Schema().dump`
would, for every response schema: from objects, dicts, rows of columns and
entities, with None where a field allows it and values of other types (a StrEnum
for a string, a bool for an integer) where marshmallow converts them."""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from marshmallow import fields
from sqlalchemy import select

from app import clock
from app.api import OPERATIONS
from app.api import schemas as s
from app.api.dumping import dumper
from app.api.resources import row_columns
from app.extensions import db
from app.models import CompanyKind, Learner, Order
from tests import factories

RESPONSES = sorted({op.response for op in OPERATIONS if op.response}, key=lambda c: c.__name__)


def _computed(schema) -> bool:
    """Whether a Function field (which reads an object, never a dict) is in it."""
    for field in schema().dump_fields.values():
        inner = field.inner if isinstance(field, fields.List) else field
        if isinstance(inner, fields.Nested) and _computed(type(inner.schema)):
            return True
        if not field._CHECK_ATTRIBUTE:
            return True
    return False


CASES = [
    (schema, as_dict)
    for schema in RESPONSES
    for as_dict in (False, True)
    if not (as_dict and _computed(schema))
]


def _value(field, variant: int):
    if isinstance(field, fields.Nested):
        return _object(type(field.schema), variant, as_dict=False)
    if isinstance(field, fields.List):
        return [_value(field.inner, variant), _value(field.inner, variant + 1)]
    if variant == 2 and field.allow_none:
        return None
    if isinstance(field, fields.Integer):
        return [7, True, 2**40][variant % 3]
    if isinstance(field, fields.Boolean):
        return [True, False, 1][variant % 3]
    if isinstance(field, fields.DateTime):
        return datetime(2026, 12, 3, 10, 30, 5, 1234, tzinfo=UTC)
    if isinstance(field, fields.Date):
        return date(2026, 12, 3)
    if isinstance(field, fields.Dict):
        return {"seats": 3, "who": ["a"]}
    if isinstance(field, fields.String):
        return ["text", CompanyKind.SUB_PARTNER, "é ✓"][variant % 3]
    raise AssertionError(f"add a value for {type(field).__name__}")


def _object(schema, variant: int, as_dict: bool):
    values = {}
    for name, field in schema().dump_fields.items():
        if not field._CHECK_ATTRIBUTE:
            continue
        path = (field.attribute or name).split(".")
        target = values
        for part in path[:-1]:  # a dotted attribute ("event.uid"): an object in between
            target = target.setdefault(part, Between())
        target[path[-1]] = _value(field, variant)
    values.setdefault("id", 12)  # Order.number reads the id
    if as_dict:
        return values
    return _namespace(values)


class Between(dict):
    """The object a dotted attribute passes through (a plain dict is a Dict value)."""


def _namespace(values):
    return SimpleNamespace(
        **{key: _namespace(v) if isinstance(v, Between) else v for key, v in values.items()}
    )


@pytest.mark.parametrize(
    ("schema", "as_dict"),
    CASES,
    ids=[f"{schema.__name__}-{'dict' if as_dict else 'object'}" for schema, as_dict in CASES],
)
@pytest.mark.parametrize("variant", [0, 1, 2])
def test_each_response_schema_dumps_as_marshmallow_does(schema, variant, as_dict):
    obj = _object(schema, variant, as_dict)
    assert dumper(schema)(obj) == schema().dump(obj)


def test_a_dict_without_some_keys_leaves_them_out_as_marshmallow_does():
    partial = {"id": 3, "name": "Acme"}
    assert dumper(s.Company)(partial) == s.Company().dump(partial) == partial


def test_rows_of_columns_dump_as_their_entities(tree):
    # people with a license type and expiry, and the order they hold it from
    factories.licenses_expiring(tree.customer, 2, clock.now() + timedelta(days=10))
    db.session.commit()
    for model, schema in ((Learner, s.Learner), (Order, s.Order)):
        columns = row_columns(model, schema)
        assert columns is not None, f"{model.__name__}: listed as entities, not rows"
        rows = db.session.execute(select(*columns).order_by(model.id)).all()
        entities = db.session.scalars(select(model).order_by(model.id)).all()
        assert rows and len(rows) == len(entities)
        for row, entity in zip(rows, entities, strict=True):
            assert dumper(schema)(row) == schema().dump(entity)
