"""The demo's arithmetic campaign: a new user sees accuracy against N for majority vote, the judge
and the verifier, with costs, without a key or a worker."""

from __future__ import annotations

from annotate.management.commands.seed_demo import TTC_SAMPLES, _ttc_create
from annotate.models import BestOfNChoice, Candidate, CandidateReview, JudgeVerdict
from annotate.selectors.ttc import ttc_curves
from tests import factories


def test_it_ships_an_arithmetic_campaign_whose_curves_need_no_key(db):
    admin = factories.UserFactory(username="admin", role="admin")
    campaign, samples = _ttc_create(admin=admin)
    prompts = campaign.prompts.count()
    assert samples == prompts * TTC_SAMPLES and prompts >= 16
    assert all(p.metadata.get("reference_answer") is not None for p in campaign.prompts.all())
    sample = Candidate.objects.filter(prompt__campaign=campaign).first()
    assert sample.reasoning and "Answer:" in sample.text and sample.final_answer
    assert sample.cost_usd > 0 and 0 < sample.reasoning_cost_usd < sample.cost_usd
    # Every pair judged, every sample scored, choices stored by every automatic method.
    assert JudgeVerdict.objects.filter(campaign=campaign, status="done").count() == prompts * 28
    assert CandidateReview.objects.filter(campaign=campaign, status="done").count() == samples
    methods = set(BestOfNChoice.objects.filter(campaign=campaign).values_list("method", flat=True))
    assert methods == {"majority", "judge", "verifier"}

    [entry] = ttc_curves(campaign=campaign, n_boot=200)
    curves = entry["curves"]
    assert set(curves) == {"majority", "judge", "verifier", "pass_at_n"}
    majority = curves["majority"]
    assert [p.n for p in majority] == [1, 2, 4, 8]
    # The answers vary in correctness: more samples buy accuracy, up to the pass@N ceiling.
    assert majority[-1].accuracy > majority[0].accuracy
    assert curves["pass_at_n"][-1].accuracy >= max(c[-1].accuracy for c in curves.values())
    assert all(p.low <= p.accuracy <= p.high for c in curves.values() for p in c)
    assert curves["judge"][-1].cost_per_prompt > majority[-1].cost_per_prompt > 0
