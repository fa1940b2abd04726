from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotate.models import Assignment, Campaign, Judgment, PairFlag
from tests import factories


def _url(campaign, name="rate"):
    return reverse(f"annotate:{name}", args=[campaign.slug])


@pytest.fixture
def pairs(campaign):
    gen_a = factories.GeneratorFactory(
        campaign=campaign, name="secret-gen-alpha", model="claude-hidden-model"
    )
    gen_b = factories.GeneratorFactory(
        campaign=campaign, name="secret-gen-beta", model="gpt-hidden-model"
    )
    out = []
    for n in range(3):
        prompt = factories.PromptFactory(campaign=campaign)
        a = factories.CandidateFactory(prompt=prompt, generator=gen_a, text=f"Alpha answer {n}")
        b = factories.CandidateFactory(prompt=prompt, generator=gen_b, text=f"Beta answer {n}")
        out.append(
            factories.PairFactory(campaign=campaign, prompt=prompt, candidate_a=a, candidate_b=b)
        )
    return out


def _lease(rater):
    return Assignment.objects.get(rater=rater, status=Assignment.Status.ACTIVE)


def _post_vote(client, campaign, lease, verdict="left", key=None, **extra):
    data = {"assignment": lease.pk, "verdict": verdict, "key": key or f"k{lease.pk}", **extra}
    return client.post(_url(campaign, "rate-vote"), data, headers={"HX-Request": "true"})


def test_it_sends_anonymous_users_to_login(anon_client, campaign):
    response = anon_client.get(_url(campaign))
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_it_hides_the_campaign_from_raters_of_other_campaigns(outsider_client, campaign, pairs):
    assert outsider_client.get(_url(campaign)).status_code == 404
    assert outsider_client.post(_url(campaign, "rate-vote"), {"assignment": 1}).status_code == 404


def test_it_shows_the_pair_without_model_names(rater_client, campaign, pairs):
    response = rater_client.get(_url(campaign))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Response A" in html and "Response B" in html
    assert "Alpha answer" in html and "Beta answer" in html
    for secret in ("secret-gen", "hidden-model", "claude", "gpt"):
        assert secret not in html.lower()
    assert response["Content-Security-Policy"].startswith("default-src 'self'")


def test_it_shows_guidelines_before_the_first_pair(rater_client, campaign, pairs):
    html = rater_client.get(_url(campaign)).content.decode()
    assert (
        '<div id="guidelines" class="overlay"  role="dialog"' in html
        or 'id="guidelines" class="overlay" role' in html.replace("  ", " ")
    )
    assert "<strong>helpful</strong>" in html


def test_it_returns_the_same_pair_on_reload(rater_client, rater, campaign, pairs):
    rater_client.get(_url(campaign))
    first = _lease(rater)
    rater_client.get(_url(campaign))
    assert _lease(rater).pk == first.pk


def test_it_records_the_vote_in_canonical_terms_and_returns_the_next_pair(
    rater_client, rater, campaign, pairs
):
    rater_client.get(_url(campaign))
    lease = _lease(rater)
    response = _post_vote(rater_client, campaign, lease, verdict="left")
    assert response.status_code == 200
    judgment = Judgment.objects.get()
    assert judgment.choice == ("a" if lease.left_is_a else "b")
    nxt = _lease(rater)
    assert nxt.pk != lease.pk
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="workbench"')  # the fragment, not the whole page
    assert f'name="assignment" value="{nxt.pk}"' in html


def test_it_stores_one_vote_for_a_replayed_submit(rater_client, rater, campaign, pairs):
    rater_client.get(_url(campaign))
    lease = _lease(rater)
    _post_vote(rater_client, campaign, lease, key="same")
    response = _post_vote(rater_client, campaign, lease, key="same")
    assert response.status_code == 200
    assert Judgment.objects.count() == 1
    assert "error" not in response.content.decode().split("rate-status", 1)[1].split("</div>", 1)[0]


def test_it_refuses_a_vote_on_an_expired_lease_with_a_message(rater_client, rater, campaign, pairs):
    rater_client.get(_url(campaign))
    lease = _lease(rater)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    html = _post_vote(rater_client, campaign, lease).content.decode()
    assert "ran out" in html
    assert not Judgment.objects.exists()


