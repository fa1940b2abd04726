"""Token authentication whose bad tokens are throttled per client address.

django-axes counts failed *logins*; a bad `Authorization: Token …` header never reaches
`authenticate()`, so this class reports it to axes itself, as a failed login of one pseudo-user per
address. After LOGIN_FAILURE_LIMIT bad tokens from one address, every token request from there gets
429 with Retry-After for LOGIN_LOCKOUT_MINUTES, a valid token included: answering a valid token
normally during the lock would let guessing go on at full speed. Other addresses are unaffected.
"""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth.signals import user_login_failed
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled

from annotate.lockout import lockout_seconds

# Not a possible username (Django allows letters, digits and @.+-_), so no user shares its counter.
TOKEN_PSEUDO_USER = "<api token>"


class ThrottledTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        django_request = request._request
        credentials = {"username": TOKEN_PSEUDO_USER}
        if AxesProxyHandler.is_locked(django_request, credentials):
            self._count_failure(django_request, credentials)
            raise self._throttled()
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            self._count_failure(django_request, credentials)
            if getattr(django_request, "axes_locked_out", False):
                raise self._throttled() from None
            raise

    @staticmethod
    def _count_failure(django_request, credentials: dict) -> None:
        user_login_failed.send(sender=__name__, credentials=credentials, request=django_request)

    @staticmethod
    def _throttled() -> Throttled:
        return Throttled(
            wait=lockout_seconds(),
            detail="Too many bad API tokens from your address.",
        )
