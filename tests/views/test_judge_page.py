"""The campaign judge page: who may see and change what, settings, start, progress, auto-label."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate import tasks
from annotate.models import Campaign, JudgeConfig, JudgeJob, JudgeRubric, JudgeVerdict
from annotate.services.judging import judge_pair_run
from tests.fakes.judge_fixtures import judge_config, make_pair


@pytest.fixture
def url(campaign):
    return reverse("annotate:judge", args=[campaign.slug])


@pytest.fixture
def demo_judge(campaign):
    return judge_config(campaign, provider="demo", model="demo-judge")


def _settings(**overrides):
    data = {
        "judge_mode": "after_vote",
        "provider": "demo",
        "model": "demo-judge",
        "base_url": "",
        "endpoint": "",
        "mode": "fast",
        "auto_label_min_kappa": "0.6",
        "auto_label_min_pairs": "20",
        "rubric_text": "Judge like an expert. Prefer correct answers over long ones.",
    }
    data.update(overrides)
    return data


def test_admins_and_researchers_see_the_page_raters_and_strangers_do_not(
    url, admin_client, researcher_client, rater_client, outsider_client, anon_client, demo_judge
):
    page = admin_client.get(url)
    assert page.status_code == 200 and b"Save judge settings" in page.content
    read_only = researcher_client.get(url)
    assert read_only.status_code == 200 and b"Save judge settings" not in read_only.content
    assert b"Cohen" in read_only.content
    assert rater_client.get(url).status_code == 403
    assert outsider_client.get(url).status_code == 404
    assert anon_client.get(url).status_code == 302


def test_saving_settings_edits_the_config_and_versions_the_rubric(
    url, admin_client, campaign, demo_judge
):
    admin_client.get(url)  # the page builds rubric v1 from the guidelines
    assert admin_client.post(url, _settings()).status_code == 302
    campaign.refresh_from_db()
    assert campaign.judge_mode == Campaign.JudgeMode.AFTER_VOTE
    assert JudgeRubric.objects.filter(campaign=campaign).count() == 2  # v1 built, v2 the edit
    admin_client.post(url, _settings(auto_label_min_kappa="0.75"))
    assert JudgeRubric.objects.filter(campaign=campaign).count() == 2  # same text: no new version
    assert JudgeConfig.objects.get(campaign=campaign).auto_label_min_kappa == 0.75
    bad = admin_client.post(url, _settings(auto_label_min_kappa="7"))
    assert bad.status_code == 400
    assert JudgeConfig.objects.get(campaign=campaign).auto_label_min_kappa == 0.75


def test_researchers_and_raters_cannot_change_settings(
    url, researcher_client, rater_client, demo_judge
):
    assert researcher_client.post(url, _settings(model="x")).status_code == 403
    assert rater_client.post(url, _settings(model="x")).status_code == 403
    assert JudgeConfig.objects.get().model == "demo-judge"


def test_starting_enqueues_and_progress_polling_stops_when_done(
    admin_client, campaign, demo_judge, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(
        tasks.judge_verdict_task, "delay", lambda **kw: sent.append(kw["verdict_id"])
    )
    make_pair(campaign, "a long and structured answer\n- one\n- two", "short")
    start = reverse("annotate:judge-start", args=[campaign.slug])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(start, {"kind": "pairs", "mode": "fast"})
    assert response.status_code == 302
    assert len(sent) == 1 and JudgeJob.objects.get().total == 1
    progress = reverse("annotate:judge-progress", args=[campaign.slug])
    polling = admin_client.get(progress, headers={"HX-Request": "true"})
    assert polling.status_code == 200 and b'hx-trigger="every 2s"' in polling.content
    judge_pair_run(verdict_id=sent[0])
    final = admin_client.get(progress, headers={"HX-Request": "true"})
    assert final.status_code == 286 and b"every 2s" not in final.content
    page = admin_client.get(reverse("annotate:judge", args=[campaign.slug]))
    assert b'1</span><span class="lbl">verdicts' in page.content


def test_start_without_pairs_says_why(admin_client, campaign, demo_judge):
    response = admin_client.post(reverse("annotate:judge-start", args=[campaign.slug]), follow=True)
    assert "no pairs to judge" in response.content.decode()


def test_auto_label_is_refused_with_a_clear_message(admin_client, campaign, demo_judge):
    campaign.judge_mode = Campaign.JudgeMode.AUTO_LABEL
    campaign.save()
    response = admin_client.post(
        reverse("annotate:judge-auto-label", args=[campaign.slug]), follow=True
    )
    assert "Not enough evidence yet" in response.content.decode()


def test_the_seed_recipe_ranks_and_builds_best_vs_worst_pairs(
    admin_client, campaign, demo_judge, monkeypatch, django_capture_on_commit_callbacks
):
    from tests import factories

    sent = []
    monkeypatch.setattr(
        tasks.judge_verdict_task, "delay", lambda **kw: sent.append(kw["verdict_id"])
    )
    prompt = factories.PromptFactory(campaign=campaign)
    gen = factories.GeneratorFactory(campaign=campaign, samples_per_prompt=4)
    texts = [
        "tiny",
        "a medium answer with some words in it",
        "x " * 80 + "\n- a\n- b\n- c",
        "a b c d e f g h i j k l",
    ]
    cands = [
        factories.CandidateFactory(prompt=prompt, generator=gen, sample_index=i, text=t)
        for i, t in enumerate(texts)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("annotate:judge-start", args=[campaign.slug]), {"kind": "rank"})
    assert len(sent) == 6  # 4 candidates: every two of them
    assert JudgeVerdict.objects.filter(pair__isnull=True).count() == 6
    for verdict_id in sent:
        judge_pair_run(verdict_id=verdict_id)
    page = admin_client.get(reverse("annotate:judge", args=[campaign.slug])).content.decode()
    assert f"#{cands[2].id} " in page  # the judge's best is shown
    response = admin_client.post(
        reverse("annotate:judge-best-pairs", args=[campaign.slug]), follow=True
    )
    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.pairing == Campaign.Pairing.JUDGE_RANKED
    # Best vs worst, then second best vs second worst: 2 pairs from 4 candidates.
    pairs = set(campaign.pairs.values_list("candidate_a_id", "candidate_b_id"))
    assert len(pairs) == 2
    assert (min(cands[2].id, cands[0].id), max(cands[2].id, cands[0].id)) in pairs
    assert campaign.pairs.first().strategy == "judge_ranked"
    # The ranking's verdicts now belong to those pairs: raters get the reveal, analytics count them.
    for pair in campaign.pairs.all():
        assert JudgeVerdict.objects.get(pair=pair).candidate_a_id == pair.candidate_a_id


def test_it_writes_nothing_when_the_judge_page_or_its_api_is_only_read(
    admin_client, researcher_client, campaign
):
    from annotate.models import JudgeConfig, JudgeRubric

    assert admin_client.get(f"/campaigns/{campaign.slug}/judge/").status_code == 200
    assert researcher_client.get(f"/campaigns/{campaign.slug}/judge/").status_code == 200
    assert JudgeConfig.objects.count() == 0
    assert JudgeRubric.objects.count() == 0


def test_the_progress_says_a_worker_was_lost(admin_client, campaign, demo_judge, monkeypatch):
    from annotate.models import WorkRecovery
    from annotate.services.judging import judge_pairs_start

    monkeypatch.setattr(tasks.judge_verdict_task, "delay", lambda **kw: None)
    make_pair(campaign, "a long and structured answer", "short")
    job = judge_pairs_start(campaign=campaign, actor=None)
    WorkRecovery.objects.create(kind="verdict", job_id=job.id, rows=1)
    progress = reverse("annotate:judge-progress", args=[campaign.slug])
    page = admin_client.get(progress, headers={"HX-Request": "true"}).content.decode()
    assert "the 1 verdicts it held were sent again." in page
    assert "nothing finished in the last minute" in page
