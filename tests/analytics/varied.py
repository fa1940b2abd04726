"""A campaign with every kind of vote the dashboard reads, seeded: k votes per pair from a pool of
raters on a graded scale, ties, both-bad, revisions, gold pairs, both sides shown, texts of
different lengths (one pair of equal length), three generators (one pair of a generator with
itself), and a judge verdict on most pairs (some inconsistent)."""

from __future__ import annotations

import random

from annotate.models import Judgment, User
from tests import factories
from tests.fakes.judge_fixtures import verdict


def varied_campaign(campaign, *, pairs: int = 40, raters: int = 6, seed: int = 7) -> dict:
    rng = random.Random(seed)
    gens = [
        factories.GeneratorFactory(campaign=campaign, name=f"gen-{g}", model=f"model-{g}")
        for g in "xyz"
    ]
    users = [
        factories.UserFactory(username=f"varied{i}", role=User.Role.RATER) for i in range(raters)
    ]
    made = []
    for i in range(pairs):
        prompt = factories.PromptFactory(campaign=campaign)
        g_a, g_b = (gens[0], gens[0]) if i == 0 else rng.sample(gens, 2)
        same = i == 1  # equal reading lengths: no length information
        a = factories.CandidateFactory(
            prompt=prompt, generator=g_a, text="word " * (5 if same else rng.randint(1, 60))
        )
        b = factories.CandidateFactory(
            prompt=prompt,
            generator=g_b,
            sample_index=1 if g_a == g_b else 0,
            text="word " * (5 if same else rng.randint(1, 60)),
        )
        gold = rng.choice(["", "", "", "a", "b"])
        pair = factories.PairFactory(
            campaign=campaign, prompt=prompt, candidate_a=a, candidate_b=b, gold_answer=gold
        )
        made.append(pair)
        lean = rng.choice(["a", "b", "a"])
        for user in rng.sample(users, rng.randint(1, 4)):
            choice = rng.choices([lean, "a", "b", "tie", "both_bad"], [4, 1, 1, 1, 1])[0]
            first = Judgment.objects.create(
                campaign=campaign,
                pair=pair,
                rater=user,
                choice=choice,
                strength=rng.randint(1, 3) if choice in ("a", "b") else 0,
                left_is_a=rng.random() < 0.5,
                time_on_task_ms=rng.choice([None, rng.randint(800, 30_000), 1500]),
                judge_shown=rng.random() < 0.2,
            )
            if rng.random() < 0.15:
                Judgment.objects.create(
                    campaign=campaign,
                    pair=pair,
                    rater=user,
                    choice=rng.choice(["a", "b", "tie"]),
                    strength=rng.randint(1, 3),
                    left_is_a=first.left_is_a,
                    time_on_task_ms=rng.randint(500, 5000),
                    judge_shown=True,
                    revises=first,
                )
        if i % 5:
            verdict(pair, rng.choice(["a", "b", "tie"]), consistent=rng.random() < 0.8)
    return {"generators": gens, "raters": users, "pairs": made}
