"""Campaign admin API: token auth, role and campaign checks, imports, generators, enrollment."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.models import Campaign, Enrollment, Generator, Pair, Prompt
from tests import factories


def _api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def admin_api(admin_user):
    return _api(admin_user)


def test_it_lists_and_reads_campaigns_for_researchers(researcher, campaign, other_campaign):
    client = _api(researcher)
    listed = client.get("/api/campaigns/")
    assert listed.status_code == 200
    assert {c["slug"] for c in listed.json()} == {"helpfulness", "other"}
    detail = client.get("/api/campaigns/helpfulness/").json()
    assert detail["title"] == "Helpfulness" and detail["prompt_count"] == 0


def test_it_keeps_raters_and_strangers_out(rater, outsider, campaign, db):
    assert _api().get("/api/campaigns/").status_code == 401
    assert _api(rater).get("/api/campaigns/").status_code == 403
    assert _api(rater).get("/api/campaigns/helpfulness/").status_code == 403
    assert _api(outsider).get("/api/campaigns/helpfulness/").status_code == 404
    assert (
        _api(rater).post("/api/campaigns/helpfulness/status/", {"action": "close"}).status_code
        == 403
    )
    assert _api(outsider).post("/api/campaigns/helpfulness/prompts/import/", {}).status_code == 404
    assert _api(rater).post("/api/campaigns/create/", {"title": "x"}).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == "open" and Campaign.objects.count() == 2


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/campaigns/create/", {"title": "x"}),
        ("patch", "/api/campaigns/helpfulness/update/", {"title": "y"}),
        ("post", "/api/campaigns/helpfulness/status/", {"action": "pause"}),
        ("post", "/api/campaigns/helpfulness/pairs/build/", {}),
        ("post", "/api/campaigns/helpfulness/prompts/import/", {"rows": [{"prompt": "q"}]}),
        ("post", "/api/campaigns/helpfulness/responses/import/", {"rows": [{"prompt": "q"}]}),
        ("post", "/api/campaigns/helpfulness/generators/", {"provider": "demo", "model": "m"}),
        ("post", "/api/campaigns/helpfulness/generation/start/", {"mode": "fast"}),
        ("post", "/api/campaigns/helpfulness/enrollments/add/", {"usernames": ["rita"]}),
        ("post", "/api/campaigns/helpfulness/enrollments/remove/", {"username": "bob"}),
        ("post", "/api/raters/create/", {"username": "z", "password": "long-password"}),
    ],
)
def test_it_lets_only_admins_write(researcher, rater, campaign, method, path, body):
    for user in (researcher, rater):
        response = getattr(_api(user), method)(path, body, format="json")
        assert response.status_code == 403, (user.username, path)
    assert Prompt.objects.count() == 0 and Generator.objects.count() == 0
    assert Enrollment.objects.filter(campaign=campaign).count() == 1


def test_it_creates_updates_and_opens_a_campaign(admin_api, admin_user):
    created = admin_api.post(
        "/api/campaigns/create/",
        {
            "title": "API campaign",
            "guidelines": "Be *kind*",
            "pairing": "all_pairs",
            "aspects": ["helpful"],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    slug = created.json()["slug"]
    campaign = Campaign.objects.get(slug=slug)
    assert campaign.status == "draft" and campaign.created_by == admin_user
    assert campaign.guidelines_html == "<p>Be <em>kind</em></p>\n"

    patched = admin_api.patch(f"/api/campaigns/{slug}/update/", {"overlap": 2}, format="json")
    assert patched.status_code == 200 and patched.json()["overlap"] == 2

    refused = admin_api.post(f"/api/campaigns/{slug}/status/", {"action": "open"}, format="json")
    assert refused.status_code == 409 and "no prompts" in refused.json()["detail"]

    rows = [
        {"prompt": "Q1", "responses": [{"model": "a", "text": "x"}, {"model": "b", "text": "y"}]}
    ]
    imported = admin_api.post(
        f"/api/campaigns/{slug}/responses/import/", {"rows": rows}, format="json"
    )
    assert imported.status_code == 200 and imported.json()["created"] == 2
    opened = admin_api.post(f"/api/campaigns/{slug}/status/", {"action": "open"}, format="json")
    assert opened.status_code == 200 and opened.json() == {
        "status": "open",
        "pairs_created": 1,
        "notes": [],
    }
    assert Pair.objects.get(campaign=campaign).needed == 2


def test_it_imports_prompts_from_a_file_or_rows(admin_api, campaign):
    upload = SimpleUploadedFile("p.csv", b"prompt,id\nHello,h1\nBye,b1\n")
    response = admin_api.post(
        "/api/campaigns/helpfulness/prompts/import/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 200 and response.json()["created"] == 2
    rows = [
        {"prompt": "new"},
        {"prompt": ""},
        {"messages": "nope"},
        {"prompt": "Hello", "id": "h1"},
    ]
    bad = admin_api.post(
        "/api/campaigns/helpfulness/prompts/import/", {"rows": rows}, format="json"
    )
    assert bad.status_code == 400
    assert [e["line"] for e in bad.json()["errors"]] == [2, 3, 4]
    assert Prompt.objects.filter(campaign=campaign).count() == 2
    neither = admin_api.post("/api/campaigns/helpfulness/prompts/import/", {}, format="json")
    assert neither.status_code == 400


def test_it_adds_and_deletes_generators(admin_api, campaign):
    response = admin_api.post(
        "/api/campaigns/helpfulness/generators/",
        {
            "provider": "openai_compatible",
            "model": "llama",
            "base_url": "http://127.0.0.1:9/v1",
            "params": {"temperature": 0.5},
            "samples_per_prompt": 3,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "llama" and body["params"] == {"temperature": 0.5}
    assert (body["endpoint"], body["base_url"]) == ("", "http://127.0.0.1:9/v1")
    key = admin_api.post(
        "/api/campaigns/helpfulness/generators/",
        {"provider": "anthropic", "model": "m", "api_key_env": "SECRET_KEY"},
        format="json",
    )
    assert key.status_code == 400 and "endpoint" in key.json()["api_key_env"][0]
    elsewhere = admin_api.post(
        "/api/campaigns/helpfulness/generators/",
        {"provider": "anthropic", "model": "m", "base_url": "http://127.0.0.1:9/"},
        format="json",
    )
    assert elsewhere.status_code == 400 and elsewhere.json()["detail"].startswith("base_url: ")
    assert (
        admin_api.delete(f"/api/campaigns/helpfulness/generators/{body['id']}/").status_code == 204
    )
    assert not Generator.objects.filter(campaign=campaign).exists()


def test_it_starts_generation(admin_api, campaign, django_capture_on_commit_callbacks):
    empty = admin_api.post("/api/campaigns/helpfulness/generation/start/", {}, format="json")
    assert empty.status_code == 409 and "Import prompts" in empty.json()["detail"]
    factories.PromptFactory(campaign=campaign)
    factories.GeneratorFactory(campaign=campaign)
    with django_capture_on_commit_callbacks(execute=False):
        response = admin_api.post(
            "/api/campaigns/helpfulness/generation/start/", {"mode": "fast"}, format="json"
        )
    assert response.status_code == 202, response.json()
    assert response.json()["mode"] == "fast"
    assert campaign.generation_jobs.count() == 1


def test_it_manages_raters(admin_api, campaign):
    created = admin_api.post(
        "/api/raters/create/", {"username": "dora", "password": "long-password"}, format="json"
    )
    assert created.status_code == 201 and created.json()["role"] == "rater"
    added = admin_api.post(
        "/api/campaigns/helpfulness/enrollments/add/", {"usernames": ["dora"]}, format="json"
    )
    assert added.status_code == 200 and added.json()[0]["username"] == "dora"
    listed = admin_api.get("/api/campaigns/helpfulness/enrollments/").json()
    assert [e["username"] for e in listed] == ["dora"]
    ghost = admin_api.post(
        "/api/campaigns/helpfulness/enrollments/add/", {"usernames": ["ghost"]}, format="json"
    )
    assert ghost.status_code == 409
    removed = admin_api.post(
        "/api/campaigns/helpfulness/enrollments/remove/", {"username": "dora"}, format="json"
    )
    assert removed.status_code == 204


def test_it_publishes_an_openapi_schema_without_warnings(researcher_client, tmp_path):
    from django.core.management import call_command

    # --fail-on-warn turns every drf-spectacular warning (ambiguous types, name clashes) into an error.
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    response = researcher_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    for path in (
        "/api/campaigns/",
        "/api/campaigns/{slug}/prompts/import/",
        "/api/campaigns/{slug}/status/",
    ):
        assert path in schema["paths"]


def test_it_serves_the_api_docs_without_a_cdn(researcher_client):
    response = researcher_client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn." not in page and "jsdelivr" not in page and "unpkg" not in page


def test_it_creates_a_step_campaign_opens_it_and_refuses_a_hostile_pattern(admin_api):
    bad = admin_api.post(
        "/api/campaigns/create/",
        {"title": "Steps", "protocol": "steps", "step_split": "regex", "step_pattern": "("},
        format="json",
    )
    assert bad.status_code == 400 and "step_pattern" in str(bad.json())
    created = admin_api.post(
        "/api/campaigns/create/",
        {"title": "Steps", "protocol": "steps", "step_split": "numbered"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    slug = created.json()["slug"]
    rows = [{"prompt": "Q1", "responses": [{"model": "a", "text": "1. add\n2. carry"}]}]
    admin_api.post(f"/api/campaigns/{slug}/responses/import/", {"rows": rows}, format="json")
    opened = admin_api.post(f"/api/campaigns/{slug}/status/", {"action": "open"}, format="json")
    assert opened.status_code == 200, opened.json()
    from annotate.models import StepTrace

    assert StepTrace.objects.get(candidate_set__campaign__slug=slug).steps == ["1. add", "2. carry"]
    changed = admin_api.patch(
        f"/api/campaigns/{slug}/update/", {"step_split": "paragraph"}, format="json"
    )
    assert changed.status_code in (400, 409) and "step split" in str(changed.json())


def test_the_active_ordering_is_set_through_the_api_and_rescores_at_once(
    admin_api, campaign, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    from annotate import tasks

    monkeypatch.setattr(tasks.priorities_refresh_task, "delay", lambda **kw: sent.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        patched = admin_api.patch(
            f"/api/campaigns/{campaign.slug}/update/", {"ordering": "active"}, format="json"
        )
    assert patched.status_code == 200 and patched.json()["ordering"] == "active"
    assert sent == [{"campaign_id": campaign.pk}]
    refused = admin_api.patch(
        f"/api/campaigns/{campaign.slug}/update/",
        {"ordering": "active", "protocol": "ranking"},
        format="json",
    )
    assert refused.status_code == 400 and "pairwise" in str(refused.json())
