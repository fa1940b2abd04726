"""Candidate.read_length: each candidate's reading length, written with its text on every path that
writes a text (save, generation, import, live replies and their resets, the demo seed), cleared by
the database when a text changes without it, measured by the recompute when missing, and
backfilled by migration 0026."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from annotate.models import Campaign, Candidate
from annotate.reading import reading_length
from annotate.services import live
from annotate.services.campaign_stats import candidates_measure
from annotate.services.generation import candidate_generate, generation_start
from annotate.services.responses import responses_import
from annotate.sql.candidates import read_lengths_write
from tests import factories
from tests.models.migrations import migrate_to, schema_at
from tests.protocols.live.helpers import (
    live_campaign,
    live_rater,
    replace_stream,
    send,
    stream_turn,
)

KOREAN = "서울은 한국의 수도이며 인구가 가장 많은 도시입니다."


def _measured(*candidates) -> None:
    for candidate in candidates:
        candidate.refresh_from_db()
        assert candidate.read_length == reading_length(candidate.text), candidate.id


def test_save_measures_the_text_and_a_partial_save_of_the_text_too(db):
    candidate = factories.CandidateFactory(text="Short answer.")
    _measured(candidate)
    candidate.text = KOREAN * 3
    candidate.save(update_fields=["text"])
    _measured(candidate)
    assert candidate.read_length > reading_length("Short answer.")
    candidate.stop_reason = "end_turn"
    candidate.save(update_fields=["stop_reason"])  # the text untouched: the length kept
    _measured(candidate)


def test_the_database_clears_a_length_a_text_update_did_not_write(db):
    candidate = factories.CandidateFactory(text="One two three.")
    Candidate.objects.filter(id=candidate.id).update(text="A different and longer text now.")
    candidate.refresh_from_db()
    assert candidate.read_length is None  # "measure me", never the old text's length
    Candidate.objects.filter(id=candidate.id).update(text="Again.", read_length=1)
    candidate.refresh_from_db()
    assert candidate.read_length == 1  # written with the text: kept as written
    Candidate.objects.filter(id=candidate.id).update(stop_reason="x")
    candidate.refresh_from_db()
    assert candidate.read_length == 1


def test_generated_candidates_are_measured(db, admin_user):
    campaign = factories.CampaignFactory(slug="gen", status=Campaign.Status.DRAFT)
    factories.PromptFactory.create_batch(2, campaign=campaign)
    factories.GeneratorFactory(campaign=campaign, name="concise", model="demo-concise")
    job = generation_start(campaign=campaign, actor=admin_user)
    pending = list(Candidate.objects.filter(job=job))
    assert pending
    _measured(*pending)  # no text yet: 0
    for candidate in pending:
        candidate_generate(candidate_id=candidate.id)
    done = list(Candidate.objects.filter(job=job, status=Candidate.Status.DONE))
    assert len(done) == 2 and all(c.text for c in done)
    _measured(*done)


def test_imported_responses_are_measured(campaign):
    data = json.dumps(
        {
            "prompt": "Explain DNS.",
            "responses": [
                {"model": "llama", "text": "DNS maps **names** to addresses."},
                {"model": "sft", "text": KOREAN},
            ],
        }
    ).encode()
    result = responses_import(campaign=campaign, file_name="r.jsonl", data=data)
    assert result.ok and result.created == 2, result.errors
    _measured(*Candidate.objects.filter(prompt__campaign=campaign))


@pytest.mark.django_db
@pytest.mark.parametrize("on_loop", [True, False], ids=["streaming loop", "task thread"])
def test_live_replies_are_measured_when_streamed_cut_short_and_retried(monkeypatch, on_loop):
    from annotate.providers import demo
    from annotate.providers.base import ProviderError

    campaign = live_campaign()
    rater = live_rater(campaign)
    conversation, _ = live.conversation_start(campaign=campaign, rater=rater)
    turn = send(conversation, rater)
    _measured(turn.reply_a, turn.reply_b)  # created empty: 0

    cut_short = ["Half of ", "a reply ", ProviderError("The connection dropped.", retryable=False)]
    # The text so far is saved at every chunk here (the clock jumps), then the stream fails:
    # the row keeps the part it saved, measured.
    ticks = iter(range(0, 10_000, 10))
    with monkeypatch.context() as patch:
        replace_stream(patch, demo.DemoProvider, cut_short, on_loop=on_loop)
        live.reply_stream(candidate_id=turn.reply_a_id, clock=lambda: next(ticks))
    reply = Candidate.objects.get(id=turn.reply_a_id)
    assert reply.status == Candidate.Status.FAILED and reply.text == "Half of a reply "
    _measured(reply)
    # Tried again: an empty text of length 0, then the whole reply.
    live.reply_retry(rater=rater, candidate_id=reply.id)
    _measured(reply)
    assert reply.text == "" and reply.read_length == 0
    stream_turn(turn)
    assert turn.reply_a.text and turn.reply_b.text
    _measured(turn.reply_a, turn.reply_b)


def test_the_demo_seed_measures_its_samples(db):
    from annotate.management.commands.seed_demo import _arithmetic_samples

    campaign = factories.CampaignFactory(slug="ttc")
    factories.PromptFactory.create_batch(2, campaign=campaign)
    generator = factories.GeneratorFactory(campaign=campaign, model="demo-reasoner")
    _arithmetic_samples(campaign=campaign, generator=generator, samples=2)
    rows = list(Candidate.objects.filter(prompt__campaign=campaign))
    assert len(rows) == 4
    _measured(*rows)


def test_the_recompute_measures_what_was_written_without_a_length(campaign):
    prompt = factories.PromptFactory(campaign=campaign)
    measured = factories.CandidateFactory(prompt=prompt, text="Kept as it is.")
    bare = [factories.CandidateFactory(prompt=prompt, text=t) for t in ("One two.", KOREAN, "")]
    elsewhere = factories.CandidateFactory(text="Another campaign's.")
    Candidate.objects.filter(id__in=[c.id for c in [*bare, elsewhere]]).update(read_length=None)
    assert candidates_measure(campaign_id=campaign.id) == 3
    _measured(measured, *bare)
    elsewhere.refresh_from_db()
    assert elsewhere.read_length is None  # only the campaign's own
    assert candidates_measure(campaign_id=campaign.id) == 0


def test_a_stored_length_is_never_overwritten_by_a_batch_write(db):
    candidate = factories.CandidateFactory(text="Words here.")
    other = factories.CandidateFactory(text="More words.")
    Candidate.objects.filter(id=other.id).update(read_length=None)
    assert read_lengths_write(connection, [(candidate.id, 999), (other.id, 7)]) == 1
    candidate.refresh_from_db()
    other.refresh_from_db()
    assert (candidate.read_length, other.read_length) == (reading_length("Words here."), 7)


@pytest.mark.slow
def test_the_migration_measures_every_existing_candidate(transactional_db):
    with schema_at([("annotate", "0024_rating_judgements")]) as old:
        campaign = old.get_model("annotate", "Campaign").objects.create(title="c", slug="c")
        prompt = old.get_model("annotate", "Prompt").objects.create(
            campaign=campaign, messages=[{"role": "user", "content": "q"}], content_hash="h"
        )
        generator = old.get_model("annotate", "Generator").objects.create(
            campaign=campaign, name="g", model="m", provider="demo"
        )
        texts = ["", "Plain English words.", KOREAN, "x" * 1000]
        candidate = old.get_model("annotate", "Candidate")
        ids = {
            candidate.objects.create(
                prompt=prompt, generator=generator, sample_index=i, text=text
            ).id: text
            for i, text in enumerate(texts)
        }
        new = migrate_to([("annotate", "0025_candidate_read_length")])
        stored = dict(
            new.get_model("annotate", "Candidate").objects.values_list("id", "read_length")
        )
        assert stored == {cid: reading_length(text) for cid, text in ids.items()}
