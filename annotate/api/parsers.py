"""The API's JSON parser: the body under annotate.validation's rules, read within a size limit.

DRF's own parser lets a deeply nested body raise RecursionError (a 500), stores NUL characters that
PostgreSQL then refuses (another 500), keeps the last of two equal keys and reads bodies of any size.
This one refuses each with a 400 that says what and where, and a body over the limit with a 413.

It is not a subclass of DRF's JSONParser: DRF hands those ``request.body``, which Django refuses past
DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) with an HTML 400, so rows sent as JSON would stop far below the
limit. This one gets the request stream and reads it up to MAX_BODY_BYTES itself.
"""

from __future__ import annotations

from rest_framework import parsers, renderers, status
from rest_framework.exceptions import APIException, ParseError

from annotate.validation import MAX_BODY_BYTES, JsonInputError, json_loads


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"The request body is larger than {MAX_BODY_BYTES // 1024 // 1024} MB."
    default_code = "too_large"


class JSONParser(parsers.BaseParser):
    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        meta = request.META if request is not None else {}
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        raw = stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        try:
            text = raw.decode("utf-8-sig")  # JSON is UTF-8 (RFC 8259), whatever charset is claimed
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise ParseError(f"The body is not UTF-8 text (line {line}).") from None
        try:
            return json_loads(text)
        except JsonInputError as exc:
            raise ParseError(f"JSON body refused: {exc}.") from None
