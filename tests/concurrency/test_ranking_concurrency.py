"""Exactly-k for ranking sets and rating units under many simultaneous raters, on PostgreSQL and
on SQLite; one vote per lease under simultaneous submits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.concurrency.ranking_load import (
    claim_sets_once,
    make_ranking_campaign,
    rank_until_done,
    set_invariants,
    vote_model,
    vote_once,
)

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def test_it_hands_each_set_to_one_rater_when_32_ask_at_once():
    campaign, users = make_ranking_campaign(overlap=1, sets=12, raters=32, k=4, tag="pg32")
    result = claim_sets_once(campaign, users)
    assert result["errors"] == []
    assert result["claimed"] == 12
    assert set_invariants(campaign)["over_k_leases"] == 0


@pytest.mark.parametrize("overlap, k", [(1, 4), (3, 3), (4, 9)])
def test_it_keeps_exactly_k_and_balanced_positions_with_48_raters(overlap, k):
    campaign, users = make_ranking_campaign(
        overlap=overlap, sets=20, raters=48, k=k, tag=f"pg48k{overlap}K{k}"
    )
    result = rank_until_done(campaign, users)
    assert result["errors"] == []
    counts = set_invariants(campaign)
    assert counts["over_k_leases"] == counts["over_k_votes"] == counts["rater_twice"] == 0
    assert counts["counter_mismatch"] == counts["incomplete"] == 0
    assert counts["unbalanced"] == 0
    assert counts["votes"] == 20 * overlap
    assert result["concurrent_votes"] >= 0.8 * counts["votes"]


@pytest.mark.slow
def test_it_keeps_exactly_k_for_sets_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'sets.sqlite3'}",
        "DATA_DIR": str(tmp_path),
        "SQLITE_NO_PERSIST": "1",
    }
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("ranking_claims.py"))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["claim16"]["errors"] == [] and report["claim16"]["claimed"] == 10
    assert report["claim16"]["over_k_leases"] == 0
    run = report["k3"]
    assert run["errors"] == []
    assert run["over_k_leases"] == run["over_k_votes"] == run["rater_twice"] == 0
    assert run["counter_mismatch"] == run["incomplete"] == run["unbalanced"] == 0
    assert run["votes"] == 45
    run = report["rating_k3"]
    assert run["errors"] == []
    assert run["over_k_leases"] == run["over_k_votes"] == run["rater_twice"] == 0
    assert run["counter_mismatch"] == run["incomplete"] == run["unbalanced"] == 0
    assert run["votes"] == 45


@pytest.mark.parametrize("overlap, k", [(1, 1), (3, 4)])
def test_it_keeps_exactly_k_for_rating_units_with_32_raters(overlap, k):
    campaign, users = make_ranking_campaign(
        overlap=overlap, sets=16, raters=32, k=k, tag=f"pg32r{overlap}K{k}", protocol="rating"
    )
    result = rank_until_done(campaign, users)
    assert result["errors"] == []
    counts = set_invariants(campaign)
    assert counts["over_k_leases"] == counts["over_k_votes"] == counts["rater_twice"] == 0
    assert counts["counter_mismatch"] == counts["incomplete"] == counts["unbalanced"] == 0
    assert counts["votes"] == 16 * overlap


@pytest.mark.parametrize("protocol", ["ranking", "rating"])
def test_two_submits_of_one_lease_at_once_store_one_vote(protocol):
    import threading

    from django.db import connection

    from annotate.models import Campaign
    from annotate.services.sets import set_assignment_next

    campaign, (user,) = make_ranking_campaign(
        overlap=1, sets=1, raters=1, k=4, tag=f"twin{protocol}", protocol=protocol
    )
    lease = set_assignment_next(campaign=campaign, rater=user)
    barrier, results, errors = threading.Barrier(4), [], []

    def submit():
        try:
            barrier.wait(timeout=30)
            fresh = Campaign.objects.get(pk=campaign.pk)
            vote = vote_once(campaign=fresh, lease=lease.pk, user=user, k=4)
            results.append((vote.pk, vote.replayed))
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert vote_model(campaign).objects.filter(campaign=campaign).count() == 1
    assert len({pk for pk, _ in results}) == 1 and sum(not r for _, r in results) == 1
    if protocol == "rating":
        from annotate.models import RatingScore

        assert RatingScore.objects.filter(vote__campaign=campaign).count() == 4
