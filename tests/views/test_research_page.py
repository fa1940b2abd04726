"""The researcher page, export creation, progress and download: who may see what."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotate.models import Export, Judgment
from annotate.services.exports import export_run
from tests.exports.builders import campaign_with_votes


@pytest.fixture
def done_export(campaign, researcher):
    campaign_with_votes(campaign)
    export = Export.objects.create(
        campaign=campaign, format="trl-dpo-conversational", created_by=researcher
    )
    export_run(export_id=export.id)
    export.refresh_from_db()
    assert export.status == "done"
    return export


def test_it_shows_progress_votes_per_rater_and_the_export_form(researcher_client, campaign):
    campaign_with_votes(campaign)
    response = researcher_client.get(reverse("annotate:research", args=[campaign.slug]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "votes of 4 wanted" in body  # 4 pairs x overlap 1; 12 votes cast by 3 raters
    assert "rater0" in body and "Start export" in body
    assert response.context["progress"]["votes"] == 12
    assert [v["votes"] for v in response.context["voters"]] == [4, 4, 4]


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("admin_client", 200),
        ("researcher_client", 200),
        ("rater_client", 403),
        ("outsider_client", 404),
    ],
)
def test_it_lets_only_researchers_and_admins_in(request, campaign, persona, status):
    client = request.getfixturevalue(persona)
    for name in ("annotate:research", "annotate:research-analytics"):
        assert client.get(reverse(name, args=[campaign.slug])).status_code == status


def test_it_sends_anonymous_visitors_to_the_login(anon_client, campaign):
    response = anon_client.get(reverse("annotate:research", args=[campaign.slug]))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_it_creates_an_export_and_enqueues_it_after_commit(
    researcher_client, campaign, django_capture_on_commit_callbacks
):
    url = reverse("annotate:export-create", args=[campaign.slug])
    with django_capture_on_commit_callbacks() as callbacks:
        response = researcher_client.post(
            url, {"format": "trl-reward", "tie_policy": "split", "test_fraction": "0.2"}
        )
    assert response.status_code == 302
    export = Export.objects.get()
    assert (export.format, export.status) == ("trl-reward", "queued")
    assert export.filters["tie_policy"] == "split" and export.filters["test_fraction"] == 0.2
    assert len(callbacks) == 1


def test_it_shows_a_bad_filter_next_to_the_form_and_saves_nothing(researcher_client, campaign):
    url = reverse("annotate:export-create", args=[campaign.slug])
    response = researcher_client.post(url, {"format": "trl-reward", "test_fraction": "2"})
    assert response.status_code == 400
    assert "must be at least 0.0 and below 1.0" in response.content.decode()
    htmx = researcher_client.post(url, {"format": "csv-ish"}, headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and "unknown format" in htmx.content.decode()
    assert not Export.objects.exists()


@pytest.mark.parametrize(("persona", "status"), [("rater_client", 403), ("outsider_client", 404)])
def test_it_refuses_export_creation_to_raters(request, campaign, persona, status):
    client = request.getfixturevalue(persona)
    url = reverse("annotate:export-create", args=[campaign.slug])
    assert client.post(url, {"format": "trl-reward"}).status_code == status
    assert not Export.objects.exists()


def test_it_downloads_a_finished_export_as_a_zip(researcher_client, done_export):
    response = researcher_client.get(reverse("annotate:export-download", args=[done_export.id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "helpfulness-trl-dpo-conversational" in response["Content-Disposition"]
    assert b"".join(response.streaming_content)[:2] == b"PK"


@pytest.mark.parametrize(
    ("persona", "status"), [("rater_client", 403), ("outsider_client", 404), ("admin_client", 200)]
)
def test_it_checks_the_exports_own_campaign_for_download_and_progress(
    request, done_export, persona, status
):
    client = request.getfixturevalue(persona)
    for name in ("annotate:export-download", "annotate:export-progress"):
        assert client.get(reverse(name, args=[done_export.id])).status_code == status


def test_a_researcher_of_any_campaign_cannot_reach_a_missing_export(researcher_client):
    assert researcher_client.get(reverse("annotate:export-download", args=[999])).status_code == 404


def test_the_progress_row_polls_while_running_and_stops_when_done(researcher_client, campaign):
    export = Export.objects.create(
        campaign=campaign, format="trl-kto", status="running", progress=40
    )
    url = reverse("annotate:export-progress", args=[export.id])
    body = researcher_client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in body and 'value="40"' in body
    Export.objects.filter(id=export.id).update(status="done", row_count=7)
    body = researcher_client.get(url).content.decode()
    assert "hx-trigger" not in body and "Download .zip" in body


def test_the_analytics_partial_shows_agreement_bias_and_the_leaderboard(
    researcher_client, campaign
):
    campaign_with_votes(campaign)
    url = reverse("annotate:research-analytics", args=[campaign.slug])
    response = researcher_client.get(url, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body  # the partial only
    assert response.context["alpha"]["alpha"] is not None
    assert [row["name"] for row in response.context["leaderboard"]] == ["gen-x", "gen-y"]
    assert "Krippendorff" in body and "Bradley–Terry" in body
    assert body.count("<svg") >= 4  # progress, position bias, leaderboard, win rates (+ time)
    assert "rater0" in body
    page = researcher_client.get(url)
    assert "<html" in page.content.decode()  # without htmx: a page of its own


def test_the_analytics_show_the_cached_figures_and_how_fresh_they_are(
    researcher_client, campaign, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from annotate.models import CampaignStats
    from annotate.services.campaign_stats import stats_refresh

    campaign_with_votes(campaign)
    url = reverse("annotate:research-analytics", args=[campaign.slug])
    # No figures yet, a small campaign: computed in the request, over every vote.
    body = researcher_client.get(url).content.decode()
    assert "Computed just now over all 12 votes." in body and "Krippendorff" in body
    assert "Recompute" not in body  # admins only
    stats_refresh(campaign_id=campaign.id, claim="run")
    CampaignStats.objects.filter(campaign=campaign).update(
        computed_at=timezone.now() - timedelta(minutes=2), votes_seen=1_000_000
    )
    for first in Judgment.objects.filter(campaign=campaign, choice="a")[:2]:  # two revisions
        Judgment.objects.create(
            campaign=campaign, pair=first.pair, rater=first.rater, choice="b", revises=first
        )
    body = researcher_client.get(url).content.decode()
    assert "Computed 2\xa0minutes ago over 1,000,000 votes; 2 new votes since." in body
    assert "Krippendorff" in body and body.count("<svg") >= 4
    # A big campaign with no figures yet shows none and says why (a worker computes them).
    CampaignStats.objects.all().delete()
    settings.ANALYTICS_INLINE_MAX_VOTES = 5
    body = researcher_client.get(url).content.decode()
    assert "Not computed yet" in body and "Krippendorff" not in body


def test_the_recompute_button_is_for_admins_and_asks_a_worker(
    request, campaign, admin_client, django_capture_on_commit_callbacks
):
    from annotate.models import CampaignStats

    url = reverse("annotate:research-analytics-recompute", args=[campaign.slug])
    page = admin_client.get(reverse("annotate:research-analytics", args=[campaign.slug]))
    assert url in page.content.decode()
    for persona, status in (
        ("researcher_client", 403),
        ("rater_client", 403),
        ("outsider_client", 404),
    ):
        assert request.getfixturevalue(persona).post(url).status_code == status
    assert request.getfixturevalue("anon_client").post(url).status_code == 302
    assert not CampaignStats.objects.exists()
    assert admin_client.get(url).status_code == 405
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(url)
    assert response.status_code == 302 and response["Location"].endswith("#analytics")
    assert CampaignStats.objects.get(campaign=campaign).due_at is not None
    assert len(callbacks) == 1  # the task, sent once the request commits


@pytest.mark.parametrize(
    ("field", "value"),
    [("min_gold_accuracy", "nan"), ("test_fraction", "inf"), ("kto_threshold", "NaN")],
)
def test_a_non_finite_number_is_a_400_next_to_the_form(researcher_client, campaign, field, value):
    url = reverse("annotate:export-create", args=[campaign.slug])
    response = researcher_client.post(url, {"format": "trl-kto", field: value})
    assert response.status_code == 400
    assert f"<strong>{field}</strong>: expected a finite number" in response.content.decode()
    assert not Export.objects.exists()


def test_an_empty_export_shows_why_and_offers_no_download(researcher_client, campaign, researcher):
    campaign_with_votes(campaign)
    export = Export.objects.create(
        campaign=campaign, format="trl-kto", filters={"source": "judge"}, created_by=researcher
    )
    export_run(export_id=export.id)
    row = researcher_client.get(
        reverse("annotate:export-progress", args=[export.id]), headers={"HX-Request": "true"}
    ).content.decode()
    assert "Failed" in row and "No rows to export: no vote comes from the AI judge" in row
    assert "Download" not in row


def test_an_export_row_says_its_worker_was_lost_and_stops_polling_when_it_ends(
    researcher_client, campaign
):
    from annotate.models import WorkRecovery

    campaign_with_votes(campaign)
    export = Export.objects.create(campaign=campaign, format="trl-kto", attempts=1)
    WorkRecovery.objects.create(kind="export", job_id=export.id, rows=1)  # queued again
    row_url = reverse("annotate:export-progress", args=[export.id])
    row = researcher_client.get(row_url, headers={"HX-Request": "true"}).content.decode()
    assert "it is being built again from scratch (attempt 2 of 3)" in row
    assert 'hx-trigger="every 2s"' in row

    export_run(export_id=export.id)
    row = researcher_client.get(row_url, headers={"HX-Request": "true"}).content.decode()
    assert "Built again after the worker building it stopped" in row
    assert "every 2s" not in row  # ended: the row no longer polls
    api = researcher_client.get(reverse("api:export-detail", args=[export.id])).json()
    assert (api["attempts"], api["lost_work"][:12]) == (2, "Built again ")
