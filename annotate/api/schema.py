"""OpenAPI: every operation documents its error responses and its input rules, in one place.

401 (no or bad token), 403 (a role that may not do this) and 400 (the refused fields, each with its
messages, or ``detail`` for an unreadable body) on every operation; 404 where the path names
something; 409 (the campaign's state refuses it), 413 (a body over the size limit) and 415 on
writes; 429 with Retry-After on every operation that reads API tokens, once an address has sent too
many bad ones (annotate/api/authentication.py). An operation's own ``@extend_schema(responses=...)``
wins for a status it documents itself. Request bodies are closed (``additionalProperties: false``:
unknown keys are refused) and text fields carry the pattern annotate/validation.py enforces.
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from annotate.api.authentication import ThrottledTokenAuthentication
from annotate.api.serializers import OpenRangeFloatField, StrictInputMixin
from annotate.validation import MAX_BODY_BYTES, validate_aspects, validate_one_line

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERROR = {
    "type": "object",
    "description": (
        "Each refused field with a list of messages (`non_field_errors` for the request as a "
        "whole; nested objects for fields inside a field), or `detail` when the body itself could "
        "not be read (malformed JSON, NUL characters, nesting deeper than 32 levels, a key twice)."
    ),
    "properties": {
        "detail": {"type": "string"},
        "non_field_errors": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": {},
    "example": {"lease_seconds": ["Ensure this value is greater than or equal to 30."]},
}

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 1},
        "required": True,
        "description": "Seconds until this address may send a token again.",
    }
}
# What DRF makes of ``allow_blank`` beside a pattern or a format: "this, or the empty string".
_BLANK = {"type": "string", "maxLength": 0}


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        if direction != "response":
            return bodies
        errors = {
            "401": OpenApiResponse(ERROR, "No credentials, or a token that is not valid."),
            "403": OpenApiResponse(ERROR, "Your role may not do this (or not in this campaign)."),
            # Any request can be refused: a NUL in a query parameter is a 400 everywhere.
            "400": OpenApiResponse(VALIDATION_ERROR, "The input was refused."),
        }
        if "{" in self.path:
            errors["404"] = OpenApiResponse(ERROR, "No such object, or not one you may see.")
        if self.method in _WRITES:
            errors["409"] = OpenApiResponse(
                ERROR, "Well-formed, but the campaign's state refuses it (a name taken, no pairs)."
            )
            errors["413"] = OpenApiResponse(
                ERROR, f"The body is larger than {MAX_BODY_BYTES // 1024 // 1024} MB."
            )
            errors["415"] = OpenApiResponse(ERROR, "A content type the operation does not read.")
        if self._reads_tokens():
            errors["429"] = OpenApiResponse(
                ERROR,
                "Too many bad API tokens from your address: every token request from it is "
                "refused, a valid one too, until Retry-After has passed.",
            )
        for code, response in errors.items():
            if code not in bodies:
                bodies[code] = self._get_response_for_code(response, code, direction=direction)
        return bodies

    def _reads_tokens(self) -> bool:
        return any(
            isinstance(a, ThrottledTokenAuthentication) for a in self.view.get_authenticators()
        )

    def _get_response_headers_for_code(self, status_code, direction="response"):
        headers = super()._get_response_headers_for_code(status_code, direction)
        if str(status_code) == "429" and self._reads_tokens():
            headers = {**_RETRY_AFTER, **headers}
        return headers

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        for name, prop in schema.get("properties", {}).items():
            if prop.get("oneOf", [None])[-1] == _BLANK:
                # drf-spectacular's "this or blank" as oneOf: a pattern that allows "" matches both.
                prop["anyOf"] = prop.pop("oneOf")
            field = serializer.fields.get(name) if hasattr(serializer, "fields") else None
            if isinstance(field, OpenRangeFloatField):  # once the validators set the bounds
                if field.low_open:
                    prop["exclusiveMinimum"] = True
                if field.high_open:
                    prop["exclusiveMaximum"] = True
        if direction == "request" and isinstance(serializer, StrictInputMixin):
            schema["additionalProperties"] = False  # unknown keys are refused
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(field, serializers.FileField):
            # An upload, not the URL a stored file is read back from (drf-spectacular's default
            # when requests and responses share components).
            schema["format"] = "binary"
        if direction == "request" and type(field) is serializers.CharField:
            schema.setdefault("pattern", _text_pattern(field))
        if direction == "request" and validate_aspects in getattr(field, "validators", []):
            schema["uniqueItems"] = True
        return schema


def _text_pattern(field: serializers.CharField) -> str:
    """What annotate.validation and DRF accept in a text field: see ``text_pattern``; blank when
    allowed, or when DRF does not trim (then white space alone is text)."""
    return text_pattern(
        one_line=validate_one_line in field.validators,
        blank=field.allow_blank or not field.trim_whitespace,
    )


def text_pattern(*, one_line: bool = False, blank: bool = False) -> str:
    """annotate.validation's text rules as a pattern: no NUL (no control character in one-line
    text), and something besides white space unless ``blank``."""
    allowed = r"[^\x00-\x1f\x7f]" if one_line else r"[^\x00]"
    if blank:
        return f"^{allowed}*$"
    solid = r"[^\s\x00-\x1f\x7f]" if one_line else r"[^\s\x00]"
    return f"^{allowed}*{solid}{allowed}*$"
