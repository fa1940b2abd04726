"""Every response carries the site's security headers: the Content-Security-Policy of SECURE_CSP and
SecurityMiddleware's nosniff, Referrer-Policy, Cross-Origin-Opener-Policy, and X-Frame-Options.
Checked on every URL pattern of the app and the API (as each persona), the back office and errors."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from tests import factories

CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _routes(patterns=None, prefix: str = "") -> list[str]:
    """Every route-style URL of the project as a concrete path (the back office's regex URLs are
    checked separately)."""
    out = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if not isinstance(entry.pattern, RoutePattern):
            continue
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            out += _routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            out.append("/" + CONVERTER.sub(_sample, route))
    return out


def _sample(match: re.Match) -> str:
    converter, name = match.groups()
    if converter == "int" or name in {"pk", "id"}:
        return "1"
    return "helpfulness"


def _assert_headers(response, url: str) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "img-src 'self' data:",
        "form-action 'self'",
    ):
        assert directive in csp, (url, response.status_code, csp)
    assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff", url
    assert response.headers.get("Referrer-Policy") == "same-origin", url
    assert response.headers.get("Cross-Origin-Opener-Policy") == "same-origin", url
    assert response.headers.get("X-Frame-Options") == "DENY", url


def test_the_walk_sees_the_pages_that_matter():
    routes = _routes()
    for path in ("/login/", "/", "/campaigns/helpfulness/rate/", "/api/campaigns/", "/api/docs/"):
        assert path in routes
    assert len(routes) > 40


@pytest.mark.parametrize(
    "persona", ["admin_client", "researcher_client", "rater_client", "anon_client"]
)
def test_every_url_sends_the_security_headers(persona, request, campaign):
    client = request.getfixturevalue(persona)
    factories.PairFactory(campaign=campaign)
    for url in _routes():
        _assert_headers(client.get(url), url)


def test_the_back_office_and_error_pages_send_them(db, client):
    root = factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    for url in (
        "/backoffice/",
        "/backoffice/annotate/user/",
        f"/backoffice/annotate/user/{root.pk}/change/",
        "/backoffice/axes/accessattempt/",
        "/no/such/page/",
        "/static/annotate/app.css",
    ):
        _assert_headers(client.get(url), url)
