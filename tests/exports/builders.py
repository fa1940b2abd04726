"""A campaign with votes in the database, for export service, view and API tests."""

from __future__ import annotations

from annotate.models import Campaign, Judgment, User
from tests import factories


def campaign_with_votes(campaign: Campaign, *, raters: int = 3, pairs: int = 4) -> dict:
    """Two generators, one pair per prompt (a system prompt on the first), votes from each rater.

    Votes: pair 0 unanimous for the better generator's answer, pair 1 two-to-one, pair 2 all tie,
    pair 3 all both-bad with a rewrite. Returns the objects for assertions.
    """
    gen_x = factories.GeneratorFactory(campaign=campaign, name="gen-x", model="model-x")
    gen_y = factories.GeneratorFactory(campaign=campaign, name="gen-y", model="model-y")
    users = [
        factories.UserFactory(username=f"rater{i}", role=User.Role.RATER) for i in range(raters)
    ]
    for user in users:
        factories.EnrollmentFactory(campaign=campaign, rater=user)
    plan = [["a"] * raters, ["a", "a", "b"][:raters], ["tie"] * raters, ["both_bad"] * raters]
    made = []
    for i in range(pairs):
        prompt = factories.PromptFactory(
            campaign=campaign,
            messages=[{"role": "user", "content": f"Prompt {i}: explain é and 😀?"}],
            system="Be concise." if i == 0 else "",
        )
        ca = factories.CandidateFactory(prompt=prompt, generator=gen_x, text=f"X answer {i}")
        cb = factories.CandidateFactory(prompt=prompt, generator=gen_y, text=f"Y answer {i}")
        pair = factories.PairFactory(
            campaign=campaign, prompt=prompt, candidate_a=ca, candidate_b=cb
        )
        x_is_a = pair.candidate_a_id == ca.id
        for user, choice in zip(users, plan[i % 4], strict=False):
            canonical = choice
            if choice in ("a", "b") and not x_is_a:
                canonical = "b" if choice == "a" else "a"  # the plan is in x/y terms
            Judgment.objects.create(
                campaign=campaign,
                pair=pair,
                rater=user,
                choice=canonical,
                left_is_a=True,
                time_on_task_ms=1500,
                rewrite=f"Rewrite {i} by {user.username}" if choice == "both_bad" else "",
            )
        made.append(pair)
    return {"generators": (gen_x, gen_y), "raters": users, "pairs": made}


def campaign_with_three_generators(campaign: Campaign, *, prompts: int = 6) -> dict:
    """Three generators, so each prompt has three pairs (x-y, x-z, y-z) and each response sits in
    two of them. The pairs are created round by round (all x-y pairs first), so pair ids do not
    follow prompts. One rater votes x over y over z on every pair, except that y beats x on the
    even prompts."""
    gens = [
        factories.GeneratorFactory(campaign=campaign, name=f"gen-{g}", model=f"model-{g}")
        for g in "xyz"
    ]
    rater = factories.UserFactory(username="rater-three", role=User.Role.RATER)
    factories.EnrollmentFactory(campaign=campaign, rater=rater)
    made = []
    for p in range(prompts):
        prompt = factories.PromptFactory(
            campaign=campaign, messages=[{"role": "user", "content": f"Prompt {p}?"}]
        )
        made.append(
            (
                p,
                {
                    g.name: factories.CandidateFactory(
                        prompt=prompt, generator=g, text=f"{g.name} on {p}"
                    )
                    for g in gens
                },
            )
        )
    pairs = []
    for first, second in (("gen-x", "gen-y"), ("gen-x", "gen-z"), ("gen-y", "gen-z")):
        for p, candidates in made:
            a, b = candidates[first], candidates[second]
            pair = factories.PairFactory(
                campaign=campaign, prompt=a.prompt, candidate_a=a, candidate_b=b
            )
            winner = first
            if p % 2 == 0 and (first, second) == ("gen-x", "gen-y"):
                winner = "gen-y"
            won = (
                pair.candidate_a if pair.candidate_a.generator.name == winner else pair.candidate_b
            )
            Judgment.objects.create(
                campaign=campaign,
                pair=pair,
                rater=rater,
                choice="a" if won.pk == pair.candidate_a_id else "b",
                left_is_a=True,
            )
            pairs.append(pair)
    return {"generators": gens, "pairs": pairs, "rater": rater}
