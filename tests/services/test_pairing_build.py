"""pairs_build: every strategy, the cap, idempotence, self-identification and duplicates."""

from __future__ import annotations

import pytest

from annotate.models import Campaign, Candidate, Pair
from annotate.services.pairing import pairs_build, pairs_build_report
from tests import factories

S = Campaign.Pairing


@pytest.fixture
def draft(db):
    return factories.CampaignFactory(status="draft", max_pairs_per_prompt=6, overlap=2)


def _grid(campaign, *, prompts=1, generators=2, samples=1, text=None):
    """prompts × generators × samples DONE candidates with distinct texts."""
    gens = [factories.GeneratorFactory(campaign=campaign) for _ in range(generators)]
    made = []
    for p in range(prompts):
        prompt = factories.PromptFactory(campaign=campaign)
        for g in gens:
            for s in range(samples):
                made.append(
                    factories.CandidateFactory(
                        prompt=prompt,
                        generator=g,
                        sample_index=s,
                        text=text or f"answer p{p} {g.name} s{s}",
                    )
                )
    return gens, made


def _pairs(campaign):
    return list(Pair.objects.filter(campaign=campaign).select_related("candidate_a", "candidate_b"))


def test_it_pairs_generators_against_each_other(draft):
    gens, _ = _grid(draft, prompts=2, generators=3)
    assert pairs_build(campaign=draft) == 6  # 3 generator pairs × 2 prompts
    for pair in _pairs(draft):
        assert pair.candidate_a.generator_id != pair.candidate_b.generator_id
        assert pair.candidate_a.prompt_id == pair.candidate_b.prompt_id == pair.prompt_id
        assert pair.candidate_a_id < pair.candidate_b_id
        assert pair.strategy == S.CROSS_GENERATOR and pair.needed == 2


def test_it_pairs_cross_generator_samples_rank_by_rank(draft):
    _grid(draft, generators=2, samples=3)
    pairs_build(campaign=draft)
    pairs = _pairs(draft)
    assert len(pairs) == 3
    assert {(p.candidate_a.sample_index, p.candidate_b.sample_index) for p in pairs} == {
        (0, 0),
        (1, 1),
        (2, 2),
    }


def test_it_pairs_samples_within_a_generator_only(draft):
    draft.pairing = S.WITHIN_GENERATOR
    draft.save()
    _grid(draft, generators=2, samples=3)
    pairs_build(campaign=draft)
    pairs = _pairs(draft)
    assert len(pairs) == 6  # C(3,2) per generator
    assert all(p.candidate_a.generator_id == p.candidate_b.generator_id for p in pairs)


def test_it_pairs_everything_up_to_the_cap(draft):
    draft.pairing, draft.max_pairs_per_prompt = S.ALL_PAIRS, 4
    draft.save()
    _grid(draft, prompts=2, generators=2, samples=2)  # 4 candidates: 6 possible pairs per prompt
    assert pairs_build(campaign=draft) == 8
    draft.max_pairs_per_prompt = 0  # no cap
    draft.save()
    assert pairs_build(campaign=draft) == 4  # the remaining 2 per prompt


def test_it_picks_a_stable_random_subset(draft):
    draft.pairing, draft.max_pairs_per_prompt = S.RANDOM, 3
    draft.save()
    _grid(draft, generators=3, samples=2)  # 6 candidates: 15 possible pairs
    assert pairs_build(campaign=draft) == 3
    assert pairs_build(campaign=draft) == 0  # the cap counts what exists
    assert all(p.strategy == S.RANDOM for p in _pairs(draft))


def test_it_falls_back_to_all_pairs_without_judge_rankings(draft):
    draft.pairing = S.JUDGE_RANKED
    draft.save()
    _grid(draft, generators=1, samples=3)
    report = pairs_build_report(campaign=draft)
    assert report.created == 3 and report.strategy == S.ALL_PAIRS
    assert "No judge rankings" in report.notes[0]


def test_it_pairs_judge_best_against_worst_when_rankings_exist(draft, monkeypatch):
    from annotate.services import pairing

    draft.pairing = S.JUDGE_RANKED
    draft.save()
    _, cands = _grid(draft, generators=1, samples=4)
    ranking = [cands[2].id, cands[0].id, cands[3].id, cands[1].id]
    monkeypatch.setattr(
        pairing, "judge_rankings", lambda *, campaign: {cands[0].prompt_id: ranking}
    )
    assert pairs_build(campaign=draft) == 2
    got = {(p.candidate_a_id, p.candidate_b_id) for p in _pairs(draft)}
    assert got == {
        tuple(sorted((cands[2].id, cands[1].id))),
        tuple(sorted((cands[0].id, cands[3].id))),
    }
    assert all(p.strategy == S.JUDGE_RANKED for p in _pairs(draft))


def test_it_is_idempotent(draft):
    _grid(draft, prompts=3, generators=2)
    assert pairs_build(campaign=draft) == 3
    assert pairs_build(campaign=draft) == 0
    assert Pair.objects.filter(campaign=draft).count() == 3


def test_it_adds_pairs_for_candidates_that_arrive_later(draft):
    gens, _ = _grid(draft, generators=2)
    pairs_build(campaign=draft)
    third = factories.GeneratorFactory(campaign=draft)
    factories.CandidateFactory(prompt=draft.prompts.get(), generator=third, text="late answer")
    assert pairs_build(campaign=draft) == 2


