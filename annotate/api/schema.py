"""OpenAPI: every operation documents its error responses, in one place.

401 (no or bad token) and 403 (a role that may not do this) on every operation; 404 where the path
names something; 400 (the refused fields, each with its messages, or ``detail`` for an unreadable
body) and 413 (a body over the size limit) where the operation reads input. An operation's own
``@extend_schema(responses=...)`` wins for a status it documents itself. No operation is throttled,
so none answers 429.
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse

from annotate.validation import MAX_BODY_BYTES

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


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        if direction != "response":
            return bodies
        errors = {
            "401": OpenApiResponse(ERROR, "No credentials, or a token that is not valid."),
            "403": OpenApiResponse(ERROR, "Your role may not do this (or not in this campaign)."),
        }
        if "{" in self.path:
            errors["404"] = OpenApiResponse(ERROR, "No such object, or not one you may see.")
        if self.method in _WRITES or self._reads_query():
            errors["400"] = OpenApiResponse(VALIDATION_ERROR, "The input was refused.")
        if self.method in _WRITES:
            errors["413"] = OpenApiResponse(
                ERROR, f"The body is larger than {MAX_BODY_BYTES // 1024 // 1024} MB."
            )
            errors["415"] = OpenApiResponse(ERROR, "A content type the operation does not read.")
        for code, response in errors.items():
            if code not in bodies:
                bodies[code] = self._get_response_for_code(response, code, direction=direction)
        return bodies

    def _reads_query(self) -> bool:
        return any(getattr(p, "location", None) == "query" for p in self.get_override_parameters())
