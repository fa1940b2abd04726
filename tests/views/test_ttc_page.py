"""The test-time compute page: who may see and change it, what it shows, and the choices it
stores (majority vote over extracted answers, with the admin's rule)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate.models import BestOfNChoice, Candidate, TTCConfig
from annotate.services.ttc import answers_extract
from tests import factories


@pytest.fixture
def math_campaign(campaign):
    """Two prompts with reference answers, three samples each from one generator."""
    generator = factories.GeneratorFactory(campaign=campaign, name="solver", model="demo-solver")
    texts = {
        "5": ["So \\boxed{5}.", "Answer: 5", "Answer: 7"],
        "4": ["Answer: 3", "Answer: 4", "I am not sure."],
    }
    for reference, answers in texts.items():
        prompt = factories.PromptFactory(
            campaign=campaign, metadata={"reference_answer": reference}
        )
        for i, text in enumerate(answers):
            factories.CandidateFactory(
                prompt=prompt, generator=generator, sample_index=i, text=text
            )
    return campaign


def _url(name, campaign):
    return reverse(f"annotate:{name}", args=[campaign.slug])


def test_it_shows_the_page_to_admins_and_researchers_only(
    admin_client, researcher_client, rater_client, outsider_client, anon_client, math_campaign
):
    for name in ("ttc", "ttc-curves"):
        url = _url(name, math_campaign)
        assert admin_client.get(url).status_code == 200
        assert researcher_client.get(url).status_code == 200
        assert rater_client.get(url).status_code == 403
        assert outsider_client.get(url).status_code == 404
        response = anon_client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/")
    body = researcher_client.get(_url("ttc", math_campaign)).content.decode()
    assert 'id="ttc-settings"' not in body  # researchers read the rule, admins change it


@pytest.mark.parametrize(
    ("name", "researcher_status"), [("ttc-settings", 403), ("ttc-select", 302)]
)
def test_it_lets_only_the_right_people_post(
    admin_client,
    researcher_client,
    rater_client,
    outsider_client,
    anon_client,
    math_campaign,
    name,
    researcher_status,
):
    url = _url(name, math_campaign)
    data = {"answer_rule": "convention"}
    assert researcher_client.post(url, data).status_code == researcher_status
    assert rater_client.post(url, data).status_code == 403
    assert outsider_client.post(url, data).status_code == 404
    assert anon_client.post(url, data).status_code == 302
    assert admin_client.post(url, data).status_code == 302
    assert admin_client.get(url).status_code == 405  # mutations are POST


def test_it_extracts_answers_and_shows_them_beside_the_reference(admin_client, math_campaign):
    response = admin_client.post(
        _url("ttc-settings", math_campaign),
        {"answer_rule": "convention", "reference_key": "reference_answer"},
    )
    assert response.status_code == 302
    answers = list(
        Candidate.objects.filter(prompt__campaign=math_campaign)
        .order_by("prompt_id", "sample_index")
        .values_list("final_answer", "answer_rule")
    )
    assert answers == [
        ("5", "convention"),
        ("5", "convention"),
        ("7", "convention"),
        ("3", "convention"),
        ("4", "convention"),
        ("", "convention"),
    ]
    body = admin_client.get(_url("ttc", math_campaign)).content.decode()
    assert "<code>7</code>" in body and "none found" in body
    assert "prompts with a reference" in body


def test_it_refuses_a_bad_pattern_and_unknown_fields_with_400(admin_client, math_campaign):
    url = _url("ttc-settings", math_campaign)
    response = admin_client.post(url, {"answer_rule": "regex", "answer_pattern": "("})
    assert response.status_code == 400
    assert "Not a regular expression" in response.content.decode()
    assert admin_client.post(url, {"answer_rule": "vibes"}).status_code == 400
    assert admin_client.post(url, {"answer_rule": "convention", "colour": "red"}).status_code == 400
    assert (
        admin_client.post(url, {"answer_rule": "last_line", "reference_key": "a b"}).status_code
        == 400
    )
    assert not TTCConfig.objects.filter(campaign=math_campaign).exists()


def test_it_switches_the_rule_and_reads_every_answer_again(admin_client, math_campaign):
    url = _url("ttc-settings", math_campaign)
    admin_client.post(url, {"answer_rule": "regex", "answer_pattern": r"answer: (\d+)"})
    first = Candidate.objects.filter(prompt__campaign=math_campaign).order_by("id").first()
    assert first.final_answer == "" and first.answer_rule == r"regex:answer: (\d+)"
    admin_client.post(url, {"answer_rule": "last_line", "reasoning_for_raters": "on"})
    first.refresh_from_db()
    assert first.final_answer == "So \\boxed{5}." and first.answer_rule == "last_line"
    math_campaign.refresh_from_db()
    assert math_campaign.reasoning_for_raters is True


def test_it_stores_majority_choices_with_their_method(researcher_client, math_campaign):
    response = researcher_client.post(_url("ttc-select", math_campaign))
    assert response.status_code == 302
    choices = {
        c.prompt.metadata["reference_answer"]: c
        for c in BestOfNChoice.objects.filter(campaign=math_campaign).select_related("prompt")
    }
    assert set(BestOfNChoice.objects.values_list("method", flat=True)) == {"majority"}
    five, four = choices["5"], choices["4"]
    assert (five.answer, five.correct, five.pool) == ("5", True, 3)
    assert five.candidate.sample_index == 0 and five.worst.sample_index == 2
    # 3 and 4 tie: the answer of the first sample wins, and it is wrong.
    assert (four.answer, four.correct) == ("3", False)
    assert four.worst.sample_index == 2  # the sample with no answer
    body = researcher_client.get(_url("ttc", math_campaign)).content.decode()
    assert "1 / 2" in body  # majority: correct on one of two referenced prompts


def test_it_draws_the_curve_with_intervals_and_costs(admin_client, math_campaign):
    answers_extract(campaign=math_campaign)  # what a generation job does when it ends
    response = admin_client.get(_url("ttc-curves", math_campaign), headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<svg" in body and "Majority vote" in body and "pass@N" in body
    assert "2 prompts with a reference, up to 3 samples each" in body
    assert "67%" in body  # majority at N=2 (tests/analytics/test_ttc_curves.py works it out)
    assert "/prompt" in body
    assert "<html" not in body  # htmx gets the partial
