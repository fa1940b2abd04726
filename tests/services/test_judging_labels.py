"""Auto-labels behind the κ threshold, revisions after the reveal, best-of-N rankings."""

from __future__ import annotations

import pytest

from annotate.models import Campaign, Judgment
from annotate.selectors.judging import judge_agreement, judge_rankings
from annotate.services.judging import JudgeRefused
from annotate.services.judging_labels import judge_auto_label, judgment_revise
from annotate.services.judgments import VoteRefused
from tests import factories
from tests.fakes.judge_fixtures import human_vote, judge_config, make_pair, verdict


@pytest.fixture
def labelled(campaign):
    """10 pairs; humans vote a on 0-4 and b on 5-9; the judge agrees on 8 of them."""
    judge_config(
        campaign,
        provider="demo",
        model="demo-judge",
        auto_label_min_pairs=5,
        auto_label_min_kappa=0.5,
    )
    raters = [factories.UserFactory() for _ in range(2)]
    pairs = []
    for i in range(10):
        pair = make_pair(campaign, f"answer {i} a", f"answer {i} b")
        human = "a" if i < 5 else "b"
        for rater in raters:
            human_vote(pair, rater, human)
        judge = human if i not in (0, 9) else ("b" if human == "a" else "a")
        verdict(pair, judge)
        pairs.append(pair)
    # An 11th pair the judge is unsure of: it is never labelled.
    unsure = make_pair(campaign, "x", "y")
    verdict(unsure, "a", consistent=False)
    return pairs, unsure


def test_it_refuses_auto_labels_unless_the_mode_is_on(campaign, labelled, admin_user):
    with pytest.raises(JudgeRefused, match="Auto-label"):
        judge_auto_label(campaign=campaign, actor=admin_user)


def test_it_auto_labels_when_kappa_reaches_the_threshold(campaign, labelled, admin_user):
    campaign.judge_mode = Campaign.JudgeMode.AUTO_LABEL
    campaign.save()
    # Judge vs humans on 10 pairs: 8 agree; marginals 5/5 each side: κ = (0.8 - 0.5) / 0.5 = 0.6.
    assert judge_agreement(campaign=campaign).kappa == pytest.approx(0.6)
    report = judge_auto_label(campaign=campaign, actor=admin_user)
    assert (report.created, report.n) == (10, 10)
    labels = Judgment.objects.filter(source="judge")
    assert labels.count() == 10 and not labels.filter(pair=labelled[1]).exists()
    assert all(j.rater_id is None for j in labels)
    # Again: nothing new (one label per verdict).
    assert judge_auto_label(campaign=campaign, actor=admin_user).created == 0


def test_it_refuses_auto_labels_below_the_threshold_with_the_numbers(
    campaign, labelled, admin_user
):
    campaign.judge_mode = Campaign.JudgeMode.AUTO_LABEL
    campaign.save()
    judge_config(campaign, provider="demo", model="demo-judge", auto_label_min_kappa=0.7)
    with pytest.raises(JudgeRefused, match=r"κ = 0\.60 on 10 pairs, below the threshold of 0\.70"):
        judge_auto_label(campaign=campaign, actor=admin_user)
    judge_config(
        campaign,
        provider="demo",
        model="demo-judge",
        auto_label_min_kappa=0.1,
        auto_label_min_pairs=50,
    )
    with pytest.raises(JudgeRefused, match="at least 50"):
        judge_auto_label(campaign=campaign, actor=admin_user)
    assert not Judgment.objects.filter(source="judge").exists()


def test_a_revision_is_a_new_row_linked_to_the_first(campaign, rater):
    campaign.judge_mode = Campaign.JudgeMode.AFTER_VOTE
    campaign.save()
    pair = make_pair(campaign, "long answer here", "short")
    first = human_vote(pair, rater, "b")
    with pytest.raises(VoteRefused, match="no judge verdict"):
        judgment_revise(judgment=first, rater=rater, choice="a")
    verdict(pair, "a")
    revision = judgment_revise(judgment=first, rater=rater, choice="a")
    assert revision.revises == first and revision.judge_shown and revision.choice == "a"
    first.refresh_from_db()
    assert first.choice == "b" and not first.judge_shown  # the blind vote is untouched
    assert judgment_revise(judgment=first, rater=rater, choice="tie") == revision  # one revision
    other = factories.UserFactory()
    with pytest.raises(VoteRefused, match="your own"):
        judgment_revise(judgment=first, rater=other, choice="a")


def test_revising_is_refused_outside_after_vote_mode(campaign, rater):
    pair = make_pair(campaign, "one", "two")
    verdict(pair, "a")
    first = human_vote(pair, rater, "b")
    with pytest.raises(VoteRefused, match="does not reveal"):
        judgment_revise(judgment=first, rater=rater, choice="a")


def test_rankings_order_each_prompts_candidates_best_first(campaign):
    prompt = factories.PromptFactory(campaign=campaign)
    gen = factories.GeneratorFactory(campaign=campaign)
    c1, c2, c3 = (
        factories.CandidateFactory(prompt=prompt, generator=gen, sample_index=i) for i in range(3)
    )
    verdict(None, "b", candidates=(c1, c2))  # c2 > c1
    verdict(None, "a", candidates=(c2, c3))  # c2 > c3
    verdict(None, "a", candidates=(c1, c3))  # c1 > c3
    assert judge_rankings(campaign=campaign) == {prompt.id: [c2.id, c1.id, c3.id]}
