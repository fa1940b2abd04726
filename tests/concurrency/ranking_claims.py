"""The ranking (and rating) claim's concurrency scenarios on a SQLite file database, in its own process.

Run by test_ranking_concurrency.py with DATABASE_URL=sqlite:///<tmp file>; prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from tests.concurrency.ranking_load import (  # noqa: E402
    claim_sets_once,
    make_ranking_campaign,
    rank_until_done,
    set_invariants,
)


def main() -> None:
    call_command("migrate", verbosity=0)
    report = {}
    campaign, users = make_ranking_campaign(overlap=1, sets=10, raters=16, k=4, tag="sq16")
    report["claim16"] = {**claim_sets_once(campaign, users), **set_invariants(campaign)}
    campaign, users = make_ranking_campaign(overlap=3, sets=15, raters=24, k=4, tag="sqk3")
    report["k3"] = {**rank_until_done(campaign, users), **set_invariants(campaign)}
    campaign, users = make_ranking_campaign(
        overlap=3, sets=15, raters=24, k=3, tag="sqrt3", protocol="rating"
    )
    report["rating_k3"] = {**rank_until_done(campaign, users), **set_invariants(campaign)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
