"""Exactly-k under many simultaneous raters, on Postgres (here) and on SQLite (in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.concurrency.rating_load import claim_once, invariants, make_campaign, rate_until_done

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def test_it_hands_each_pair_to_one_rater_when_32_ask_at_once():
    campaign, users = make_campaign(overlap=1, pairs=20, raters=32, tag="pg32")
    result = claim_once(campaign, users)
    assert result["errors"] == []
    assert result["claimed"] == 20  # every pair handed out, none twice
    counts = invariants(campaign)
    assert counts["over_k_leases"] == 0


@pytest.mark.parametrize("overlap", [1, 3])
def test_it_keeps_exactly_k_with_64_raters_voting(overlap):
    campaign, users = make_campaign(overlap=overlap, pairs=40, raters=64, tag=f"pg64k{overlap}")
    result = rate_until_done(campaign, users)
    assert result["errors"] == []
    counts = invariants(campaign)
    assert counts["over_k_leases"] == 0
    assert counts["over_k_votes"] == 0
    assert counts["rater_twice"] == 0
    assert counts["counter_mismatch"] == 0
    assert counts["incomplete"] == 0
    assert counts["votes"] == 40 * overlap
    assert result["concurrent_votes"] >= 0.8 * counts["votes"]  # the race really was run


@pytest.mark.slow
def test_it_keeps_exactly_k_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'claims.sqlite3'}",
        "DATA_DIR": str(tmp_path),
        "SQLITE_NO_PERSIST": "1",
    }
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("sqlite_claims.py"))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["claim32"]["errors"] == [] and report["claim32"]["claimed"] == 20
    assert report["claim32"]["over_k_leases"] == 0
    for k in ("1", "3"):
        run = report[f"k{k}"]
        assert run["errors"] == []
        assert run["over_k_leases"] == run["over_k_votes"] == run["rater_twice"] == 0
        assert run["counter_mismatch"] == run["incomplete"] == 0
        assert run["votes"] == 40 * int(k)
        assert run["concurrent_votes"] >= 0.8 * run["votes"]
