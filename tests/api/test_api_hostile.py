"""Hostile bodies on the API: each is a 4xx naming the field or line, never a 500 and never stored.

Runs on PostgreSQL (bin/test) and on SQLite: TEST_DATABASE_URL=sqlite:////tmp/x.sqlite3 bin/test <this>.
"""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate.api import parsers
from annotate.models import Campaign, Export, Generator, Prompt
from tests import factories


@pytest.fixture
def api(admin_user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin_user).key}")
    return client


def _raw(api, path: str, body: bytes, method: str = "post"):
    return getattr(api, method)(path, data=body, content_type="application/json")


# --- unknown keys, on every operation ------------------------------------------------------------


def _api_operations() -> list[tuple[str, str]]:
    """(method, route) of every API operation that takes a body, read from the URLconf."""
    api_patterns = next(
        p for p in get_resolver().url_patterns if getattr(p, "namespace", "") == "api"
    )
    found = []
    for pattern in api_patterns.url_patterns:
        assert isinstance(pattern, URLPattern)
        view = pattern.callback.view_class
        for method in ("post", "patch", "put", "delete"):
            if hasattr(view, method):
                found.append((method, str(pattern.pattern)))
    return found


OPERATIONS = _api_operations()


def test_it_finds_every_write_operation():
    assert len(OPERATIONS) >= 18 and ("patch", "campaigns/<slug:slug>/update/") in OPERATIONS


@pytest.mark.parametrize(("method", "route"), OPERATIONS, ids=[f"{m} {r}" for m, r in OPERATIONS])
def test_it_refuses_an_unknown_key_on_every_operation(api, campaign, method, route):
    generator = factories.GeneratorFactory(campaign=campaign)
    pair = factories.PairFactory(campaign=campaign)
    path = "/api/" + route.replace("<slug:slug>", campaign.slug).replace(
        "<int:generator_id>", str(generator.pk)
    ).replace("<int:pair_id>", str(pair.pk))
    # Any other id: the body is refused before the row is looked up.
    path = re.sub(r"<int:\w+>", "1", path)
    response = _raw(api, path, b'{"bogus_key": 1}', method)
    assert response.status_code == 400, response.content
    assert "bogus_key" in json.dumps(response.json())
    assert Generator.objects.filter(pk=generator.pk).exists()


def test_it_refuses_an_export_filter_given_beside_filters(researcher, campaign):
    client = APIClient()
    client.force_authenticate(researcher)
    response = client.post(
        f"/api/campaigns/{campaign.slug}/exports/create/",
        {"format": "trl-kto", "tie_policy": "keep"},
        format="json",
    )
    assert response.status_code == 400
    assert "tie_policy" in response.json()
    assert not Export.objects.exists()


def test_it_refuses_an_unknown_query_parameter(api, campaign):
    response = api.get(f"/api/campaigns/{campaign.slug}/judge/verdicts/?afte=3")
    assert response.status_code == 400 and "afte" in response.json()


# --- what the forms refuse, the API refuses ------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("aspects", [{"x": [1]}]),
        ("aspects", "helpful"),
        ("aspects", ["helpful", "helpful"]),
        ("aspects", ["a,b"]),
        ("aspects", ["x" * 41]),
        ("gold_rate", 5),
        ("gold_rate", -0.1),
        ("gold_min_accuracy", 1.5),
        ("lease_seconds", 0),
        ("lease_seconds", 10**22),
        ("overlap", 0),
        ("overlap", 51),
        ("max_pairs_per_prompt", -1),
        ("rationale_min_length", 10**9),
        ("min_read_ms_per_1k_chars", 10**9),
        ("gold_min_answered", 0),
        ("title", "two\nlines"),
        ("title", "x" * 201),
        ("title", None),
        ("guidelines", "x" * 100_001),
        ("scale", "graded99"),
        ("allow_both_bad", "maybe"),
        ("overlap", "3"),
        ("gold_rate", True),
    ],
)
def test_it_refuses_campaign_settings_the_form_refuses(api, campaign, field, value):
    before = Campaign.objects.filter(pk=campaign.pk).values().get()
    response = api.patch(f"/api/campaigns/{campaign.slug}/update/", {field: value}, format="json")
    assert response.status_code == 400, response.content
    assert field in json.dumps(response.json())
    assert Campaign.objects.filter(pk=campaign.pk).values().get() == before


