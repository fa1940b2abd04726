"""A bare SSE endpoint over the relay, for the transport's tests (the live pages mount their own,
behind their access checks)."""

from __future__ import annotations

from django.urls import path

from annotate.live import relay


def stream(request, channel: str):
    return relay.sse_response(request, channel, heartbeat=1)


urlpatterns = [path("sse/<str:channel>/", stream)]
