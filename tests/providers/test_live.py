"""The providers against the real services, checking the same contract the fakes are held to
(tests/providers/contract.py). They run with ``bin/test -m live_provider``, each only when its key
or base URL is set, and cost a few cents:

* ANTHROPIC_API_KEY (ANTHROPIC_BASE_URL too, if set; LIVE_ANTHROPIC_MODEL, default
  claude-haiku-4-5): Messages and the judge's forced tool call, streaming, Message Batches
  (waits up to LIVE_BATCH_WAIT_SECONDS, default 900, for the batch to end);
* LIVE_OPENAI_BASE_URL and LIVE_OPENAI_MODEL (LIVE_OPENAI_API_KEY if the server wants a key, e.g.
  https://api.openai.com/v1, or a local Ollama at http://127.0.0.1:11434/v1 without one): a chat
  completion, a stream and the judge's forced function call.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from annotate.providers.base import ANTHROPIC_API_URL, BatchRequest, ProviderConfig, provider_for
from tests.providers import contract

pytestmark = [pytest.mark.live_provider, pytest.mark.enable_socket]

ANTHROPIC_MODEL = os.environ.get("LIVE_ANTHROPIC_MODEL", "claude-haiku-4-5")
OPENAI_MODEL = os.environ.get("LIVE_OPENAI_MODEL", "")
BATCH_WAIT = float(os.environ.get("LIVE_BATCH_WAIT_SECONDS", "900"))
needs_anthropic = pytest.mark.skipif(
    not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_API_KEY_FILE")),
    reason="set ANTHROPIC_API_KEY to check the Anthropic provider against the real API",
)
needs_openai = pytest.mark.skipif(
    not (os.environ.get("LIVE_OPENAI_BASE_URL") and OPENAI_MODEL),
    reason="set LIVE_OPENAI_BASE_URL and LIVE_OPENAI_MODEL to check an OpenAI-compatible server",
)
PARAMS = {"max_tokens": 64}


def _anthropic():
    return provider_for(
        ProviderConfig(
            kind="anthropic",
            base_url=os.environ.get("ANTHROPIC_BASE_URL") or ANTHROPIC_API_URL,
            key_env="ANTHROPIC_API_KEY",
            timeout=60,
        )
    )


@needs_anthropic
def test_it_matches_the_anthropic_messages_api():
    provider = _anthropic()
    completion = provider.complete(
        messages=contract.HELLO, system="Be brief.", model=ANTHROPIC_MODEL, params=PARAMS
    )
    contract.check_completion(completion, model=ANTHROPIC_MODEL)
    contract.check_judge_reply(provider.judge(contract.judge_call(ANTHROPIC_MODEL)))


@needs_anthropic
def test_it_matches_the_anthropic_stream():
    items = list(
        _anthropic().stream(
            messages=contract.HELLO, system="Be brief.", model=ANTHROPIC_MODEL, params=PARAMS
        )
    )
    contract.check_stream(items, model=ANTHROPIC_MODEL)


@needs_anthropic
@pytest.mark.timeout(BATCH_WAIT + 120)
def test_it_matches_the_anthropic_message_batches_api():
    provider = _anthropic()
    started = datetime.now(UTC)
    request = BatchRequest(
        custom_id="live-1", messages=contract.HELLO, system="", model=ANTHROPIC_MODEL, params=PARAMS
    )
    batch_id = provider.batch_submit([request])
    status = provider.batch_status(batch_id)
    contract.check_batch_status(status)
    assert status.id == batch_id
    # The listing the lost-submission recovery relies on finds a batch of that size (ours, or an
    # older one of the same account's made in the same minute).
    assert provider.batch_find(size=1, created_from=started - timedelta(minutes=1), exclude=set())
    deadline = time.monotonic() + BATCH_WAIT
    while not status.ended and time.monotonic() < deadline:
        time.sleep(15)
        status = provider.batch_status(batch_id)
    if not status.ended:
        provider.batch_cancel(batch_id)
        pytest.fail(f"batch {batch_id} did not end in {BATCH_WAIT:.0f} s (LIVE_BATCH_WAIT_SECONDS)")
    contract.check_batch_status(status)
    [result] = list(provider.batch_results(batch_id))
    assert result.custom_id == "live-1" and result.kind == "succeeded"
    contract.check_completion(result.completion, model=ANTHROPIC_MODEL)


@needs_openai
def test_it_matches_an_openai_compatible_server():
    key = "LIVE_OPENAI_API_KEY" if os.environ.get("LIVE_OPENAI_API_KEY") else None
    provider = provider_for(
        ProviderConfig(
            kind="openai_compatible",
            base_url=os.environ["LIVE_OPENAI_BASE_URL"],
            key_env=key,
            timeout=120,
        )
    )
    completion = provider.complete(
        messages=contract.HELLO, system="Be brief.", model=OPENAI_MODEL, params=PARAMS
    )
    contract.check_completion(completion, model=OPENAI_MODEL)
    items = list(
        provider.stream(messages=contract.HELLO, system="", model=OPENAI_MODEL, params=PARAMS)
    )
    contract.check_stream(items, model=OPENAI_MODEL)
    contract.check_judge_reply(provider.judge(contract.judge_call(OPENAI_MODEL)))
