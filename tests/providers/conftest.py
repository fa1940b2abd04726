"""The live_provider tests spend money and need the network: they run only when asked for by
marker (``bin/test -m live_provider``), never as part of an ordinary run, whatever is set."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "live_provider" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="talks to a real API: run with bin/test -m live_provider")
    for item in items:
        if item.get_closest_marker("live_provider"):
            item.add_marker(skip)
