"""No secret reaches an error page or the log: with DEBUG off (production) a failing view shows a
plain page and logs its traceback without the secret key or a provider key."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.test import Client

API_KEY = "sk-ant-api03-from-the-environment"


@pytest.mark.urls("tests.project.error_urls")
def test_a_failing_view_shows_and_logs_no_secret(db, monkeypatch, caplog):
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    assert settings.DEBUG is False
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Traceback" not in page and "the view failed" not in page
    logged = "\n".join(
        logging.Formatter(settings.LOGGING["formatters"]["plain"]["format"]).format(r)
        for r in caplog.records
    )
    assert "the view failed" in logged  # the traceback is logged...
    for secret in (settings.SECRET_KEY, API_KEY, "sk-ant-in-a-local-variable"):
        assert secret not in page
        assert secret not in logged  # ...without any secret in it
