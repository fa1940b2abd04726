"""Interval α per aspect over ratings (annotate/analytics/agreement.py), checked against the
krippendorff package on the same matrix, and the rating campaign's analytics page."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from annotate.analytics.agreement import interval_alpha_by_aspect
from annotate.models import Campaign
from annotate.services.sets import rating_vote_record, set_assignment_next
from tests import factories


def test_it_gives_interval_alpha_per_aspect_from_units_scored_twice():
    # Three responses, two raters; "helpful" agrees closely, "honest" does not at all.
    scores = [
        ("u1", 1, {"overall": 5, "helpful": 5, "honest": 1}),
        ("u1", 2, {"overall": 5, "helpful": 4, "honest": 5}),
        ("u2", 1, {"overall": 2, "helpful": 2, "honest": 5}),
        ("u2", 2, {"overall": 1, "helpful": 2, "honest": 1}),
        ("u3", 1, {"overall": 3, "helpful": 3, "honest": 3}),
        ("u3", 2, {"overall": 4, "helpful": 3, "honest": 3}),
        ("u4", 1, {"overall": 1, "helpful": 1, "honest": 1}),  # one rater only: not counted
    ]
    out = interval_alpha_by_aspect(scores, aspects=["overall", "helpful", "honest"])
    expected = krippendorff.alpha(
        reliability_data=np.array([[5, 2, 3], [4, 2, 3]], dtype=float),
        level_of_measurement="interval",
    )
    assert out["helpful"]["alpha"] == pytest.approx(expected) and out["helpful"]["units"] == 3
    assert out["helpful"]["alpha"] > 0.8 and out["overall"]["alpha"] > 0.8
    assert out["honest"]["alpha"] < 0
    assert list(out) == ["overall", "helpful", "honest"]


def test_alpha_is_not_defined_without_two_raters_or_variation():
    assert interval_alpha_by_aspect([("u", 1, {"overall": 3})], aspects=["overall"]) == {
        "overall": {"alpha": None, "units": 0}
    }
    same = [("u1", 1, {"overall": 3}), ("u1", 2, {"overall": 3})]
    assert interval_alpha_by_aspect(same, aspects=["overall"])["overall"]["alpha"] is None


@pytest.mark.django_db
def test_the_analytics_page_shows_alpha_per_aspect(client, admin_user):
    campaign = factories.CampaignFactory(
        slug="rated", protocol="rating", overlap=2, aspects=["helpful"],
        status=Campaign.Status.OPEN,
    )  # fmt: skip
    for _ in range(3):
        factories.ranking_set(campaign=campaign, k=1)
    for plan in ((5, 2, 3), (4, 2, 3)):
        rater = factories.UserFactory()
        factories.EnrollmentFactory(campaign=campaign, rater=rater)
        for _ in range(3):
            lease = set_assignment_next(campaign=campaign, rater=rater)
            value = plan[lease.candidate_set_id % 3]
            rating_vote_record(
                lease=lease, rater=rater, campaign=campaign,
                scores=[{"number": 1, "overall": value, "aspects": {"helpful": value}}],
            )  # fmt: skip
    client.force_login(admin_user)
    page = client.get(f"/campaigns/{campaign.slug}/research/analytics/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "interval" in html and "helpful" in html and "6 ratings of 3 units" in html
    expected = krippendorff.alpha(
        reliability_data=np.array([[5, 2, 3], [4, 2, 3]], dtype=float),
        level_of_measurement="interval",
    )
    assert html.count(f"<strong>{expected:.3f}</strong>") == 2  # overall and helpful
