"""The API's answers, dumped by a function built once per response schema.

The output is marshmallow's own `Schema().dump` (each value goes through its
field's `_serialize`; tests/api/test_dumping.py holds the two equal for every
response schema), without marshmallow's per-object machinery — a schema instance
per nested object, the hooks, the error bookkeeping — which was a fifth of a list
call at 25 rows a page and more at 200.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from operator import attrgetter

from marshmallow import Schema, fields, missing
from marshmallow.utils import get_func_args, get_value


@cache
def dumper(schema: type[Schema]) -> Callable[[object], dict]:
    """obj → the dict `schema().dump(obj)` answers (obj: an entity, a row of its
    columns, a dict or a plain object)."""
    instance = schema()
    if any(instance._hooks.values()):
        raise TypeError(f"{schema.__name__}: dump hooks are not supported here")
    named = list(instance.dump_fields.items())
    keys = [name if field.data_key is None else field.data_key for name, field in named]
    converters = [_converter(field, name) for name, field in named]
    getters = [_getter(field, name) for name, field in named]
    # An object with every attribute (an entity, a row): one C call reads them all
    # (Function fields read none: theirs stay None).
    read = [i for i, (_, field) in enumerate(named) if field._CHECK_ATTRIBUTE]
    paths = read_attributes(schema)
    read_all = attrgetter(*paths) if paths else (lambda obj: ())

    def slow(obj) -> dict:  # a dict, or an object without some attribute
        answer = {}
        for key, get, convert in zip(keys, getters, converters, strict=True):
            value = get(obj)
            if value is not missing:
                answer[key] = convert(value, obj)
        return answer

    def dump(obj) -> dict:
        if isinstance(obj, Mapping):
            return slow(obj)
        try:
            values = read_all(obj)
        except AttributeError:
            return slow(obj)
        if len(read) == 1:
            values = (values,)
        if len(read) < len(keys):
            values, got = [None] * len(keys), values
            for i, value in zip(read, got, strict=True):
                values[i] = value
        return {
            key: convert(value, obj)
            for key, convert, value in zip(keys, converters, values, strict=True)
        }

    return dump


def read_attributes(schema: type[Schema]) -> list[str]:
    """The attributes `schema` reads of an object (its Function fields read those)."""
    return [
        field.attribute or name
        for name, field in schema().dump_fields.items()
        if field._CHECK_ATTRIBUTE
    ]


def _getter(field: fields.Field, name: str) -> Callable[[object], object]:
    if field.dump_default is not missing:
        raise TypeError(f"{name}: a dump default is not supported here")
    if not field._CHECK_ATTRIBUTE:  # a Function field: nothing to read
        return lambda obj: None
    path = field.attribute or name

    def get(obj):
        if isinstance(obj, Mapping):
            return get_value(obj, path)
        try:
            return attrgetter(path)(obj)
        except AttributeError:
            return missing

    return get


# Values these fields answer as they are (marshmallow's own conversion would give
# the same value back): the common case skips a call.
AS_IS = {fields.String: str, fields.Integer: int, fields.Boolean: bool}


def _converter(field: fields.Field, name: str) -> Callable[[object, object], object]:
    if isinstance(field, fields.Nested):
        return _nested(field)
    if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
        each = _nested(field.inner)
        return lambda value, obj: None if value is None else [each(v, obj) for v in value]
    serialize = field._serialize
    if not field._CHECK_ATTRIBUTE:  # a Function field: computed from the object
        function = getattr(field, "serialize_func", None)
        if function is not None and len(get_func_args(function)) == 1:
            return lambda value, obj: function(obj)  # (marshmallow inspects it per call)
        return lambda value, obj: serialize(None, name, obj)
    kept = AS_IS.get(type(field))
    if kept is None or getattr(field, "as_string", False):
        return lambda value, obj: None if value is None else serialize(value, name, obj)
    return lambda value, obj: (
        value if value is None or type(value) is kept else serialize(value, name, obj)
    )


def _nested(field: fields.Nested) -> Callable[[object, object], object]:
    if field.many or field.only or field.exclude or field.schema.only or field.schema.exclude:
        raise TypeError("a Nested field with many, only or exclude is not supported here")
    inner = dumper(type(field.schema))
    return lambda value, obj: None if value is None else inner(value)
