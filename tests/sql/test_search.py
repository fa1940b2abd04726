"""annotate/sql/search.py and the triggers of migration 0022_search: the search document of every
pair follows every write path (the ORM, ``bulk_create``, a raw ``INSERT … SELECT``, votes, verdicts,
changed texts, deletes), and a search box's text becomes an FTS5 query that is never a syntax
error. On PostgreSQL, and on SQLite through tests/sql/test_on_sqlite.py."""

from __future__ import annotations

import pytest
from django.db import connection

from annotate.models import Judgment, Pair, PairSearch
from annotate.selectors.browse import search_units
from annotate.sql.search import fts_query
from tests import factories

pytestmark = pytest.mark.django_db


def _found(campaign, query: str) -> list[int]:
    return sorted(search_units(campaign, query).values_list("id", flat=True))


@pytest.mark.parametrize(
    ("text", "must", "must_not"),
    [
        ("sql injection", '"sql" AND "injection"', ""),
        ('"sql injection" attack', '"sql injection" AND "attack"', ""),
        ("sql or nosql db", '("sql" OR "nosql") AND "db"', ""),
        ("sql -mysql", '"sql"', '"mysql"'),
        ('-"my sql"', "", '"my sql"'),
        ('a"b AND c* NEAR(d) e:f ^g', '"a b" AND "AND" AND "c" AND "NEAR d" AND "e f" AND "g"', ""),
        ('"unterminated phrase', '"unterminated phrase"', ""),
        ("웹 보안", '"웹" * AND "보안" *', ""),
        ('"데이터 분석" -sql문', '"데이터 분석" *', '"sql문" *'),
        ("foo-bar", '"foo bar"', ""),
        ("or", "", ""),
        ("!!! ... \"\" ''", "", ""),
        ("under_score", '"under score"', ""),
    ],
)
def test_a_search_box_text_becomes_quoted_phrases_only(text, must, must_not):
    fts = fts_query(text)
    assert (fts.must, fts.must_not) == (must, must_not)


def _pair(campaign, *, prompt="", a="", b=""):
    p = factories.PromptFactory(campaign=campaign, messages=[{"role": "user", "content": prompt}])
    return factories.PairFactory(
        campaign=campaign,
        prompt=p,
        candidate_a=factories.CandidateFactory(prompt=p, text=a or "first answer"),
        candidate_b=factories.CandidateFactory(prompt=p, text=b or "second answer"),
    )


def test_a_new_pair_is_found_by_its_prompt_system_prompt_and_both_responses(campaign):
    pair = _pair(campaign, prompt="Why is the sky blue?", a="Rayleigh scattering", b="Dust")
    pair.prompt.system = "Answer like a pirate"
    pair.prompt.save()
    for word in ("sky", "rayleigh", "DUST", "pirate"):
        assert _found(campaign, word) == [pair.id], word
    assert _found(campaign, "user") == []  # the role of a turn is not text
    assert PairSearch.objects.get(pair=pair).campaign_id == campaign.id


def test_votes_verdicts_and_adjudications_add_their_words(campaign, rater):
    pair = _pair(campaign, prompt="A question")
    Judgment.objects.create(campaign=campaign, pair=pair, rater=rater, choice="a", rationale="")
    assert _found(campaign, "parameterised") == []
    Judgment.objects.create(
        campaign=campaign, pair=pair, rater=rater, source="judge", choice="a",
        rationale="Use parameterised queries.",
    )  # fmt: skip
    Judgment.objects.create(
        campaign=campaign, pair=pair, rater=rater, source="adjudicated", choice="b",
        rewrite="A better demonstration",
    )  # fmt: skip
    assert _found(campaign, "parameterised demonstration") == [pair.id]


def test_changed_texts_and_deleted_votes_rebuild_the_document(campaign, rater):
    pair = _pair(campaign, prompt="Old prompt words", a="old answer")
    vote = Judgment.objects.create(
        campaign=campaign, pair=pair, rater=rater, choice="a", rationale="zebra"
    )
    candidate = pair.candidate_a
    candidate.text = "fresh answer about giraffes"
    candidate.save()
    prompt = pair.prompt
    prompt.messages = [{"role": "user", "content": "New prompt about otters"}]
    prompt.save()
    assert _found(campaign, "giraffes otters zebra") == [pair.id]
    assert _found(campaign, "old") == []
    vote.delete()
    assert _found(campaign, "zebra") == []


