from __future__ import annotations

from django.urls import reverse

from annotate.models import Assignment, Enrollment, Pair
from annotate.services.assignment import assignment_next
from annotate.services.judgments import judgment_record
from tests import factories


def _url(campaign, name="leases"):
    return reverse(f"annotate:{name}", args=[campaign.slug])


def test_it_is_for_admins_only(
    anon_client, rater_client, researcher_client, outsider_client, campaign
):
    assert anon_client.get(_url(campaign)).status_code == 302
    assert rater_client.get(_url(campaign)).status_code == 403
    assert researcher_client.get(_url(campaign)).status_code == 403
    assert outsider_client.get(_url(campaign)).status_code == 404
    assert rater_client.post(_url(campaign, "rater-pause"), {"enrollment": 1}).status_code == 403


def test_it_shows_who_holds_what_and_releases_a_lease(admin_client, campaign, rater):
    factories.PairFactory(campaign=campaign)
    lease = assignment_next(campaign=campaign, rater=rater)
    html = admin_client.get(_url(campaign)).content.decode()
    assert "bob" in html and f"#{lease.pair_id}" in html
    response = admin_client.post(_url(campaign, "lease-release"), {"assignment": lease.pk})
    assert response.status_code == 302
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.RELEASED
    assert Pair.objects.get().assigned == 0


def test_it_pauses_and_unpauses_a_rater(admin_client, campaign, rater):
    enrollment = Enrollment.objects.get(campaign=campaign, rater=rater)
    admin_client.post(
        _url(campaign, "rater-pause"),
        {"enrollment": enrollment.pk, "action": "pause", "reason": "sloppy"},
    )
    enrollment.refresh_from_db()
    assert enrollment.paused and enrollment.paused_reason == "sloppy"
    factories.PairFactory(campaign=campaign)
    assert assignment_next(campaign=campaign, rater=rater) is None
    admin_client.post(
        _url(campaign, "rater-pause"), {"enrollment": enrollment.pk, "action": "unpause"}
    )
    enrollment.refresh_from_db()
    assert not enrollment.paused
    assert assignment_next(campaign=campaign, rater=rater) is not None


def test_it_shows_the_admin_why_gold_paused_a_rater(admin_client, rater_client, campaign, rater):
    campaign.gold_min_accuracy = 0.8
    campaign.gold_min_answered = 1
    campaign.save()
    factories.PairFactory(campaign=campaign, gold_answer="a")
    factories.PairFactory(campaign=campaign)
    lease = assignment_next(campaign=campaign, rater=rater)
    wrong = "b" if lease.pair.gold_answer == "a" else "a"
    judgment_record(assignment=lease, rater=rater, choice=wrong, idempotency_key="g1")
    if not lease.pair.gold_answer:  # got the regular pair first: now the gold one
        lease = assignment_next(campaign=campaign, rater=rater)
        judgment_record(assignment=lease, rater=rater, choice="b", idempotency_key="g2")
    html = admin_client.get(_url(campaign)).content.decode()
    assert "paused" in html and "Gold accuracy 0%" in html
    rater_html = rater_client.get(_url(campaign, "rate")).content.decode()
    assert "paused" in rater_html and "Gold accuracy" not in rater_html