def test_it_still_accepts_good_settings(api, campaign):
    body = {"aspects": ["helpful", "honest"], "gold_rate": 0.2, "lease_seconds": 30}
    response = api.patch(f"/api/campaigns/{campaign.slug}/update/", body, format="json")
    assert response.status_code == 200, response.content
    campaign.refresh_from_db()
    assert (campaign.aspects, campaign.gold_rate, campaign.lease_seconds) == (
        ["helpful", "honest"],
        0.2,
        30,
    )


# --- bodies no database could store --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/api/campaigns/create/", b'{"title": "a\\u0000b"}', "title"),
        ("/api/campaigns/create/", b'{"title": "t", "guidelines": "\\u0000"}', "guidelines"),
        (
            "/api/campaigns/helpfulness/generators/",
            b'{"provider": "demo", "model": "m", "params": {"stop": ["\\u0000"]}}',
            "params.stop[0]",
        ),
        (
            "/api/campaigns/helpfulness/judge/update/",
            b'{"rubric_text": "be fair\\u0000"}',
            "rubric_text",
        ),
        ("/api/campaigns/create/", b'{"title": "half \\ud800"}', "title"),
    ],
    ids=["title", "guidelines", "params", "rubric", "surrogate"],
)
def test_it_refuses_nul_and_lone_surrogates_naming_the_field(api, campaign, path, body, where):
    response = _raw(api, path, body)
    assert response.status_code == 400, response.content
    assert where in json.dumps(response.json())
    assert Campaign.objects.count() == 1 and not Generator.objects.exists()


def test_it_refuses_a_body_nested_too_deep(api, campaign):
    body = b'{"aspects": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    response = _raw(api, f"/api/campaigns/{campaign.slug}/update/", body, "patch")
    assert response.status_code == 400
    assert "nested deeper than 32 levels (line 1" in response.json()["detail"]


def test_it_refuses_generator_params_nested_too_deep_on_one_line(api, campaign):
    params = {}
    for _ in range(40):
        params = {"x": params}
    body = {"provider": "demo", "model": "m", "params": params}
    response = api.post(f"/api/campaigns/{campaign.slug}/generators/", body, format="json")
    assert response.status_code == 400 and "nested deeper" in response.json()["detail"]
    assert not Generator.objects.exists()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"title": "a", "title": "b"}', "'title' appears twice"),
        (b'{"title": "a", "gold_rate": NaN}', "NaN"),
        (b'{"title": "caf\xe9"}', "not UTF-8"),
        (b'{"title": ', "malformed JSON"),
        (b'{"title": "t", "overlap": ' + b"9" * 5000 + b"}", "unreadable number"),
    ],
    ids=["duplicate-key", "nan", "latin-1", "truncated", "5000-digits"],
)
def test_it_refuses_unreadable_bodies(api, campaign, body, expected):
    response = _raw(api, "/api/campaigns/create/", body)
    assert response.status_code == 400
    assert expected in response.json()["detail"]
    assert Campaign.objects.count() == 1


def test_it_answers_413_to_a_body_over_the_limit(api, campaign, monkeypatch):
    monkeypatch.setattr(parsers, "MAX_BODY_BYTES", 1000)
    body = json.dumps({"title": "t", "guidelines": "x" * 2000}).encode()
    assert _raw(api, "/api/campaigns/create/", body).status_code == 413


def test_it_answers_413_to_an_upload_over_the_limit(api, campaign, monkeypatch):
    from annotate.api import imports as import_api

    monkeypatch.setattr(import_api.PromptImportApi, "max_bytes", 100)
    upload = SimpleUploadedFile("p.jsonl", b'{"prompt": "q"}\n' * 20)
    response = api.post(f"/api/campaigns/{campaign.slug}/prompts/import/", {"file": upload})
    assert response.status_code == 413 and "split it" in response.json()["detail"]
    assert not Prompt.objects.exists()


def test_it_names_the_row_of_an_import_sent_as_json(api, campaign):
    rows = [{"prompt": "fine"}, {"prompt": "also fine", "metadata": {"k": "\u0000"}}]
    response = api.post(
        f"/api/campaigns/{campaign.slug}/prompts/import/", {"rows": rows}, format="json"
    )
    assert response.status_code == 400
    assert "rows[1].metadata.k" in response.json()["errors"][0]["reason"]
    upload = SimpleUploadedFile("p.jsonl", b'{"prompt": "fine"}\n{"prompt": "x\\u0000"}\n')
    response = api.post(f"/api/campaigns/{campaign.slug}/prompts/import/", {"file": upload})
    assert response.status_code == 400
    assert [e["line"] for e in response.json()["errors"]] == [2]
    assert not Prompt.objects.exists()


