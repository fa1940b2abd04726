"""The operator's endpoints (annotate/endpoints.py): how PROVIDER_ENDPOINTS is read, the pairing
rule, and the config the worker builds from a stored row."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from annotate.endpoints import (
    check_endpoints,
    endpoint_choices,
    operator_endpoints,
    parse_endpoints,
    provider_config,
    target_errors,
)
from annotate.providers.base import ProviderConfig, ProviderError

VLLM = {"provider": "openai_compatible", "base_url": "http://gpu1:8000/v1", "key_env": "VLLM_KEY"}


@pytest.fixture
def vllm(settings):
    settings.PROVIDER_ENDPOINTS = json.dumps({"vllm": VLLM, "ollama": {**VLLM, "key_env": ""}})
    settings.ANTHROPIC_BASE_URL = None


def test_it_always_has_the_operators_anthropic_key_for_anthropics_api(settings):
    settings.PROVIDER_ENDPOINTS = ""
    settings.ANTHROPIC_BASE_URL = None
    [default] = operator_endpoints().values()
    assert (default.name, default.base_url, default.key_env) == (
        "anthropic",
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
    )
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:4000"  # the operator's own proxy
    assert operator_endpoints()["anthropic"].base_url == "http://127.0.0.1:4000"


def test_it_reads_named_endpoints_with_their_limits(vllm, settings):
    settings.PROVIDER_ENDPOINTS = json.dumps({"vllm": {**VLLM, "requests_per_minute": 600}})
    endpoint = operator_endpoints()["vllm"]
    assert (endpoint.base_url, endpoint.key_env, endpoint.requests_per_minute) == (
        "http://gpu1:8000/v1",
        "VLLM_KEY",
        600.0,
    )
    assert endpoint_choices("openai_compatible") == [("vllm", "vllm — http://gpu1:8000/v1")]
    assert [name for name, _ in endpoint_choices("anthropic")] == ["anthropic"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{oops", "not valid JSON"),
        ("[]", "give a JSON object"),
        ('{"a b": {}}', "is not an endpoint name"),
        ('{"x": {"provider": "openai_compatible", "base_url": "ftp://h"}}', "http(s) URL"),
        ('{"x": {"provider": "demo", "base_url": "http://h"}}', "provider must be one of"),
        ('{"x": {"provider": "anthropic", "base_url": "http://h"}}', "needs key_env"),
        (json.dumps({"x": {**VLLM, "key_env": "sk-123"}}), "must name an environment variable"),
        (json.dumps({"x": {**VLLM, "keyenv": "K"}}), "unknown field 'keyenv'"),
        (json.dumps({"x": {**VLLM, "requests_per_minute": -1}}), "positive number"),
    ],
)
def test_it_refuses_a_broken_configuration_naming_what_is_wrong(raw, message):
    with pytest.raises(ImproperlyConfigured, match="^PROVIDER_ENDPOINTS: ") as info:
        parse_endpoints(raw)
    assert message in str(info.value)


def test_it_reports_a_broken_configuration_as_a_system_check(settings):
    settings.PROVIDER_ENDPOINTS = "{oops"
    [error] = check_endpoints()
    assert error.id == "annotate.E001" and "not valid JSON" in error.msg
    settings.PROVIDER_ENDPOINTS = json.dumps({"vllm": VLLM})
    assert check_endpoints() == []


@pytest.mark.parametrize(
    ("provider", "endpoint", "base_url", "field"),
    [
        ("anthropic", "", "http://evil.example/v1", "base_url"),
        ("anthropic", "anthropic", "http://evil.example/v1", "base_url"),
        ("anthropic", "vllm", "", "endpoint"),  # an endpoint of the other kind
        ("openai_compatible", "vllm", "http://evil.example/v1", "base_url"),
        ("openai_compatible", "anthropic", "", "endpoint"),
        ("openai_compatible", "SECRET_KEY", "", "endpoint"),
        ("openai_compatible", "", "", "endpoint"),
        ("openai_compatible", "", "file:///etc/passwd", "base_url"),
    ],
)
def test_it_names_the_field_of_a_target_that_would_send_a_key_elsewhere(
    vllm, provider, endpoint, base_url, field
):
    errors = target_errors(provider=provider, endpoint=endpoint, base_url=base_url)
    assert list(errors) == [field]


@pytest.mark.parametrize(
    ("provider", "endpoint", "base_url"),
    [
        ("anthropic", "anthropic", ""),
        ("openai_compatible", "vllm", ""),
        ("openai_compatible", "ollama", ""),
        ("openai_compatible", "", "http://127.0.0.1:11434/v1"),
        ("demo", "whatever", "http://ignored"),
    ],
)
def test_it_allows_the_operators_endpoints_and_key_less_urls(vllm, provider, endpoint, base_url):
    assert target_errors(provider=provider, endpoint=endpoint, base_url=base_url) == {}


def test_it_builds_the_workers_config_from_the_endpoint_not_from_the_row(vllm):
    assert provider_config(
        provider="openai_compatible", endpoint="vllm", base_url="", params={"timeout": 7}
    ) == ProviderConfig(
        kind="openai_compatible",
        base_url="http://gpu1:8000/v1",
        key_env="VLLM_KEY",
        timeout=7.0,
        endpoint="vllm",
    )
    assert (
        provider_config(
            provider="openai_compatible", endpoint="", base_url="http://127.0.0.1:9/v1", params={}
        ).key_env
        is None
    )
    # An Anthropic row that names nothing uses the operator's default (what bin/run creates).
    config = provider_config(provider="anthropic", endpoint="", base_url="", params=None)
    assert (config.base_url, config.key_env) == ("https://api.anthropic.com", "ANTHROPIC_API_KEY")
    assert provider_config(provider="demo", endpoint="", base_url="", params={}).kind == "demo"


@pytest.mark.parametrize(
    ("provider", "endpoint", "base_url", "message"),
    [
        ("anthropic", "", "http://evil.example", "Refused before sending: base_url"),
        ("openai_compatible", "OLD_KEY_VAR", "", "Refused before sending: endpoint"),
        ("imported", "", "", "Imported generators are not generated"),
    ],
)
def test_it_refuses_a_stored_row_that_breaks_the_rule_without_retrying(
    vllm, provider, endpoint, base_url, message
):
    with pytest.raises(ProviderError) as info:
        provider_config(provider=provider, endpoint=endpoint, base_url=base_url, params={})
    assert info.value.retryable is False and info.value.message.startswith(message)
