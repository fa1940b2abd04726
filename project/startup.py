"""What a web process does once at start, before it serves anyone."""

from __future__ import annotations


def load_urls() -> None:
    """Import the URLconf, and with it every view, API and what they import (pandas, scipy): a
    few seconds that would otherwise fall on each worker's first request. Under gunicorn's
    ``preload_app`` the master does it once, before forking, and the workers share the pages."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (a cached property: reading it imports)