def test_a_streaming_text_is_indexed_when_it_is_final_not_at_each_save(campaign):
    """Migration 0026: a RUNNING candidate's text so far (a live reply's saves) leaves the document
    alone; the text is indexed when the row leaves RUNNING, done or failed with its part."""
    from annotate.models import Candidate

    pair = _pair(campaign, prompt="Tea", a="placeholder", b="other")
    rows = Candidate.objects.filter(id=pair.candidate_a_id)
    rows.update(status=Candidate.Status.RUNNING, text="")
    before = PairSearch.objects.get(pair=pair).document
    rows.update(text="Oolong is partly")
    assert PairSearch.objects.get(pair=pair).document == before
    assert _found(campaign, "oolong") == []
    rows.update(status=Candidate.Status.DONE, text="Oolong is partly oxidised")
    assert _found(campaign, "oxidised") == [pair.id]

    rows = Candidate.objects.filter(id=pair.candidate_b_id)
    rows.update(status=Candidate.Status.RUNNING, text="Matcha is")
    rows.update(text="Matcha is powdered")
    assert _found(campaign, "powdered") == []
    rows.update(status=Candidate.Status.FAILED, error="The server went away.")
    assert _found(campaign, "powdered") == [pair.id]


def test_a_bulk_insert_and_a_raw_insert_select_are_indexed_too(campaign):
    made = _pair(campaign, prompt="seed words")
    pairs = Pair.objects.filter(campaign=campaign)
    a, b = made.candidate_a, made.candidate_b
    Pair.objects.filter(id=made.id).delete()
    assert not PairSearch.objects.exists()  # gone with its pair
    Pair.objects.bulk_create(
        [Pair(campaign=campaign, prompt=a.prompt, candidate_a=a, candidate_b=b, strategy="x")]
    )
    assert _found(campaign, "seed") == list(pairs.values_list("id", flat=True))
    Pair.objects.all().delete()
    table, search = Pair._meta.db_table, PairSearch._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, prompt_id, candidate_a_id, candidate_b_id, "
            "strategy, gold_answer, needed, assigned, completed, left_a_count, random_key, "
            "priority, excluded, created_at) "
            "SELECT %s, %s, %s, %s, 'x', '', 1, 0, 0, 0, 0, 0, FALSE, %s",
            [campaign.id, a.prompt_id, min(a.id, b.id), max(a.id, b.id), made.created_at],
        )
        cursor.execute(f"SELECT count(*) FROM {search}")
        assert cursor.fetchone()[0] == 1
    assert _found(campaign, "first answer") == list(pairs.values_list("id", flat=True))


def test_deleting_a_campaign_deletes_its_documents(campaign):
    _pair(campaign, prompt="soon gone")
    campaign.delete()
    assert not PairSearch.objects.exists()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM annotate_pairsearch_fts WHERE annotate_pairsearch_fts MATCH 'gone'"
            )
            assert cursor.fetchone()[0] == 0


def test_another_campaigns_pairs_are_never_found(campaign, other_campaign):
    mine = _pair(campaign, prompt="shared words")
    _pair(other_campaign, prompt="shared words")
    assert _found(campaign, "shared") == [mine.id]


def test_a_korean_word_finds_its_forms_with_particles_and_endings(campaign):
    """Korean attaches particles to the word (데이터를): a bare Korean word matches as a prefix,
    an English one still whole."""
    korean = _pair(campaign, prompt="데이터를 정리하는 방법", a="먼저 데이터가 깨끗해야 합니다")
    english = _pair(campaign, prompt="Clean data first", a="datasets and dataframes")
    assert _found(campaign, "데이터") == [korean.id]
    assert _found(campaign, "정리") == [korean.id]
    assert _found(campaign, "데이터 방법") == [korean.id]
    assert _found(campaign, "데이터 -깨끗") == []
    assert _found(campaign, "없는단어") == []
    assert _found(campaign, "data") == [english.id]  # not datasets' prefix only
    assert _found(campaign, "데이터 or clean") == sorted([korean.id, english.id])
    assert _found(campaign, "'데이터") == [korean.id]  # a stray quote is only a separator
    for hostile in ("가'나:*\\", "데이터:* & !", "'''", '"데이터 *"', "데\x00이터", "' | '가"):
        _found(campaign, hostile)  # any text is a query, never a database error
