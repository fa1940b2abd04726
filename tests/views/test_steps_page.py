"""The step-labels workbench: access, what a rater sees, the vote POST and its refusals (the
same rules as the API), skip, heartbeat, and the research page's agreement per step."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate.models import Campaign, SetAssignment, StepVote
from tests import factories

pytestmark = pytest.mark.django_db


def _url(campaign, name="steps"):
    return reverse(f"annotate:{name}", args=[campaign.slug])


@pytest.fixture
def stepped(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(protocol="steps", step_stop_at_wrong=True)
    campaign.refresh_from_db()
    for i in range(2):
        unit = factories.step_trace(campaign=campaign)
        unit.candidate.generator.name = f"secret-gen-{i}"
        unit.candidate.generator.model = "hidden-model"
        unit.candidate.generator.save()
    return campaign


def _lease(rater):
    return SetAssignment.objects.get(rater=rater, status="active")


def _vote(client, campaign, lease, labels, notes=None, **extra):
    data = {"lease": lease.pk, **extra}
    for i, label in enumerate(labels, start=1):
        data[f"label_{i}"] = label
        data[f"note_{i}"] = (notes or [""] * len(labels))[i - 1]
    return client.post(_url(campaign, "steps-vote"), data, headers={"HX-Request": "true"})


def test_it_hides_the_campaign_from_outsiders_and_anonymous(outsider_client, anon_client, stepped):
    assert outsider_client.get(_url(stepped)).status_code == 404
    for name in ("steps-vote", "steps-skip", "steps-heartbeat"):
        assert outsider_client.post(_url(stepped, name), {"lease": 1}).status_code == 404
    assert anon_client.get(_url(stepped)).status_code == 302


def test_it_shows_the_stored_steps_without_model_names(rater_client, stepped):
    response = rater_client.get(_url(stepped))
    html = response.content.decode()
    assert response.status_code == 200
    for n in range(1, 4):
        assert f'id="step-{n}"' in html and f'name="label_{n}"' in html
    assert "Double it: 8." in html
    assert "secret-gen" not in html and "hidden-model" not in html


def test_the_pairwise_page_sends_a_step_campaign_here(rater_client, stepped):
    response = rater_client.get(reverse("annotate:rate", args=[stepped.slug]))
    assert response.status_code == 302 and response.url == _url(stepped)


def test_a_vote_is_stored_once_and_the_next_trace_comes_back(rater_client, rater, stepped):
    rater_client.get(_url(stepped))
    lease = _lease(rater)
    response = _vote(rater_client, stepped, lease, ["1", "-1", "1"], notes=["", "no", "x"])
    assert response.status_code == 200
    assert StepVote.objects.get().labels == [1, -1, None]
    assert StepVote.objects.get().notes == ["", "no", ""]
    assert 'id="step-1"' in response.content.decode()  # the second trace
    _vote(rater_client, stepped, lease, ["1", "1", "1"])  # the same lease again
    assert StepVote.objects.count() == 1


@pytest.mark.parametrize(
    "labels, notes, message",
    [
        (["1", "", "1"], None, "step 2 not labelled"),
        (["1", "yes", "1"], None, "1 (correct), 0 (neutral) or -1 (wrong)"),
        (["1", "1"], None, "one label per step"),
        (["1", "1", "1"], ["", "a" * 1001, ""], "too long"),
    ],
)
def test_it_refuses_bad_labels_with_the_apis_messages(
    rater_client, rater, stepped, labels, notes, message
):
    rater_client.get(_url(stepped))
    lease = _lease(rater)
    response = _vote(rater_client, stepped, lease, labels, notes=notes)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not StepVote.objects.exists()
    assert _lease(rater).pk == lease.pk  # still the rater's


def test_a_plain_post_redirects_and_a_missing_lease_is_refused(rater_client, rater, stepped):
    rater_client.get(_url(stepped))
    response = rater_client.post(_url(stepped, "steps-vote"), {"label_1": "1"})
    assert response.status_code == 302
    assert not StepVote.objects.exists()


def test_skip_and_heartbeat(rater_client, rater, stepped):
    rater_client.get(_url(stepped))
    lease = _lease(rater)
    beat = rater_client.post(_url(stepped, "steps-heartbeat"), {"lease": lease.pk})
    assert beat.status_code == 204
    rater_client.post(
        _url(stepped, "steps-skip"),
        {"lease": lease.pk, "reason": "unsure"},
        headers={"HX-Request": "true"},
    )
    assert SetAssignment.objects.get(pk=lease.pk).status == "skipped"
    assert (
        rater_client.post(_url(stepped, "steps-heartbeat"), {"lease": lease.pk}).status_code == 410
    )


def test_the_research_page_shows_agreement_per_step(admin_client, stepped):
    unit = stepped.candidate_sets.first()
    for labels in ([1, 1, -1], [1, 0, -1], [1, 1, 1]):
        StepVote.objects.create(
            campaign=stepped, candidate_set=unit, rater=factories.UserFactory(), labels=labels
        )
    response = admin_client.get(
        reverse("annotate:research-analytics", args=[stepped.slug]), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200 and "per step (ordinal" in html
    assert "Over 3 steps labelled by two or more raters" in html


def test_the_research_page_shows_human_judge_agreement_per_step(admin_client, stepped):
    from annotate.selectors.steps import step_judge_agreement

    unit = stepped.candidate_sets.first()
    for labels in ([1, 1, -1], [1, 0, -1], [1, 1, 1]):  # majority: 1, 1, -1
        StepVote.objects.create(
            campaign=stepped, candidate_set=unit, rater=factories.UserFactory(), labels=labels
        )
    assert step_judge_agreement(campaign=stepped)["step_judge_agreement"] is None
    StepVote.objects.create(campaign=stepped, candidate_set=unit, source="judge", labels=[1, 1, 1])
    StepVote.objects.create(campaign=stepped, candidate_set=unit, source="judge", labels=[1, -1, 0])
    # The latest judge labels count: step 1 agrees, steps 2 and 3 do not.
    got = step_judge_agreement(campaign=stepped)
    assert got["step_judge_agreement"] == pytest.approx(1 / 3) and got["step_judge_steps"] == 3
    html = admin_client.get(
        reverse("annotate:research-analytics", args=[stepped.slug]), headers={"HX-Request": "true"}
    ).content.decode()
    assert 'id="analytics-step-judge"' in html and "<strong>33%</strong>" in html
    # The human agreement is over human votes only.
    assert "Over 3 steps labelled by two or more raters" in html
