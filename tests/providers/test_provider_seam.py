"""The seam itself: one Protocol every transport fills, clear refusals, no Django behind it."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from annotate.judge.calls import JudgeCall, VerdictSpec
from annotate.providers import base
from annotate.providers.anthropic_api import AnthropicProvider
from annotate.providers.base import (
    BatchRequest,
    Provider,
    ProviderConfig,
    ProviderError,
    Unsupported,
    provider_for,
)
from annotate.providers.demo import DemoProvider
from annotate.providers.openai_compat import OpenAICompatProvider

PROVIDERS = [AnthropicProvider, OpenAICompatProvider, DemoProvider]
OPERATIONS = sorted(
    name for name, _ in inspect.getmembers(Provider, inspect.isfunction) if not name.startswith("_")
)
CALL = JudgeCall(
    custom_id="v1-o1", rubric="Judge.", user_text="Which?", model="m", spec=VerdictSpec()
)


def test_it_names_every_operation_in_the_protocol():
    assert OPERATIONS == [
        "batch_cancel", "batch_find", "batch_results", "batch_status", "batch_submit",
        "complete", "complete_n", "judge", "judge_batch_results", "judge_batch_submit", "stream",
    ]  # fmt: skip


@pytest.mark.parametrize("cls", PROVIDERS)
def test_it_gives_every_provider_every_operation(cls):
    for name in OPERATIONS:
        assert callable(getattr(cls, name)), f"{cls.__name__}.{name}"


@pytest.mark.parametrize(
    ("operation", "args"),
    [
        ("complete_n", {"messages": [], "system": "", "model": "m", "params": {}, "n": 2}),
        ("batch_submit", {"requests": [BatchRequest("1", [], "", "m")]}),
        ("batch_status", {"batch_id": "b"}),
        ("batch_find", {"size": 1, "created_from": datetime.now(UTC), "exclude": set()}),
        ("batch_cancel", {"batch_id": "b"}),
        ("judge_batch_submit", {"calls": [CALL]}),
    ],
)
def test_it_refuses_what_the_demo_cannot_do_by_name(operation, args):
    with pytest.raises(Unsupported) as info:
        getattr(DemoProvider(), operation)(**args)
    assert info.value.retryable is False
    assert info.value.message.startswith("The offline demo provider cannot ")


def test_it_refuses_batches_on_an_openai_compatible_server_before_any_request():
    provider = provider_for(
        ProviderConfig(kind="openai_compatible", base_url="http://127.0.0.1:9/v1")
    )
    with pytest.raises(Unsupported, match="cannot run Message Batches"):
        provider.batch_status("b")
    with pytest.raises(Unsupported, match="cannot judge in Message Batches"):
        list(provider.judge_batch_results("b"))


def test_it_judges_with_the_demo_through_the_same_method():
    reply = provider_for(ProviderConfig(kind="demo")).judge(
        JudgeCall(**{**CALL.__dict__, "first_text": "- a\n- b\n- c " * 20, "second_text": "no"})
    )
    assert reply.tool_input["choice"] == "1" and reply.custom_id == "v1-o1"


def test_it_refuses_an_unknown_kind():
    with pytest.raises(ProviderError, match="Unknown provider 'imported'"):
        provider_for(ProviderConfig(kind="imported"))


def test_it_counts_one_host_with_one_key_as_one_account():
    a = ProviderConfig(kind="openai_compatible", base_url="http://h/v1", key_env="K", timeout=5)
    b = ProviderConfig(kind="openai_compatible", base_url="http://h/v1", key_env="K", timeout=60)
    c = ProviderConfig(kind="openai_compatible", base_url="http://h/v1")
    assert a.account == b.account != c.account


def test_it_keeps_django_celery_and_models_out_of_the_providers():
    folder = Path(base.__file__).parent
    sources = {p.name: p.read_text() for p in folder.glob("*.py")}
    assert len(sources) >= 4
    imports = re.compile(r"^\s*(import|from)\s+(django|celery|annotate\.models)\b", re.M)
    assert [name for name, text in sources.items() if imports.search(text)] == []
