"""Concurrent pairs_build runs (e.g. two generation jobs finishing at once) respect the cap."""

from __future__ import annotations

import threading

from django.db import connection
from django.db.models import Count

from annotate.models import Campaign, Pair
from annotate.services.pairing import pairs_build
from tests import factories


def test_it_keeps_the_cap_when_builds_race(transactional_db):
    campaign = factories.CampaignFactory(
        status="draft", pairing=Campaign.Pairing.ALL_PAIRS, max_pairs_per_prompt=4
    )
    generators = [factories.GeneratorFactory(campaign=campaign) for _ in range(4)]
    for _ in range(5):
        prompt = factories.PromptFactory(campaign=campaign)
        for g in generators:
            factories.CandidateFactory(prompt=prompt, generator=g)

    created: list[int] = []
    barrier = threading.Barrier(4)

    def build() -> None:
        try:
            barrier.wait()
            created.append(pairs_build(campaign=Campaign.objects.get(pk=campaign.pk)))
        finally:
            connection.close()

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    per_prompt = Pair.objects.filter(campaign=campaign).values("prompt").annotate(n=Count("id"))
    assert sorted(created) == [0, 0, 0, 20]
    assert {row["n"] for row in per_prompt} == {4}
