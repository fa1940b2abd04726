"""Login throttling with django-axes: the client's address, and what a locked-out client is told.

The policy (settings: LOGIN_FAILURE_LIMIT, LOGIN_LOCKOUT_MINUTES): after 5 failed logins for one
username from one client address, that username is locked *from that address* for 15 minutes. Every
attempt during the lock, right or wrong, starts the 15 minutes again; a successful login clears the
count. The same user from another address, and other users from the same address, log in as usual,
so nobody can lock a user out from everywhere by guessing their password. Bad API tokens count the
same way, per address (annotate/api/authentication.py).

The counters are axes' AccessAttempt rows in the database: every gunicorn process and every machine
sees the same ones, on PostgreSQL and SQLite alike. The back office lists them (Axes → Access
attempts; deleting a row unlocks it), and `manage.py axes_reset` clears them all.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str | None:
    """The address a failure is counted against. REMOTE_ADDR, unless TRUSTED_PROXY_COUNT proxies of
    ours stand in front: then the address the outermost of them saw, the TRUSTED_PROXY_COUNT-th entry
    from the right of X-Forwarded-For (entries further left are whatever the client chose to send)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR")


def lockout_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_message() -> str:
    minutes = round(lockout_seconds() / 60)
    return (
        f"Too many failed attempts from your address. Try again in {minutes} minute"
        f"{'' if minutes == 1 else 's'}; each attempt before then starts the wait again."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a page for the login forms, JSON for the API; 429 and Retry-After."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.app_name == "api":
        if original_response is not None and original_response.status_code == 429:
            return original_response  # the API's own Throttled answer (api/authentication.py)
        response = JsonResponse({"detail": lockout_message()}, status=429)
    else:
        username = (credentials or {}).get("username") or request.POST.get("username", "")
        context = {
            "username": username,
            "minutes": round(lockout_seconds() / 60),
            "message": lockout_message(),
        }
        response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(lockout_seconds())
    return response
