"""The concurrency scenarios on a SQLite file database (the embedded default), in its own process.

Run by test_rate_concurrency.py with DATABASE_URL=sqlite:///<tmp file>; prints one JSON line.
A file database because in-memory SQLite databases are per connection.
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

from tests.concurrency.rating_load import (  # noqa: E402
    claim_once,
    invariants,
    make_campaign,
    rate_until_done,
)


def main() -> None:
    call_command("migrate", verbosity=0)
    report = {}
    campaign, users = make_campaign(overlap=1, pairs=20, raters=32, tag="sq32")
    report["claim32"] = {**claim_once(campaign, users), **invariants(campaign)}
    for k in (1, 3):
        campaign, users = make_campaign(overlap=k, pairs=40, raters=64, tag=f"sq64k{k}")
        report[f"k{k}"] = {**rate_until_done(campaign, users), **invariants(campaign)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
