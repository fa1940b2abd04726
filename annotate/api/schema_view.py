"""The view that serves the OpenAPI document (annotate/api/schema.py describes its operations)."""

from __future__ import annotations

import threading

from drf_spectacular.views import SpectacularAPIView


class SchemaView(SpectacularAPIView):
    """The OpenAPI document, built one request at a time in a process.

    Schema generation is not thread-safe: each view class's ``schema`` descriptor records the view
    instance it is inspecting, so two threads building the document at once (the threaded dev and
    test servers, an ASGI worker's thread pool) can trip over each other's instance, a 500. A lock
    makes the second request wait for the first; the document is built in about a second.
    """

    _building = threading.Lock()

    def _get_schema_response(self, request):
        with self._building:
            return super()._get_schema_response(request)
