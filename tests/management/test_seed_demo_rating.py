"""The demo's rating campaign: open, the shipped answers in units of two, three aspects; the demo
raters can rate and the campaign exports."""

from __future__ import annotations

from annotate.exports.options import parse_options
from annotate.management.commands.seed_demo import _rating_create
from annotate.models import CandidateSet
from annotate.services.exports import export_build
from annotate.services.sets import rating_vote_record, set_assignment_next
from tests import factories


def test_it_ships_an_open_rating_campaign_of_two_answers_per_unit(db, tmp_path):
    admin = factories.UserFactory(username="admin", role="admin")
    rater = factories.UserFactory(username="rater1")
    campaign, units = _rating_create(admin=admin, raters=[rater])
    assert campaign.is_rating and campaign.is_open
    assert campaign.aspects == ["helpful", "correct", "concise"]
    assert units == 2 * campaign.prompts.count() >= 20  # four answers per prompt, two per unit
    assert {s.members.count() for s in CandidateSet.objects.filter(campaign=campaign)} == {2}
    for overall in (5, 2):
        lease = set_assignment_next(campaign=campaign, rater=rater)
        scores = [
            {"number": n, "overall": overall if n == 1 else 1,
             "aspects": {"helpful": 4, "correct": 3, "concise": 5}}
            for n in (1, 2)
        ]  # fmt: skip
        vote = rating_vote_record(lease=lease, rater=rater, campaign=campaign, scores=scores)
        assert vote.pk
    summary = export_build(
        campaign=campaign, options=parse_options("ratings", {}), out_dir=tmp_path / "out"
    )
    assert summary.row_count == 4