def test_it_reports_a_refused_import_request_as_import_errors(api, campaign):
    response = api.post(
        f"/api/campaigns/{campaign.slug}/responses/import/",
        {"rows": [{"prompt": "q"}], "skip_existing": True},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["created"] == 0 and "skip_existing" in body["errors"][0]["reason"]


def test_it_bounds_ids_from_the_path_and_the_query(api, campaign):
    huge = "9" * 22
    assert api.delete(f"/api/campaigns/{campaign.slug}/generators/{huge}/").status_code == 404
    assert api.get(f"/api/exports/{huge}/").status_code == 404
    response = api.get(f"/api/campaigns/{campaign.slug}/judge/verdicts/?after={huge}")
    assert response.status_code == 400 and "after" in response.json()
    assert api.get(f"/api/campaigns/{campaign.slug}/judge/verdicts/?after=-1").status_code == 400


def test_it_refuses_wrong_types_in_json_but_reads_forms(api, campaign):
    response = api.post(
        f"/api/campaigns/{campaign.slug}/generators/",
        {"provider": "demo", "model": 5, "samples_per_prompt": "2"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"model", "samples_per_prompt"}
    response = api.post(
        f"/api/campaigns/{campaign.slug}/generators/",
        {"provider": "demo", "model": "m", "samples_per_prompt": "2"},
    )  # multipart: everything is text
    assert response.status_code == 201 and Generator.objects.get().samples_per_prompt == 2


def test_it_reads_a_json_body_past_djangos_form_memory_limit(api, campaign, settings):
    """Django refuses request.body past DATA_UPLOAD_MAX_MEMORY_SIZE (an HTML 400); the API's JSON
    parser reads the stream itself, up to its own limit (imports send their rows as JSON)."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    rows = [{"prompt": f"Prompt {i}: " + "x" * 500} for i in range(10)]
    response = api.post(
        f"/api/campaigns/{campaign.slug}/prompts/import/", {"rows": rows}, format="json"
    )
    assert response.status_code == 200, response.content
    assert Prompt.objects.filter(campaign=campaign).count() == 10


@pytest.mark.parametrize(
    ("username", "code"),
    [("bob.smith@x+1", 201), (" bob", 400), ("bob smith", 400), ("b\u00f6b", 201)],
)
def test_it_takes_the_usernames_django_takes(api, username, code):
    response = api.post(
        "/api/raters/create/",
        {"username": username, "password": "a long passphrase 7"},
        format="json",
    )
    assert response.status_code == code, response.content
    if code == 400:
        assert "username" in response.json()


@pytest.mark.parametrize(
    ("filters", "field", "code"),
    [
        ({"kto_threshold": 0.5}, "kto_threshold", 400),
        ({"kto_threshold": 0.51}, None, 201),
        ({"kto_threshold": 1}, None, 201),
        ({"test_fraction": 1}, "test_fraction", 400),
        ({"test_fraction": 0}, None, 201),
    ],
)
def test_it_holds_open_bounds_of_export_filters(researcher, campaign, filters, field, code):
    client = APIClient()
    client.force_authenticate(researcher)
    response = client.post(
        f"/api/campaigns/{campaign.slug}/exports/create/",
        {"format": "trl-kto", "filters": filters},
        format="json",
    )
    assert response.status_code == code, response.content
    if field:
        assert field in response.json()["filters"]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"provider": "openai_compatible", "model": "m", "base_url": "http://10.0.0.5:8000/v1"}, 201, None),
        ({"provider": "openai_compatible", "model": "m", "base_url": "ftp://example.com"}, 400, "base_url"),
        ({"provider": "anthropic", "model": "m", "base_url": ""}, 201, None),
        ({"provider": "anthropic", "model": "m", "base_url": "https://example.com"}, 400, "base_url"),
        ({"provider": "model-less", "model": "m"}, 400, "provider"),
    ],
)  # fmt: skip
def test_it_reads_a_generators_target_as_the_schema_says(api, campaign, body, code, field):
    response = api.post(f"/api/campaigns/{campaign.slug}/generators/", body, format="json")
    assert response.status_code == code, response.content
    if field:
        assert field in json.dumps(response.json())
