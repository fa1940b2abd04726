"""What the OpenAPI schema says, checked against what the API does: the 429 of token requests, the
shapes of the inputs with rules across fields, and the import rows' patterns against the importers.
(tests/api/test_api_schemathesis.py sends the schema's own examples; these pin the details.)"""

from __future__ import annotations

import json
import re

import pytest
from django.core.validators import URLValidator

from annotate import endpoints
from annotate.api import import_rows, targets
from annotate.exports.options import RAW_FORMATS, SOURCES
from annotate.services.prompts import RowError, external_id_parse
from annotate.services.responses import responses_import

OPERATIONS = ("get", "post", "patch", "put", "delete")


@pytest.fixture
def schema(researcher_client) -> dict:
    response = researcher_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method in OPERATIONS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def _component(schema: dict, ref: dict) -> dict:
    """The component a property refers to, directly or as drf-spectacular's allOf of one."""
    ref = ref if "$ref" in ref else ref["allOf"][0]
    return schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def test_every_token_operation_documents_its_429_and_retry_after(schema):
    found = list(_operations(schema))
    assert len(found) >= 28
    for label, operation in found:
        assert {"tokenAuth": []} in operation["security"], label
        throttled = operation["responses"].get("429")
        assert throttled, label
        assert throttled["headers"]["Retry-After"]["schema"]["type"] == "integer", label


def test_no_request_field_is_this_or_blank_as_a_oneof(schema):
    """A pattern that allows "" would match both branches of such a oneOf: it is an anyOf."""
    blank = {"type": "string", "maxLength": 0}
    for name, component in schema["components"]["schemas"].items():
        for prop in component.get("properties", {}).values():
            assert blank not in prop.get("oneOf", []), name
    guidelines = schema["components"]["schemas"]["CampaignCreateInput"]["properties"]["guidelines"]
    assert blank in guidelines["anyOf"]


def test_an_import_file_is_an_upload(schema):
    body = schema["paths"]["/api/campaigns/{slug}/prompts/import/"]["post"]["requestBody"]
    upload = _component(schema, body["content"]["multipart/form-data"]["schema"])
    assert upload["properties"]["file"]["format"] == "binary"


def test_an_export_is_a_dataset_with_one_source_or_raw_votes_with_any(schema):
    body = schema["paths"]["/api/campaigns/{slug}/exports/create/"]["post"]["requestBody"]
    shapes = [
        _component(schema, ref)
        for ref in _component(schema, body["content"]["application/json"]["schema"])["oneOf"]
    ]
    by_formats = {}
    for shape in shapes:
        formats = _component(schema, shape["properties"]["format"])["enum"]
        filters = _component(schema, shape["properties"]["filters"])
        by_formats[frozenset(formats)] = set(
            _component(schema, filters["properties"]["source"])["enum"]
        )
    assert by_formats.pop(frozenset(RAW_FORMATS)) == set(SOURCES)
    assert list(by_formats.values()) == [set(SOURCES) - {"all"}]


def _shapes(schema: dict, path: str) -> dict[str, dict]:
    body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return {
        ref["$ref"].rsplit("/", 1)[1]: _component(schema, ref)
        for ref in _component(schema, body)["oneOf"]
    }


@pytest.mark.parametrize(
    ("path", "name", "keep"),
    [
        ("/api/campaigns/{slug}/generators/", "Generator", []),
        ("/api/campaigns/{slug}/judge/update/", "Judge", ["JudgeConfigKeepProvider"]),
    ],
)
def test_the_targets_name_the_operators_endpoints(researcher_client, settings, path, name, keep):
    settings.PROVIDER_ENDPOINTS = json.dumps(
        {"vllm.gpu-1": {"provider": "openai_compatible", "base_url": "http://10.0.0.5:8000/v1"}}
    )
    response = researcher_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    shapes = _shapes(json.loads(response.content), path)
    assert sorted(shapes) == sorted(
        [
            *keep,
            *(f"{t}{name}Input" for t in ("Anthropic", "OpenAIServer", "Demo", "OpenAIEndpoint")),
        ]
    )
    named = re.compile(shapes[f"OpenAIEndpoint{name}Input"]["properties"]["endpoint"]["pattern"])
    assert named.search("vllm.gpu-1") and not named.search("vllmXgpu-1")
    assert "base_url" in shapes[f"OpenAIServer{name}Input"]["required"]


# --- patterns against the code that applies the rule --------------------------------------------

URLS = [
    "http://localhost:8000/v1",
    "https://api.example.com",
    "http://10.0.0.5:8000/v1?x=1",
    "  https://a-b.example.co.uk/path#frag  ",
    "http://example.com/\n",  # trimmed
    "http://gpu1:8000/v1",  # Django wants a top-level domain
    "ftp://example.com",
    "http://256.1.1.1/",
    "http://-a.example.com",
    "http://exa mple.com",
    "https://",
    "",
]


def test_the_base_url_pattern_takes_the_usual_servers_and_nothing_the_models_refuse():
    """The API reads base URLs a little more strictly than the models' URLValidator, never less."""
    accepted = [url for url in URLS if re.search(targets.HTTP_URL, url)]
    assert accepted == URLS[:5]
    for url in accepted:
        URLValidator(schemes=["http", "https"])(url.strip())
        assert (
            endpoints.target_errors(provider="openai_compatible", endpoint="", base_url=url) == {}
        )


IDS = ["q1", " q1 ", "\tq1\n", "", "  ", "a" * 200, " " + "a" * 200 + " ", "a" * 201, "a\tb", "ü"]


@pytest.mark.parametrize("value", IDS)
def test_the_id_patterns_say_what_the_importer_takes(value):
    try:
        given = external_id_parse({"id": value}) != ""
        accepted = True
    except RowError:
        given = accepted = False
    assert bool(re.search(import_rows.ID["anyOf"][1]["pattern"], value)) == accepted, value
    given_pattern = import_rows._ID_GIVEN["anyOf"][1]["pattern"]
    assert bool(re.search(given_pattern, value)) == (accepted and given), value


MODELS = ["llama-3", " llama-3 ", "\u2003m\u2003", "\tm", "", " ", "m" * 200, "m" * 201]


@pytest.mark.parametrize("value", MODELS)
def test_the_model_pattern_says_what_the_importer_takes(campaign, value):
    row = {"prompt": "Q", "model": value, "response": "An answer."}
    result = responses_import(campaign=campaign, file_name="r.jsonl", data=json.dumps(row).encode())
    assert bool(re.search(import_rows.MODEL["pattern"], value)) == result.ok, result.errors


def test_every_row_shape_is_closed():
    for row in (import_rows.PROMPT_ROW, import_rows.RESPONSE_ROW):
        for shape in row["oneOf"]:
            assert shape["additionalProperties"] is False and shape["required"]


@pytest.mark.django_db(transaction=True)
def test_the_schema_is_built_for_requests_arriving_together(live_server, researcher):
    """Two threads building the document at once used to trip over each other (a 500)."""
    from concurrent.futures import ThreadPoolExecutor
    from urllib.request import Request, urlopen

    from rest_framework.authtoken.models import Token

    key = Token.objects.create(user=researcher).key
    url = live_server.url.replace("localhost", "127.0.0.1") + "/api/schema/"

    def fetch(_):
        request = Request(url, headers={"Authorization": f"Token {key}"})
        with urlopen(request, timeout=60) as response:
            return response.status, len(response.read())

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(fetch, range(24)))
    assert {status for status, _ in results} == {200}
    assert len({size for _, size in results}) == 1  # the same document each time
