"""The base of every input serializer of the API: unknown keys are refused, JSON types are strict.

A key the operation does not read (``tie_policy`` beside ``filters`` instead of inside it) is a 400
naming it, never silently ignored. In a JSON body a number must be a number and text must be text
(``"3"`` is not an integer, ``1`` is not a boolean); form and multipart bodies are all text, so their
values are converted as DRF does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import QueryDict
from rest_framework import serializers

# Field class -> the JSON types it accepts, and how to say so. Checked in this order (subclasses first).
_JSON_TYPES: list[tuple[type, tuple[type, ...], str]] = [
    (serializers.BooleanField, (bool,), "true or false"),
    (serializers.IntegerField, (int,), "an integer"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.DecimalField, (int, float), "a number"),
    (serializers.MultipleChoiceField, (list,), "a list"),
    (serializers.ChoiceField, (str,), "text"),
    (serializers.CharField, (str,), "text"),
    (serializers.ListField, (list,), "a list"),
    (serializers.DictField, (dict,), "an object"),
]
# Sent by HTML forms (the browsable API), never an input of an operation.
_FORM_NOISE = {"csrfmiddlewaretoken"}


def _type_problem(field: serializers.Field, value: Any) -> str | None:
    if value is None:
        return None  # allow_null decides
    for cls, types, expected in _JSON_TYPES:
        if isinstance(field, cls):
            ok = isinstance(value, types) and not (bool not in types and isinstance(value, bool))
            if not ok:
                return f"Expected {expected}, got {_json_type(value)}."
            break
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        for index, item in enumerate(value):
            problem = _type_problem(field.child, item)
            if problem:
                return f"Item {index + 1}: {problem}"
    return None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class StrictInputMixin:
    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            noise = _FORM_NOISE if isinstance(data, QueryDict) else set()
            unknown = sorted(set(data) - writable - noise)
            errors: dict[str, list[str]] = {
                key: [
                    f"Unknown field; this operation reads: {', '.join(sorted(writable)) or 'nothing'}."
                ]
                for key in unknown
            }
            if not isinstance(data, QueryDict):
                for name in sorted(writable & set(data)):
                    problem = _type_problem(self.fields[name], data[name])
                    if problem:
                        errors[name] = [problem]
            if errors:
                # Report the fields' own errors too, so one answer lists everything to fix.
                try:
                    super().to_internal_value(data)
                except serializers.ValidationError as exc:
                    if isinstance(exc.detail, dict):
                        errors = {**exc.detail, **errors}
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class InputSerializer(StrictInputMixin, serializers.Serializer):
    """Base of input serializers."""


class InputModelSerializer(StrictInputMixin, serializers.ModelSerializer):
    """Base of input serializers built from a model (its validators come along)."""


class NoInputSerializer(InputSerializer):
    """For operations that read no body: any key is unknown."""


class OpenRangeFloatField(serializers.FloatField):
    """A number whose lower or upper bound may itself be excluded (``min_value=0.5,
    low_open=True``: above 0.5); the schema says so with exclusiveMinimum/exclusiveMaximum."""

    def __init__(self, *, low_open: bool = False, high_open: bool = False, **kwargs):
        self.low_open, self.high_open = low_open, high_open
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if (self.low_open and value == self.min_value) or (
            self.high_open and value == self.max_value
        ):
            low = f"above {self.min_value}" if self.low_open else f"at least {self.min_value}"
            high = f"below {self.max_value}" if self.high_open else f"at most {self.max_value}"
            raise serializers.ValidationError(f"Give a number {low} and {high}.")
        return value
