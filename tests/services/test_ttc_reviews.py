"""The judge on one sample: verifier scores and judge-read answers (services/ttc_reviews.py),
with the offline demo judge, and best-of-N by verifier and by judge on top of them."""

from __future__ import annotations

import pytest

from annotate.models import BestOfNChoice, Candidate, CandidateReview, JudgeConfig, TTCConfig
from annotate.services.judging import judge_pair_run, judge_rank_start
from annotate.services.ttc import TTCRefused, best_of_n_select, ttc_config_update
from annotate.services.ttc_reviews import review_run, reviews_start
from tests import factories


@pytest.fixture
def arithmetic(campaign):
    JudgeConfig.objects.create(campaign=campaign, provider="demo", model="demo-judge")
    generator = factories.GeneratorFactory(campaign=campaign, name="solver", model="demo-solver")
    prompt = factories.PromptFactory(
        campaign=campaign,
        messages=[{"role": "user", "content": "What is 12 × 11?"}],
        metadata={"reference_answer": 132},
    )
    # Texts the demo verifier is not fooled by (it errs on 15% of texts, by a hash of the text:
    # "Answer: 142" alone is one it scores high).
    for i, text in enumerate(
        ("Answer: 132", "142 it is.\n\nAnswer: 142", "It is 142.\n\nAnswer: 142")
    ):
        factories.CandidateFactory(prompt=prompt, generator=generator, sample_index=i, text=text)
    return campaign


def _run_pending():
    for rid in CandidateReview.objects.filter(status="pending").values_list("id", flat=True):
        assert review_run(review_id=rid).status == "done"


def test_it_scores_every_sample_once(arithmetic, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert reviews_start(campaign=arithmetic, actor=admin_user, task="score") == 3
    assert len(callbacks) == 1  # sent on commit
    _run_pending()
    scores = dict(CandidateReview.objects.values_list("candidate__text", "score"))
    right, *wrong = (scores[t] for t in sorted(scores, key=lambda t: "132" not in t))
    assert all(right > 0.5 > w for w in wrong)  # the demo verifier checks the arithmetic
    assert all(r.input_tokens > 0 for r in CandidateReview.objects.all())
    # A second start adds nothing; a redelivered task finds nothing to claim.
    assert reviews_start(campaign=arithmetic, actor=admin_user, task="score") == 0
    assert review_run(review_id=CandidateReview.objects.first().id).status == "skipped"


def test_it_chooses_by_verifier_where_majority_is_wrong(arithmetic, admin_user):
    reviews_start(campaign=arithmetic, actor=admin_user, task="score")
    _run_pending()
    ttc_config_update(campaign=arithmetic, actor=admin_user, answer_rule="convention")
    made = best_of_n_select(campaign=arithmetic, actor=admin_user)
    assert made["majority"] == 1 and made["verifier"] == 1
    by = {c.method: c for c in BestOfNChoice.objects.all()}
    assert (by["majority"].answer, by["majority"].correct) == ("142", False)
    assert (by["verifier"].answer, by["verifier"].correct) == ("132", True)
    assert by["verifier"].worst.final_answer == "142"


def test_it_chooses_by_the_judge_ranking(arithmetic, admin_user):
    job = judge_rank_start(campaign=arithmetic, actor=admin_user, mode="fast")
    for vid in job.verdicts.values_list("id", flat=True):
        judge_pair_run(verdict_id=vid)
    best_of_n_select(campaign=arithmetic, actor=admin_user)
    judge = BestOfNChoice.objects.get(method="judge")
    assert judge.pool == 3 and judge.candidate is not None
    assert judge.correct == (judge.answer == "132")


def test_it_puts_judge_read_answers_beside_the_samples(arithmetic, admin_user):
    ttc_config_update(campaign=arithmetic, actor=admin_user, answer_rule="judge")
    assert set(Candidate.objects.values_list("answer_rule", flat=True)) == {""}  # not read yet
    reviews_start(campaign=arithmetic, actor=admin_user, task="answer")
    _run_pending()
    assert sorted(Candidate.objects.values_list("final_answer", "answer_rule")) == [
        ("132", "judge"),
        ("142", "judge"),
        ("142", "judge"),
    ]
    assert TTCConfig.objects.get().rule_key == "judge"


def test_it_refuses_an_unknown_task(arithmetic, admin_user):
    from annotate.services.judging import JudgeRefused

    with pytest.raises(JudgeRefused):
        reviews_start(campaign=arithmetic, actor=admin_user, task="vibes")


def test_a_pattern_that_backtracks_on_a_response_is_refused_before_it_is_saved(
    arithmetic, admin_user
):
    Candidate.objects.filter(id=Candidate.objects.first().id).update(text="a" * 40 + "b")
    with pytest.raises(TTCRefused) as refused:
        ttc_config_update(
            campaign=arithmetic, actor=admin_user, answer_rule="regex", answer_pattern=r"(a|aa)+$"
        )
    assert "took longer than" in refused.value.errors["answer_pattern"]
    assert not TTCConfig.objects.filter(answer_rule="regex").exists()


def test_a_response_the_saved_pattern_times_out_on_keeps_no_answer(
    arithmetic, admin_user, monkeypatch
):
    ttc_config_update(
        campaign=arithmetic, actor=admin_user, answer_rule="regex", answer_pattern=r"(a|aa)+$"
    )
    Candidate.objects.update(answer_rule="")  # a new sample arrives that the pattern chokes on
    slow = Candidate.objects.first()
    Candidate.objects.filter(id=slow.id).update(text="a" * 40 + "b")
    from annotate.services import ttc

    assert ttc.answers_extract(campaign=arithmetic) == 3
    slow.refresh_from_db()
    assert (slow.final_answer, slow.answer_rule) == ("", TTCConfig.objects.get().rule_key)
