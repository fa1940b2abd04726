"""Fixtures around the fake provider server. Import them by their function names, e.g.
``from tests.fakes.fixtures import fake_server_fixture  # noqa: F401``; they register under the
short names (``fake_server``, ``anthropic_fake``) that tests take as arguments."""

from __future__ import annotations

import pytest

from tests.fakes.provider_server import FakeProviderServer


@pytest.fixture(name="fake_server")
def fake_server_fixture():
    server = FakeProviderServer(slow_seconds=1.5).start()
    yield server
    server.stop()


@pytest.fixture(name="anthropic_fake")
def anthropic_fake_fixture(fake_server, settings, monkeypatch):
    """The real Anthropic SDK pointed at the fake server, with a key in the environment."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-real-key")
    settings.ANTHROPIC_BASE_URL = fake_server.url
    settings.PROVIDER_TIMEOUT_SECONDS = 1.0
    return fake_server
