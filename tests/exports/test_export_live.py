"""Live campaigns' exports: whole conversations (``conversations``) and the per-turn pairs in the
pairwise formats (TRL conversational: the prompt is the shared history through the user's
message; HH-RLHF: per-turn transcripts), each loadable with `datasets`."""

from __future__ import annotations

import json

import datasets
import pytest

from annotate.exports.options import (
    BON_FORMATS,
    CONVERSATION_FORMATS,
    FORMATS,
    STEP_FORMATS,
    parse_options,
)
from annotate.services import live
from annotate.services.exports import ExportOptionsError, export_build
from tests.protocols.live.helpers import live_campaign, live_rater, send, stream_turn, vote

pytestmark = pytest.mark.django_db


@pytest.fixture
def chatted():
    """One conversation of two turns (a tie continued from the right reply, then B better) and one
    of a turn without a vote (ended)."""
    campaign = live_campaign(max_turns=2)
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    first = send(conversation, rater, "What is tea?")
    stream_turn(first)
    vote(first, rater, "tie", continue_with="right")
    second = send(conversation, rater, "And coffee?", seed=1)
    stream_turn(second)
    vote(second, rater, "right")
    other = live_rater(campaign, "carol")
    started, _ = live.conversation_start(campaign=campaign, rater=other)
    stream_turn(send(started, other, "Hi"))
    live.conversation_end(conversation=started, rater=other)
    first.refresh_from_db()
    second.refresh_from_db()
    return campaign, first, second


def _load(out, hf_offline):
    return datasets.load_dataset(
        "json", data_files={"train": str(out / "data/train.jsonl")}, cache_dir=str(hf_offline)
    )["train"]


def test_the_conversations_format_has_every_turn_and_loads(tmp_path, hf_offline, chatted):
    campaign, first, second = chatted
    out = tmp_path / "conv"
    summary = export_build(
        campaign=campaign, options=parse_options("conversations", {}), out_dir=out
    )
    assert summary.row_count == 2
    ds = _load(out, hf_offline)
    rows = sorted(ds, key=lambda r: r["conversation_id"])
    row = rows[0]
    assert row["status"] == "ended" and set(row["generators"]) == {"alpha", "beta"}
    assert [t["user"] for t in row["turns"]] == ["What is tea?", "And coffee?"]
    t1, t2 = row["turns"]
    assert t1["choice"] == "tie" and t1["shown_left"] == (0 if first.left_is_a else 1)
    assert t1["continued_with"] == first.continued_with
    assert t1["responses"] == [first.reply_a.text, first.reply_b.text]
    assert t2["choice"] == second.choice
    assert row["messages"][:3] == [
        {"role": "user", "content": "What is tea?"},
        {"role": "assistant", "content": first.continuation},
        {"role": "user", "content": "And coffee?"},
    ]
    assert rows[1]["turns"][0]["choice"] == "" and rows[1]["turns"][0]["continued_with"] == ""
    assert "load_dataset" in (out / "README.md").read_text()


def test_trl_conversational_gives_one_pair_per_decisive_turn_with_the_history(
    tmp_path, hf_offline, chatted
):
    campaign, first, second = chatted
    out = tmp_path / "trl"
    export_build(
        campaign=campaign, options=parse_options("trl-dpo-conversational", {}), out_dir=out
    )
    ds = _load(out, hf_offline)
    assert ds.num_rows == 1  # the tie is dropped (tie_policy drop); the unvoted turn has no vote
    row = ds[0]
    assert row["prompt"] == second.prompt.messages
    assert row["prompt"][1] == {"role": "assistant", "content": first.continuation}
    chosen = second.reply_a.text if second.choice == "a" else second.reply_b.text
    assert row["chosen"] == [{"role": "assistant", "content": chosen}]

    hh = tmp_path / "hh"
    export_build(campaign=campaign, options=parse_options("hh-rlhf", {}), out_dir=hh)
    line = json.loads((hh / "data/train.jsonl").read_text().splitlines()[0])
    assert line["chosen"].startswith("\n\nHuman: What is tea?\n\nAssistant: ")
    assert line["chosen"].endswith(chosen)


PAIRWISE = [
    f
    for f in FORMATS
    if f not in (*BON_FORMATS, *STEP_FORMATS, *CONVERSATION_FORMATS, "ranking", "ratings")
    and f != "sft-messages"
]


@pytest.mark.parametrize("fmt", PAIRWISE)
def test_every_pairwise_format_builds_from_live_turns(tmp_path, chatted, fmt):
    campaign, _, _ = chatted
    summary = export_build(
        campaign=campaign, options=parse_options(fmt, {}), out_dir=tmp_path / fmt
    )
    assert summary.row_count >= 1


def test_the_conversations_format_is_for_live_campaigns(tmp_path, campaign):
    with pytest.raises(ExportOptionsError, match="for live campaigns"):
        export_build(
            campaign=campaign, options=parse_options("conversations", {}), out_dir=tmp_path / "x"
        )
