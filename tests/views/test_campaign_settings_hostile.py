"""No campaign setting can break a page: every field set through the API to its boundaries (accepted)
and to hostile values (refused), then every rater, admin and researcher page of the campaign loads.

Runs on PostgreSQL (bin/test) and on SQLite: TEST_DATABASE_URL=sqlite:////tmp/x.sqlite3 bin/test <this>.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from annotate.models import Campaign, User
from annotate.services.assignment import assignment_next
from tests import factories

LOUD_MARKDOWN = "# h\n\n<script>alert(1)</script>\n\n" + "**b** `c` [l](javascript:x) " * 50

LOW = {
    "title": "x",
    "guidelines": "",
    "scale": "binary",
    "allow_both_bad": False,
    "aspects": [],
    "rationale": "off",
    "rationale_min_length": 0,
    "allow_rewrite": False,
    "min_read_ms_per_1k_chars": 0,
    "overlap": 1,
    "lease_seconds": 30,
    "ordering": "finish_started",
    "pairing": "cross_generator",
    "max_pairs_per_prompt": 0,
    "self_id_policy": "hide",
    "gold_rate": 0,
    "gold_min_accuracy": 0,
    "gold_min_answered": 1,
    "judge_mode": "off",
}
HIGH = {
    "title": "\u202eΩ<b>&amp;" + "é" * 190,
    "guidelines": (LOUD_MARKDOWN * 40)[:99_999] + "x",
    "scale": "graded7",
    "allow_both_bad": True,
    "aspects": [f"aspect {i} " + "ß" * 30 for i in range(12)],
    "rationale": "required",
    "rationale_min_length": 5000,
    "allow_rewrite": True,
    "min_read_ms_per_1k_chars": 60_000,
    "overlap": 50,
    "lease_seconds": 86_400,
    "ordering": "random",
    "pairing": "judge_ranked",
    "max_pairs_per_prompt": 1000,
    "self_id_policy": "show_flagged",
    "gold_rate": 1,
    "gold_min_accuracy": 1,
    "gold_min_answered": 1000,
    "judge_mode": "before_vote",
}
HOSTILE = {
    "title": ["", " ", "a\x00b", "a\nb", "x" * 201, None, 5, ["t"]],
    "guidelines": ["\x00", "x" * 100_001, None, {"a": 1}],
    "scale": ["", "graded99", None, 7],
    "allow_both_bad": ["maybe", None, 2],
    "aspects": ["helpful", [{"x": [1]}], [1], [""], ["a,b"], ["a"] * 2, ["x"] * 13, ["a\tb"],
                ["x" * 41], None, {"a": 1}],
    "rationale": ["sometimes", None],
    "rationale_min_length": [-1, 5001, 10**22, 1.5, "3", None],
    "allow_rewrite": ["yes", None],
    "min_read_ms_per_1k_chars": [-1, 60_001, 10**22, None],
    "overlap": [0, -1, 51, 10**22, None, "2"],
    "lease_seconds": [0, 29, 86_401, -5, 10**22, None],
    "ordering": ["", "sideways", None],
    "pairing": ["", "everything", None],
    "max_pairs_per_prompt": [-1, 1001, 10**22, None],
    "self_id_policy": ["", "ignore", None],
    "gold_rate": [5, -0.1, 1.01, 10**22, "0.5", True, None],
    "gold_min_accuracy": [1.5, -1, None],
    "gold_min_answered": [0, 1001, -1, None],
    "judge_mode": ["", "always", None],
}  # fmt: skip


def _pages(campaign: Campaign) -> dict[str, list[str]]:
    slug = campaign.slug
    return {
        "rater": [
            reverse("annotate:home"),
            reverse("annotate:rate", args=[slug]),
            reverse("annotate:rate-history", args=[slug]),
        ],
        "admin": [
            reverse("annotate:home"),
            reverse("annotate:campaign-detail", args=[slug]),
            reverse("annotate:campaign-edit", args=[slug]),
            reverse("annotate:leases", args=[slug]),
            reverse("annotate:judge", args=[slug]),
            reverse("annotate:judge-progress", args=[slug]),
            reverse("annotate:generation-progress", args=[slug]),
            reverse("annotate:research", args=[slug]),
            reverse("annotate:rater-create") + f"?campaign={slug}",
            f"/backoffice/annotate/campaign/{campaign.pk}/change/",
            "/backoffice/annotate/campaign/",
            f"/api/campaigns/{slug}/",
            f"/api/campaigns/{slug}/judge/",
        ],
        "researcher": [
            reverse("annotate:research", args=[slug]),
            reverse("annotate:research-analytics", args=[slug]),
            reverse("annotate:export-list", args=[slug]),
            reverse("annotate:campaign-detail", args=[slug]),
        ],
    }


@pytest.fixture
def people(db):
    admin = factories.UserFactory(
        username="root", role=User.Role.ADMIN, is_staff=True, is_superuser=True
    )
    researcher = factories.UserFactory(username="res", role=User.Role.RESEARCHER)
    rater = factories.UserFactory(username="rat", role=User.Role.RATER)
    return {"admin": admin, "researcher": researcher, "rater": rater}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _every_page_loads(campaign: Campaign, people) -> None:
    campaign.refresh_from_db()
    for persona, urls in _pages(campaign).items():
        client = _client(people[persona])
        for url in urls:
            response = client.get(url)
            assert response.status_code < 500, (persona, url, response.status_code)
            assert response.status_code in (200, 302), (persona, url, response.status_code)


def _campaign_with_a_pair(people, settings: dict) -> Campaign:
    response = _api(people["admin"]).post("/api/campaigns/create/", settings, format="json")
    assert response.status_code == 201, response.content
    campaign = Campaign.objects.get(slug=response.json()["slug"])
    campaign.status = Campaign.Status.OPEN
    campaign.save(update_fields=["status"])
    factories.EnrollmentFactory(campaign=campaign, rater=people["rater"])
    factories.PairFactory.create_batch(2, campaign=campaign)
    assignment_next(campaign=campaign, rater=people["rater"])  # the rater holds a lease
    return campaign


@pytest.mark.parametrize("settings", [LOW, HIGH], ids=["lowest", "highest"])
def test_it_serves_every_page_at_the_boundaries(people, settings):
    campaign = _campaign_with_a_pair(people, settings)
    stored = Campaign.objects.filter(pk=campaign.pk).values(*settings).get()
    assert stored == settings
    _every_page_loads(campaign, people)


def test_it_refuses_every_hostile_value_and_still_serves_every_page(people):
    campaign = _campaign_with_a_pair(people, HIGH)
    before = Campaign.objects.filter(pk=campaign.pk).values().get()
    api = _api(people["admin"])
    path = f"/api/campaigns/{campaign.slug}/update/"
    for field, values in HOSTILE.items():
        for value in values:
            response = api.patch(path, {field: value}, format="json")
            assert response.status_code == 400, (field, value, response.content)
            assert field in response.content.decode(), (field, value)
    assert Campaign.objects.filter(pk=campaign.pk).values().get() == before
    _every_page_loads(campaign, people)


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "a\x00b"), ("aspects", "a, a"), ("gold_rate", "5"), ("lease_seconds", "0"),
     ("guidelines", "x" * 100_001), ("overlap", "9" * 22), ("aspects", "x" * 41)],
)  # fmt: skip
def test_the_edit_page_refuses_what_the_api_refuses(people, field, value):
    campaign = _campaign_with_a_pair(people, LOW)
    data = {**LOW, field: value, "aspects": value if field == "aspects" else ""}
    data = {k: v for k, v in data.items() if v is not False}  # an unchecked box is not sent
    response = _client(people["admin"]).post(
        reverse("annotate:campaign-edit", args=[campaign.slug]), data
    )
    assert response.status_code in (200, 400), response.status_code
    assert Campaign.objects.get(pk=campaign.pk).title == "x"
    if response.status_code == 200:
        assert b"errorlist" in response.content or b"error" in response.content


def test_the_back_office_refuses_what_the_api_refuses(people):
    campaign = _campaign_with_a_pair(people, LOW)
    data = {**LOW, "aspects": '[{"x": [1]}]', "status": "open", "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00", "slug": campaign.slug, "lease_seconds": 0}  # fmt: skip
    data = {k: v for k, v in data.items() if v is not False}
    response = _client(people["admin"]).post(
        f"/backoffice/annotate/campaign/{campaign.pk}/change/", data
    )
    assert response.status_code == 200  # the form again, with its errors
    assert b"Aspect 1 is not a name" in response.content
    assert b"greater than or equal to 30" in response.content
    assert Campaign.objects.get(pk=campaign.pk).aspects == []
