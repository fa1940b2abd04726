"""Shared fixtures: personas (admin, researcher, rater, outsider rater, anonymous) and a campaign."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client, override_settings

from annotate.models import User
from tests import factories

pytest_plugins = ["tests.celery_broker"]


@pytest.fixture(autouse=True)
def export_storage(tmp_path):
    """Each test's export files in its own folders: the local exports storage and the work dir.
    (override_settings, not the ``settings`` fixture: a test may name a parameter ``settings``.)"""
    root = tmp_path / "exports"
    storages = {
        **django_settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root, "allow_overwrite": True},
        },
    }
    with override_settings(
        EXPORT_ROOT=root, EXPORT_WORK_DIR=tmp_path / "export-work", STORAGES=storages
    ):
        yield root


@pytest.fixture(autouse=True)
def fresh_prices():
    """The workers' price cache (services/pricing.py) starts empty in each test: on SQLite a later
    test's generator can have an earlier one's id."""
    from annotate.services.pricing import price_cache_clear

    price_cache_clear()
    yield


@pytest.fixture
def campaign(db):
    return factories.CampaignFactory(title="Helpfulness", slug="helpfulness")


@pytest.fixture
def other_campaign(db):
    return factories.CampaignFactory(title="Other", slug="other")


@pytest.fixture
def admin_user(db):
    return factories.UserFactory(username="alice", role=User.Role.ADMIN)


@pytest.fixture
def researcher(db):
    return factories.UserFactory(username="rita", role=User.Role.RESEARCHER)


@pytest.fixture
def rater(campaign):
    user = factories.UserFactory(username="bob", role=User.Role.RATER)
    factories.EnrollmentFactory(campaign=campaign, rater=user)
    return user


@pytest.fixture
def outsider(other_campaign):
    """A rater enrolled in another campaign only."""
    user = factories.UserFactory(username="charlie", role=User.Role.RATER)
    factories.EnrollmentFactory(campaign=other_campaign, rater=user)
    return user


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(admin_user):
    return _client_for(admin_user)


@pytest.fixture
def researcher_client(researcher):
    return _client_for(researcher)


@pytest.fixture
def rater_client(rater):
    return _client_for(rater)


@pytest.fixture
def outsider_client(outsider):
    return _client_for(outsider)


@pytest.fixture
def anon_client():
    return Client()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, one per test session (tests/browser, tests/i18n)."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