def test_it_uses_only_done_candidates(draft):
    gens, cands = _grid(draft, generators=3)
    Candidate.objects.filter(pk=cands[2].pk).update(status=Candidate.Status.FAILED)
    assert pairs_build(campaign=draft) == 1


def test_it_hides_self_identifying_candidates(draft):
    gens, cands = _grid(draft, generators=3)
    Candidate.objects.filter(pk=cands[0].pk).update(text="As an AI model developed by OpenAI, no.")
    report = pairs_build_report(campaign=draft)
    assert report.flagged == 1 and report.created == 1
    cands[0].refresh_from_db()
    assert cands[0].self_identifies
    assert not Pair.objects.filter(candidate_a=cands[0]).exists()
    assert not Pair.objects.filter(candidate_b=cands[0]).exists()


def test_it_pairs_flagged_candidates_under_show_flagged(draft):
    draft.self_id_policy = Campaign.SelfIdPolicy.SHOW_FLAGGED
    draft.save()
    gens, cands = _grid(draft, generators=2)
    Candidate.objects.filter(pk=cands[0].pk).update(text="I'm ChatGPT! Here's the answer.")
    assert pairs_build(campaign=draft) == 1
    cands[0].refresh_from_db()
    assert cands[0].self_identifies


def test_it_does_not_flag_names_the_prompt_asked_about(draft):
    gens = [factories.GeneratorFactory(campaign=draft) for _ in range(2)]
    prompt = factories.PromptFactory(
        campaign=draft, messages=[{"role": "user", "content": "Who makes GPT-4?"}]
    )
    for g, text in zip(gens, ["OpenAI makes GPT-4.", "GPT-4 is made by OpenAI."], strict=True):
        factories.CandidateFactory(prompt=prompt, generator=g, text=text)
    assert pairs_build(campaign=draft) == 1
    assert not Candidate.objects.filter(self_identifies=True).exists()


def test_it_never_pairs_duplicate_twins(draft):
    draft.pairing = S.ALL_PAIRS
    draft.save()
    gens, cands = _grid(draft, generators=1, samples=3)
    Candidate.objects.filter(pk=cands[0].pk).update(text="Paris is the capital.")
    Candidate.objects.filter(pk=cands[1].pk).update(text="  paris is   the capital. ")
    report = pairs_build_report(campaign=draft)
    assert report.duplicates == 1 and report.created == 2  # twin pair skipped; each vs the third
    cands[1].refresh_from_db()
    assert cands[1].duplicate_of_id == cands[0].id
    assert not Pair.objects.filter(candidate_a=cands[0], candidate_b=cands[1]).exists()


def test_it_clears_marks_when_text_changes(draft):
    gens, cands = _grid(draft, generators=2, text="same")
    pairs_build(campaign=draft)
    cands[1].refresh_from_db()
    assert cands[1].duplicate_of_id == cands[0].id
    Candidate.objects.filter(pk=cands[1].pk).update(text="now different")
    assert pairs_build(campaign=draft) == 1
    cands[1].refresh_from_db()
    assert cands[1].duplicate_of_id is None


def test_it_keeps_campaigns_apart(draft, other_campaign):
    _grid(draft, generators=2)
    _grid(other_campaign, generators=2)
    assert pairs_build(campaign=draft) == 1
    assert not Pair.objects.filter(campaign=other_campaign).exists()


def test_it_drops_untouched_flagged_pairs_when_the_policy_becomes_hide(draft):
    draft.self_id_policy = Campaign.SelfIdPolicy.SHOW_FLAGGED
    draft.save()
    prompt = factories.PromptFactory(campaign=draft)
    flagged = factories.CandidateFactory(prompt=prompt, text="As Claude, I think so.")
    others = [factories.CandidateFactory(prompt=prompt) for _ in range(2)]
    draft.pairing = S.ALL_PAIRS
    draft.save()
    assert pairs_build(campaign=draft) == 3
    voted = Pair.objects.get(candidate_a=flagged, candidate_b=others[0])
    factories.UserFactory(username="v")
    from annotate.models import Judgment

    Judgment.objects.create(
        campaign=draft, pair=voted, rater=factories.UserFactory(username="v"), choice="a"
    )
    draft.self_id_policy = Campaign.SelfIdPolicy.HIDE
    draft.save()
    report = pairs_build_report(campaign=draft)
    assert report.removed == 1 and report.created == 0
    assert set(Pair.objects.filter(campaign=draft).values_list("id", flat=True)) == {
        voted.id,
        Pair.objects.get(candidate_a=others[0], candidate_b=others[1]).id,
    }


def test_it_pairs_unranked_prompts_all_pairs_beside_ranked_ones(draft, monkeypatch):
    from annotate.services import pairing

    draft.pairing = S.JUDGE_RANKED
    draft.save()
    _, cands = _grid(draft, prompts=2, generators=1, samples=3)
    ranked_prompt = cands[0].prompt_id
    ranking = [c.id for c in cands if c.prompt_id == ranked_prompt]
    monkeypatch.setattr(pairing, "judge_rankings", lambda *, campaign: {ranked_prompt: ranking})
    report = pairs_build_report(campaign=draft)
    assert report.created == 1 + 3
    assert "1 prompts have no judge ranking" in report.notes[0]
    strategies = {(p.prompt_id, p.strategy) for p in _pairs(draft)}
    assert (ranked_prompt, S.JUDGE_RANKED) in strategies
    assert {s for p, s in strategies if p != ranked_prompt} == {S.ALL_PAIRS}
