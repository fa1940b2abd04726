"""The project's routes plus /bench/live/<channel>/: one database query (as an access check
would make), then the relay's Server-Sent Events for the channel."""

from __future__ import annotations

from django.db import connection
from django.urls import include, path

from annotate.live import relay


def live_stream(request, channel: str):
    with connection.cursor() as cursor:  # the access check's round trip, through the pool
        cursor.execute("SELECT 1")
    return relay.sse_response(request, channel)


urlpatterns = [path("bench/live/<str:channel>/", live_stream), path("", include("project.urls"))]
