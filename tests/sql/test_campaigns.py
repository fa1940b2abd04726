"""annotate/sql/campaigns.py: the rating pages' campaign lookup."""

from __future__ import annotations

from annotate.models import Campaign
from annotate.sql import campaigns as campaigns_sql


def test_it_loads_the_campaign_as_the_orm_does_and_says_whether_the_user_is_enrolled(
    campaign, rater, outsider, admin_user
):
    campaign.aspects = ["helpful", "honest"]
    campaign.gold_rate = 0.25
    campaign.save()
    got, enrolled = campaigns_sql.for_rater(user=rater, slug=campaign.slug)
    stored = Campaign.objects.get(pk=campaign.pk)
    for field in Campaign._meta.concrete_fields:
        assert getattr(got, field.attname) == getattr(stored, field.attname), field.attname
    assert enrolled is True
    assert campaigns_sql.for_rater(user=outsider, slug=campaign.slug)[1] is False
    assert campaigns_sql.for_rater(user=admin_user, slug=campaign.slug)[1] is False


def test_an_unknown_slug_finds_nothing(rater):
    assert campaigns_sql.for_rater(user=rater, slug="no-such-campaign") is None
