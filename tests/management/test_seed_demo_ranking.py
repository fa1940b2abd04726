"""The demo's ranking campaign: open, one set of four per prompt, the demo raters can rank."""

from __future__ import annotations

from annotate.management.commands.seed_demo import _ranking_create
from annotate.models import CandidateSet
from annotate.services.sets import ranking_vote_record, set_assignment_next
from tests import factories


def test_it_ships_an_open_ranking_campaign_of_four_answers(db):
    admin = factories.UserFactory(username="admin", role="admin")
    rater = factories.UserFactory(username="rater1")
    campaign, sets = _ranking_create(admin=admin, raters=[rater])
    assert campaign.is_ranking and campaign.is_open
    assert sets == campaign.prompts.count() >= 10
    assert {s.members.count() for s in CandidateSet.objects.filter(campaign=campaign)} == {4}
    lease = set_assignment_next(campaign=campaign, rater=rater)
    vote = ranking_vote_record(
        lease=lease, rater=rater, campaign=campaign, ranking=[[1], [2, 3], [4]]
    )
    assert vote.pk
