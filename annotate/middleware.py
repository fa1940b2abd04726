"""Request-wide input rules: a NUL in any query or form field is refused before a view runs, and
an API path that matches no route is a JSON 404 like every other API error. And under ASGI, files
(static files, export downloads) stream without being read whole into memory
(AsyncFileStreamsMiddleware).

PostgreSQL cannot store (or even compare against) a NUL character, so a NUL reaching any lookup —
a slug in ``?campaign=``, the back office's search box, a form field a view reads by hand — would be a
500 there while SQLite carries on. Views and forms name fields better (annotate/validation.py); this
is the floor under all of them, on both backends. The API answers JSON, pages plain text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.multipartparser import MultiPartParserError
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation

from annotate.validation import text_problem


def _field_problem(request: HttpRequest) -> str | None:
    fields = [("query parameter", request.GET)]
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        try:
            fields.append(("field", request.POST))
        except (SuspiciousOperation, MultiPartParserError) as exc:
            # Too many fields, a form body over DATA_UPLOAD_MAX_MEMORY_SIZE, a broken multipart.
            return f"The form could not be read: {exc}"
    for kind, data in fields:
        for key, values in data.lists():
            for text in (key, *values):
                problem = text_problem(text)
                if problem:
                    return f"The {kind} {key[:60]!r} {problem}."
    return None


class InputRulesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = request.path.startswith("/api/")
        problem = _field_problem(request)
        if problem:
            if api:
                return JsonResponse({"detail": problem}, status=400)
            return HttpResponseBadRequest(problem, content_type="text/plain; charset=utf-8")
        response = self.get_response(request)
        if api and response.status_code == 404 and "json" not in response.get("Content-Type", ""):
            # A path no API route matches: the same JSON error as every other API 404.
            return JsonResponse({"detail": "Not found."}, status=404)
        return response


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Django's, for the pages (the switcher's cookie, else the browser's Accept-Language); the API
    always answers in English, whatever the client's Accept-Language, so its error bodies stay one
    stable text for scripts to read (README, "Languages")."""

    def process_request(self, request: HttpRequest) -> None:
        if request.path_info.startswith("/api/"):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
            return
        super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if request.path_info.startswith("/api/"):
            return response
        return super().process_response(request, response)


_DRAIN_BYTES = 256 * 1024


async def _in_threads(content: Iterable[bytes]) -> AsyncIterator[bytes]:
    """A sync stream read in a worker thread, 256 KiB per hop, given to the event loop."""
    chunks = iter(content)

    def take() -> list[bytes]:
        batch, size = [], 0
        for chunk in chunks:
            batch.append(chunk)
            size += len(chunk)
            if size >= _DRAIN_BYTES:
                break
        return batch

    while batch := await sync_to_async(take, thread_sensitive=False)():
        for chunk in batch:
            yield chunk


class AsyncFileStreamsMiddleware:
    """Under ASGI Django serves a streaming response with a sync iterator (FileResponse: whitenoise's
    static files, export downloads) by reading it to the end into a list first, with a warning: a
    gigabyte export would sit in the web process's memory. This hands such a stream to the event
    loop as an async iterator that reads it in a thread, piece by piece. First in MIDDLEWARE, to
    see whitenoise's responses too; under WSGI it does nothing."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            isinstance(request, ASGIRequest)
            and isinstance(response, StreamingHttpResponse)
            and not response.is_async
        ):
            response.streaming_content = _in_threads(response.streaming_content)
        return response
