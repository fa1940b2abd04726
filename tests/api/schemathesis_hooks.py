"""Schemathesis hooks for tests/api/test_api_schemathesis.py (loaded by the `st` process, not pytest).

The coverage phase sends every value it knows that breaks a keyword: six wrong JSON types for each
property, for instance. Every one of them meets the same rule in annotate/api/serializers.py, so one
negative case per operation, place and kind of mutation is kept (the first, so the run stays the same
from one time to the next). Positive cases are all kept: each tells whether the schema's promise holds.
"""

from __future__ import annotations

import schemathesis

_seen: set[tuple] = set()


@schemathesis.hook
def filter_case(context, case) -> bool:
    meta = case.meta
    if meta is None or meta.phase.name != "coverage" or meta.generation.mode.is_positive:
        return True
    data = meta.phase.data
    key = (
        case.operation.label,
        data.scenario,
        data.parameter_location,
        data.parameter,
        data.location,
    )
    if key in _seen:
        return False
    _seen.add(key)
    return True
