from __future__ import annotations

import pytest


@pytest.fixture
def hf_offline(monkeypatch, tmp_path):
    """`datasets` without the network: offline flags and a cache inside the test's tmp dir."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    return tmp_path / "hf-cache"
