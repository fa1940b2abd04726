"""The ranking workbench: access, what a rater sees, the vote POST and its refusals."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from annotate.models import Campaign, RankingVote, SetAssignment
from tests import factories

pytestmark = pytest.mark.django_db


def _url(campaign, name="rank"):
    return reverse(f"annotate:{name}", args=[campaign.slug])


@pytest.fixture
def ranked(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(protocol="ranking", ranking_k=4)
    campaign.refresh_from_db()
    unit = factories.ranking_set(campaign=campaign, k=4)
    for i, member in enumerate(unit.members.select_related("candidate__generator")):
        member.candidate.generator.name = f"secret-gen-{i}"
        member.candidate.generator.model = f"hidden-model-{i}"
        member.candidate.generator.save()
    return campaign


def _lease(rater):
    return SetAssignment.objects.get(rater=rater, status="active")


def _vote(client, campaign, lease, ranking, **extra):
    data = {"lease": lease.pk, "ranking": json.dumps(ranking), **extra}
    return client.post(_url(campaign, "rank-vote"), data, headers={"HX-Request": "true"})


def test_it_hides_the_campaign_from_outsiders_and_anonymous(outsider_client, anon_client, ranked):
    assert outsider_client.get(_url(ranked)).status_code == 404
    assert outsider_client.post(_url(ranked, "rank-vote"), {"lease": 1}).status_code == 404
    assert outsider_client.post(_url(ranked, "rank-skip"), {"lease": 1}).status_code == 404
    assert anon_client.get(_url(ranked)).status_code == 302


def test_it_shows_k_numbered_responses_without_model_names(rater_client, ranked):
    response = rater_client.get(_url(ranked))
    html = response.content.decode()
    assert response.status_code == 200
    for n in range(1, 5):
        assert f'id="card-{n}"' in html
    assert "secret-gen" not in html and "hidden-model" not in html


def test_the_pairwise_page_sends_a_ranking_campaign_to_the_rank_page(rater_client, ranked):
    response = rater_client.get(reverse("annotate:rate", args=[ranked.slug]))
    assert response.status_code == 302 and response.url == _url(ranked)


def test_it_records_a_ranking_and_serves_the_next_set(rater_client, rater, ranked):
    factories.ranking_set(campaign=ranked, k=4)
    rater_client.get(_url(ranked))
    lease = _lease(rater)
    response = _vote(rater_client, ranked, lease, [[2], [1, 4], [3]])
    assert response.status_code == 200
    vote = RankingVote.objects.get()
    s = lease.shown_order
    assert vote.ranking == [[s[1]], [s[0], s[3]], [s[2]]]
    assert _lease(rater).pk != lease.pk  # the next set is leased
    assert 'You have ranked <strong id="my-votes">1</strong>' in response.content.decode()


@pytest.mark.parametrize(
    "ranking",
    ["", "not json", "[[1],[2]]", "[[1],[1],[2],[3]]", "[[9],[1],[2],[3]]", '{"a": 1}', "[" * 500],
)
def test_it_refuses_a_bad_ranking_with_a_message_not_a_500(rater_client, rater, ranked, ranking):
    rater_client.get(_url(ranked))
    lease = _lease(rater)
    data = {"lease": lease.pk, "ranking": ranking}
    response = rater_client.post(_url(ranked, "rank-vote"), data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'class="flash flash-error"' in response.content.decode()
    assert not RankingVote.objects.exists()
    assert _lease(rater).pk == lease.pk  # the same set again


def test_it_refuses_another_raters_lease(rater_client, ranked):
    other = factories.UserFactory()
    factories.EnrollmentFactory(campaign=ranked, rater=other)
    from annotate.services.sets import set_assignment_next

    lease = set_assignment_next(campaign=ranked, rater=other)
    response = _vote(rater_client, ranked, lease, [[1], [2], [3], [4]])
    assert "not assigned to you" in response.content.decode()
    assert not RankingVote.objects.exists()


def test_it_skips_a_set_with_a_reason(rater_client, rater, ranked):
    rater_client.get(_url(ranked))
    lease = _lease(rater)
    response = rater_client.post(
        _url(ranked, "rank-skip"), {"lease": lease.pk, "reason": "off topic"}
    )
    assert response.status_code == 302
    assert SetAssignment.objects.get(pk=lease.pk).status == "skipped"


def test_a_plain_form_post_is_redirected(rater_client, rater, ranked):
    rater_client.get(_url(ranked))
    lease = _lease(rater)
    data = {"lease": lease.pk, "ranking": json.dumps([[1], [2], [3], [4]])}
    response = rater_client.post(_url(ranked, "rank-vote"), data)
    assert response.status_code == 302 and RankingVote.objects.count() == 1


def test_the_research_pages_show_ranking_statistics(researcher_client, rater_client, rater, ranked):
    rater_client.get(_url(ranked))
    _vote(rater_client, ranked, _lease(rater), [[1], [2], [3], [4]])
    page = researcher_client.get(reverse("annotate:research", args=[ranked.slug]))
    assert page.status_code == 200 and "Ranking campaign" in page.content.decode()
    assert 'name="ranking_pairs"' in page.content.decode()
    url = reverse("annotate:research-analytics", args=[ranked.slug])
    html = researcher_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "Kendall" in html and "Plackett" in html and "Position bias" in html
    assert researcher_client.get(url).status_code == 200
    assert rater_client.get(url).status_code == 403


def test_a_ranking_and_the_next_set_take_a_bounded_number_of_statements(
    rater_client, rater, ranked
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    factories.ranking_set(campaign=ranked, k=4)
    rater_client.get(_url(ranked))
    lease = _lease(rater)
    data = {"lease": lease.pk, "ranking": json.dumps([[1], [2], [3], [4]])}
    with CaptureQueriesContext(connection) as queries:
        response = rater_client.post(
            _url(ranked, "rank-vote"), data, headers={"HX-Request": "true"}
        )
    assert response.status_code == 200 and _lease(rater).pk != lease.pk
    # session + user + campaign lookup, the vote (lease lock, close, insert, two counters), the
    # claim (enrollment, pick, count, slots, rotations, insert in a savepoint), the page's reads.
    assert len(queries) <= 21, "\n".join(q["sql"][:120] for q in queries.captured_queries)