def test_it_refuses_a_vote_on_a_foreign_assignment(rater_client, campaign, pairs):
    other = factories.UserFactory(username="dora")
    factories.EnrollmentFactory(campaign=campaign, rater=other)
    foreign = Assignment.objects.create(
        campaign=campaign,
        pair=pairs[0],
        rater=other,
        left_is_a=True,
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    html = _post_vote(rater_client, campaign, foreign).content.decode()
    assert "not assigned to you" in html
    assert not Judgment.objects.exists()


def test_it_keeps_typed_text_when_the_rationale_is_too_short(rater_client, rater, campaign, pairs):
    campaign.rationale = Campaign.Rationale.REQUIRED
    campaign.rationale_min_length = 30
    campaign.save()
    rater_client.get(_url(campaign))
    lease = _lease(rater)
    html = _post_vote(rater_client, campaign, lease, rationale="short reason").content.decode()
    assert "at least 30" in html
    assert "short reason</textarea>" in html
    assert _lease(rater).pk == lease.pk


def test_it_uses_the_graded_scale(rater_client, rater, campaign, pairs):
    campaign.scale = Campaign.Scale.GRADED7
    campaign.save()
    html = rater_client.get(_url(campaign)).content.decode()
    assert 'data-verdict="g7"' in html
    lease = _lease(rater)
    _post_vote(rater_client, campaign, lease, verdict="g7")
    judgment = Judgment.objects.get()
    assert judgment.strength == 3
    assert judgment.choice == ("b" if lease.left_is_a else "a")


def test_it_skips_and_flags(rater_client, rater, campaign, pairs):
    rater_client.get(_url(campaign))
    lease = _lease(rater)
    rater_client.post(
        _url(campaign, "rate-skip"),
        {"assignment": lease.pk, "reason": "not my topic"},
        headers={"HX-Request": "true"},
    )
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.SKIPPED
    second = _lease(rater)
    html = rater_client.post(
        _url(campaign, "rate-flag"),
        {"assignment": second.pk, "reason": "harmful", "note": "slur"},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "flagged" in html
    flag = PairFlag.objects.get()
    assert (flag.pair_id, flag.reason, flag.note) == (second.pair_id, "harmful", "slur")


def test_it_shows_an_all_done_state(rater_client, rater, campaign, pairs):
    for _ in pairs:
        rater_client.get(_url(campaign))
        _post_vote(rater_client, campaign, _lease(rater))
    html = rater_client.get(_url(campaign)).content.decode()
    assert "All done" in html and "<strong>3</strong> pairs" in html


def test_it_renews_the_lease_on_heartbeat(rater_client, rater, campaign, pairs):
    rater_client.get(_url(campaign))
    lease = _lease(rater)
    url = _url(campaign, "rate-heartbeat")
    assert rater_client.post(url, {"assignment": lease.pk}).status_code == 204
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert rater_client.post(url, {"assignment": lease.pk}).status_code == 410


def test_it_shows_the_diff_for_the_raters_own_pair_only(
    rater_client, outsider_client, rater, campaign, pairs
):
    rater_client.get(_url(campaign))
    lease = _lease(rater)
    url = reverse("annotate:rate-diff", args=[campaign.slug, lease.pk])
    html = rater_client.get(url).content.decode()
    assert "<del>" in html and "<ins>" in html
    other = factories.UserFactory(username="eve")
    factories.EnrollmentFactory(campaign=campaign, rater=other)
    rater_client.force_login(other)
    assert rater_client.get(url).status_code == 404


def test_it_shows_my_history_in_shown_terms_without_gold(rater_client, rater, campaign, pairs):
    pairs[0].gold_answer = "a"
    pairs[0].save()
    rater_client.get(_url(campaign))
    _post_vote(rater_client, campaign, _lease(rater), verdict="right", rationale="")
    html = rater_client.get(_url(campaign, "rate-history")).content.decode()
    assert "B is better" in html  # the label the rater saw on the vote bar
    assert "gold" not in html.lower()


def test_it_shows_my_vote_count_on_a_reload(rater_client, rater, campaign, pairs):
    assert '<strong id="my-votes">0</strong>' in rater_client.get(_url(campaign)).content.decode()
    _post_vote(rater_client, campaign, _lease(rater))
    _post_vote(rater_client, campaign, _lease(rater), verdict="right")
    html = rater_client.get(_url(campaign)).content.decode()
    assert '<strong id="my-votes">2</strong>' in html


def test_the_vote_to_next_path_is_a_handful_of_queries(rater_client, rater, campaign, pairs):
    rater_client.get(_url(campaign))
    lease = _lease(rater)
    with CaptureQueriesContext(connection) as ctx:
        response = _post_vote(rater_client, campaign, lease)
    assert response.status_code == 200
    # The test's own transaction turns BEGIN/COMMIT into SAVEPOINTs; those are not the app's.
    sql = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    # session, user, campaign with enrollment, the vote (lease, vote, both counters: one statement
    # on PostgreSQL), the claim, the new lease with what the page shows (one statement)
    assert len(sql) <= 6, "\n".join(s[:120] for s in sql)


def test_it_works_without_javascript(rater_client, rater, campaign, pairs):
    rater_client.get(_url(campaign))
    lease = _lease(rater)
    response = rater_client.post(
        _url(campaign, "rate-vote"), {"assignment": lease.pk, "verdict": "tie", "key": "nojs"}
    )
    assert response.status_code == 302 and response.url == _url(campaign)
    assert Judgment.objects.get().choice == "tie"


def test_it_explains_bad_input_and_keeps_the_lease(rater_client, rater, campaign, pairs):
    rater_client.get(_url(campaign))
    lease = _lease(rater)
    html = _post_vote(rater_client, campaign, lease, verdict="").content.decode()
    assert "Choose which response is better first." in html
    bad = rater_client.post(
        _url(campaign, "rate-vote"), {"assignment": "x"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "reload the page" in bad
    assert _lease(rater).pk == lease.pk and not Judgment.objects.exists()


def test_the_raw_campaign_lookup_loads_what_the_orm_loads(rater, campaign, admin_user):
    from annotate.access import campaign_for_rater

    campaign.aspects = ["helpful", "honest"]
    campaign.guidelines_html = "<p>Be fair.</p>"
    campaign.save()
    got = campaign_for_rater(rater, campaign.slug)
    stored = Campaign.objects.get(pk=campaign.pk)
    for field in Campaign._meta.concrete_fields:
        assert getattr(got, field.attname) == getattr(stored, field.attname), field.attname
    assert campaign_for_rater(admin_user, campaign.slug).pk == campaign.pk  # admins preview
    outsider = factories.UserFactory(username="outsider", role="rater")
    with pytest.raises(Http404):
        campaign_for_rater(outsider, campaign.slug)
    with pytest.raises(Http404):
        campaign_for_rater(rater, "no-such-campaign")


def test_a_vote_on_another_campaigns_pair_says_so_and_keeps_both_leases(
    rater_client, rater, campaign, other_campaign, pairs
):
    from annotate.services.assignment import assignment_next

    rater_client.get(_url(campaign))
    here = _lease(rater)
    factories.EnrollmentFactory(campaign=other_campaign, rater=rater)
    factories.PairFactory(campaign=other_campaign)
    elsewhere = assignment_next(campaign=other_campaign, rater=rater)
    response = _post_vote(rater_client, campaign, elsewhere)
    html = response.content.decode()
    assert "belongs to another of your campaigns" in html
    assert "taken back" not in html
    assert not Judgment.objects.exists()
    assert set(
        Assignment.objects.filter(status=Assignment.Status.ACTIVE).values_list("pk", flat=True)
    ) == {here.pk, elsewhere.pk}


def test_start_from_a_copies_the_response_as_written_not_as_rendered(
    rater_client, rater, campaign, pairs
):
    import json
    import re

    campaign.allow_rewrite = True
    campaign.save()
    for pair in pairs:
        pair.candidate_a.text = "Use **bold** and `code` <b>here</b>."
        pair.candidate_a.save()
    html = rater_client.get(_url(campaign)).content.decode()
    lease = _lease(rater)
    shown = {
        "left": lease.pair.candidate_a if lease.left_is_a else lease.pair.candidate_b,
        "right": lease.pair.candidate_b if lease.left_is_a else lease.pair.candidate_a,
    }
    for side, candidate in shown.items():
        found = re.search(rf'<script id="text-{side}" type="application/json">(.*?)</script>', html)
        assert json.loads(found.group(1)) == candidate.text  # markdown, not the rendered text


def test_it_shows_reasoning_one_key_away_only_when_the_campaign_says_so(rater_client, campaign):
    from annotate.models import Candidate

    pair = factories.PairFactory(campaign=campaign)
    Candidate.objects.filter(id=pair.candidate_a_id).update(
        reasoning="Think **first**.", reasoning_html="<p>Think <strong>first</strong>.</p>"
    )
    url = reverse("annotate:rate", args=[campaign.slug])
    body = rater_client.get(url).content.decode()
    assert "Think <strong>first</strong>" not in body and 'class="reasoning"' not in body
    campaign.reasoning_for_raters = True
    campaign.save(update_fields=["reasoning_for_raters"])
    body = rater_client.get(url).content.decode()
    # Closed by default (a <details> without open), on the side the trace belongs to only.
    assert body.count('<details class="reasoning">') == 1
    assert "Think <strong>first</strong>" in body
    assert "<kbd>e</kbd></td><td>open / close the reasoning of both responses" in body
