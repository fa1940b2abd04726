"""CampaignStats: a vote asks (once per window) for a recompute, a run writes every figure in one
UPDATE under its claim, a killed or failing run leaves the previous figures, a real worker keeps
them fresh as votes arrive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone
from kombu import pools as kombu_pools

from annotate.models import CampaignStats, Judgment, User
from annotate.selectors import analytics as reads
from annotate.services import campaign_stats as service
from annotate.services.assignment import assignment_next
from annotate.services.judgments import judgment_record
from tests import factories
from tests.analytics.varied import varied_campaign
from tests.celery_broker import wait_for


@pytest.fixture(autouse=True)
def _fresh_memo():
    service._asked_until.clear()
    yield
    service._asked_until.clear()


@pytest.fixture
def sent(monkeypatch):
    """The campaign_stats_task messages sent (kwargs, countdown), without a broker."""
    from annotate.tasks import campaign_stats_task

    calls = []
    monkeypatch.setattr(
        campaign_stats_task,
        "apply_async",
        lambda kwargs, countdown: calls.append((kwargs["campaign_id"], countdown)),
    )
    return calls


def _vote(campaign, rater, choice="a"):
    lease = assignment_next(campaign=campaign, rater=rater)
    return judgment_record(
        assignment=lease, rater=rater, choice=choice, idempotency_key=f"k-{lease.pk}"
    )


def test_it_asks_once_for_a_recompute_while_votes_arrive(
    campaign, settings, sent, django_capture_on_commit_callbacks
):
    settings.ANALYTICS_REFRESH_SECONDS = 60
    with django_capture_on_commit_callbacks(execute=True):
        asked = [service.stats_vote_arrived(campaign_id=campaign.id) for _ in range(3)]
    assert asked == [True, False, False]
    assert sent == [(campaign.id, 60)]
    stats = CampaignStats.objects.get(campaign=campaign)
    assert stats.due_at > timezone.now() + timedelta(seconds=50) and stats.computed_at is None


def test_a_recorded_vote_marks_its_campaign_due_after_commit(
    campaign, rater, sent, django_capture_on_commit_callbacks
):
    factories.PairFactory.create_batch(3, campaign=campaign)
    with django_capture_on_commit_callbacks(execute=True):
        _vote(campaign, rater)
    assert sent == [(campaign.id, 60)]
    assert CampaignStats.objects.get(campaign=campaign).due_at is not None
    # The next votes in this process ask nothing, not even a statement, until the window ends.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _vote(campaign, rater)
    assert callbacks == [] and len(sent) == 1


def test_a_run_writes_every_figure_and_counts_the_votes_since(campaign, sent):
    varied_campaign(campaign, pairs=15)
    assert service.stats_refresh(campaign_id=campaign.id, claim="run-1").computed
    stats = CampaignStats.objects.get(campaign=campaign)
    votes = reads.human_votes(campaign_id=campaign.id)
    assert stats.votes_seen == votes.count() and stats.last_vote_id == max(
        votes.values_list("id", flat=True)
    )
    assert stats.computing_since is None and stats.claim == "" and stats.duration_ms is not None
    now = reads.research_analytics(campaign=campaign)
    assert stats.figures["alpha"] == pytest.approx(now["alpha"])
    assert stats.figures["headline_alpha"] == pytest.approx(now["alpha"]["alpha"])
    assert [r["name"] for r in stats.figures["leaderboard"]] == [
        r["name"] for r in now["leaderboard"]
    ]
    assert set(stats.figures["figures"]) >= {"position", "leaderboard", "wins", "time"}
    fresh = reads.campaign_stats(campaign=campaign)
    assert fresh.computed and fresh.new_votes == 0
    pair = factories.PairFactory(campaign=campaign)
    for user in User.objects.filter(username__startswith="varied")[:2]:
        Judgment.objects.create(campaign=campaign, pair=pair, rater=user, choice="a")
    assert reads.campaign_stats(campaign=campaign).new_votes == 2


def test_a_killed_run_leaves_the_figures_and_its_claim_is_taken_back(campaign, sent):
    varied_campaign(campaign, pairs=8)
    service.stats_refresh(campaign_id=campaign.id, claim="run-1")
    before = CampaignStats.objects.get(campaign=campaign)
    # A run that claimed and was then killed -9 (it never wrote): its claim stands for a while.
    CampaignStats.objects.filter(campaign=campaign).update(
        computing_since=timezone.now(), claim="dead-run"
    )
    refused = service.stats_refresh(campaign_id=campaign.id, claim="another")
    assert not refused.computed and refused.reason == "another run is computing"
    after = CampaignStats.objects.get(campaign=campaign)
    assert (after.figures, after.computed_at) == (before.figures, before.computed_at)
    # Its message, redelivered (acks_late: the same task id), takes it back at once ...
    assert service.stats_refresh(campaign_id=campaign.id, claim="dead-run").computed
    # ... and anyone takes a claim older than the task's hard time limit.
    CampaignStats.objects.filter(campaign=campaign).update(
        computing_since=timezone.now() - timedelta(hours=1), claim="long-dead"
    )
    assert service.stats_refresh(campaign_id=campaign.id, claim="another").computed


def test_a_run_that_fails_keeps_the_previous_figures_and_says_why(campaign, sent, monkeypatch):
    varied_campaign(campaign, pairs=8)
    service.stats_refresh(campaign_id=campaign.id, claim="run-1")
    before = CampaignStats.objects.get(campaign=campaign)

    def broken(**kwargs):
        raise MemoryError("half way")

    monkeypatch.setattr(service, "stats_compute", broken)
    with pytest.raises(MemoryError):
        service.stats_refresh(campaign_id=campaign.id, claim="run-2")
    after = CampaignStats.objects.get(campaign=campaign)
    assert (after.figures, after.computed_at, after.votes_seen) == (
        before.figures,
        before.computed_at,
        before.votes_seen,
    )
    assert after.claim == "" and after.computing_since is None and "half way" in after.error


def test_votes_during_a_run_get_a_run_of_their_own(
    campaign, sent, monkeypatch, django_capture_on_commit_callbacks
):
    varied_campaign(campaign, pairs=5)
    real = service.stats_compute

    def slow(**kwargs):
        # A vote arrives mid-run, and its run came and found this one busy.
        CampaignStats.objects.filter(campaign=campaign).update(due_at=timezone.now())
        return real(**kwargs)

    monkeypatch.setattr(service, "stats_compute", slow)
    with django_capture_on_commit_callbacks(execute=True):
        service.stats_refresh(campaign_id=campaign.id, claim="run-1")
    assert sent == [(campaign.id, 0)]


@pytest.mark.parametrize("protocol", ["ranking", "rating", "steps"])
def test_the_other_protocols_cache_their_alpha(campaign, sent, monkeypatch, protocol):
    figures = {
        "ranking": {"ordinal_alpha": 0.41},
        "rating": {"rating_alpha": {"overall": {"alpha": 0.42, "units": 3}}},
        "steps": {"step_alpha_ordinal": 0.43},
    }[protocol]
    campaign.protocol = protocol
    campaign.save(update_fields=["protocol"])
    module, name = {
        "ranking": ("annotate.selectors.sets", "ranking_analytics"),
        "rating": ("annotate.selectors.ratings", "rating_analytics"),
        "steps": ("annotate.selectors.steps", "step_agreement"),
    }[protocol]
    monkeypatch.setattr(f"{module}.{name}", lambda **kw: figures)
    assert service.stats_refresh(campaign_id=campaign.id, claim="run").computed
    alpha = CampaignStats.objects.get(campaign=campaign).figures["headline_alpha"]
    assert alpha == {"ranking": 0.41, "rating": 0.42, "steps": 0.43}[protocol]
    assert reads.campaign_alphas(campaign_ids=[campaign.id]) == {campaign.id: alpha}


@pytest.mark.slow
def test_a_real_worker_keeps_the_figures_fresh_as_votes_arrive(
    transactional_db, redis_app, settings, campaign
):
    kombu_pools.reset()
    settings.ANALYTICS_REFRESH_SECONDS = 0  # every vote's run at once (the window is tested above)
    raters = [factories.UserFactory(username=f"w{i}", role=User.Role.RATER) for i in range(3)]
    for user in raters:
        factories.EnrollmentFactory(campaign=campaign, rater=user)
    factories.PairFactory.create_batch(4, campaign=campaign, needed=3)
    campaign.overlap = 3
    campaign.save(update_fields=["overlap"])

    def seen() -> int:
        row = CampaignStats.objects.filter(campaign=campaign).first()
        return row.votes_seen if row and row.computed_at and not row.computing_since else -1

    with start_worker(redis_app, pool="threads", concurrency=1, perform_ping_check=False):
        for user in raters[:2]:
            _vote(campaign, user, "a")
        wait_for(lambda: seen() == 2, timeout=60, what="the first figures")
        service._asked_until.clear()  # a later window in this process
        _vote(campaign, raters[2], "b")
        wait_for(lambda: seen() == 3, timeout=60, what="the refreshed figures")
    stats = CampaignStats.objects.get(campaign=campaign)
    assert stats.figures["vote_rows"] == 3
    assert reads.campaign_stats(campaign=campaign).new_votes == 0
