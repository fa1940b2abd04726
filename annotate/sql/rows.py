"""Model instances from raw SQL rows, converted the way the ORM converts them.

The statements of annotate/sql read their rows with hand-written SQL, where compiling the ORM's
query cost more than running it. What comes back is raw: on SQLite a datetime is text
and a boolean is 0/1, a JSON column is text everywhere. ``instance`` applies the same converters the
ORM's compiler would (the backend's, then the field's), so a row read here is the row
``Model.objects.get`` would give; fields not read are deferred and load on access.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Model


@cache
def _converters(model: type[Model], names: tuple[str, ...], vendor: str) -> list[tuple]:
    """(position, column, converters) for the fields that have any, for one database backend."""
    out = []
    for i, name in enumerate(names):
        col = model._meta.get_field(name).get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if found:
            out.append((i, col, found))
    return out


def instance(model: type[Model], names: Sequence[str], values: Sequence[Any]) -> Model:
    """``model`` with the fields ``names`` (attnames, in the model's field order) set from
    ``values`` as read by raw SQL; the other fields deferred."""
    names = tuple(names)
    converted = list(values)
    for i, col, converters in _converters(model, names, connection.vendor):
        if converted[i] is not None:
            for convert in converters:
                converted[i] = convert(converted[i], col, connection)
    return model.from_db(connection.alias, names, converted)


def value(model: type[Model], name: str, raw: Any) -> Any:
    """One column read by raw SQL (e.g. from RETURNING), converted as the ORM would."""
    if raw is None:
        return None
    for _, col, converters in _converters(model, (name,), connection.vendor):
        for convert in converters:
            raw = convert(raw, col, connection)
    return raw
