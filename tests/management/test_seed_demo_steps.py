"""The demo's step-labels campaign: open, the arithmetic reasoner's traces split by paragraph,
the demo raters can label them offline."""

from __future__ import annotations

from annotate.management.commands.seed_demo import _steps_create
from annotate.models import StepTrace
from annotate.services.sets import set_assignment_next
from annotate.services.steps import step_vote_record
from tests import factories


def test_it_ships_an_open_step_campaign_of_reasoning_traces(db):
    admin = factories.UserFactory(username="admin", role="admin")
    rater = factories.UserFactory(username="rater1")
    campaign, traces = _steps_create(admin=admin, raters=[rater])
    assert campaign.is_steps and campaign.is_open and campaign.step_source == "reasoning"
    assert traces == StepTrace.objects.filter(candidate_set__campaign=campaign).count() >= 10
    trace = StepTrace.objects.filter(candidate_set__campaign=campaign).first()
    assert len(trace.steps) == 3 and trace.steps[0].startswith("I need ")
    lease = set_assignment_next(campaign=campaign, rater=rater)
    n = len(lease.candidate_set.trace.steps)
    vote = step_vote_record(lease=lease, rater=rater, campaign=campaign, labels=[1] * n)
    assert vote.pk
