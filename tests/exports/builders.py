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
