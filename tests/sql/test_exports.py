"""annotate/sql/exports.py: the export's read transaction settings (PostgreSQL; SQLite sets none)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from annotate.selectors.exports import export_read_transaction
from annotate.sql import exports as export_sql
from tests.sql import ON_POSTGRES


def _show(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


@pytest.mark.postgresql
def test_it_tunes_the_read_transaction_for_one_pass_and_only_it(transactional_db):
    before = {name: _show(name) for name in ("cursor_tuple_fraction", "work_mem", "jit")}
    with export_read_transaction():
        assert connection.in_atomic_block
        assert (_show("cursor_tuple_fraction"), _show("work_mem"), _show("jit")) == (
            "1",
            "64MB",
            "off",
        )
    assert {name: _show(name) for name in before} == before  # SET LOCAL: gone at the commit


@pytest.mark.postgresql
def test_outside_a_transaction_it_refuses_rather_than_do_nothing(transactional_db):
    with pytest.raises(RuntimeError, match="outside a transaction"):
        export_sql.export_read_settings()
    with transaction.atomic():
        export_sql.export_read_settings()


def test_the_read_transaction_sends_the_settings_on_postgresql_only(db):
    # SQLite streams without a transaction (the project opens SQLite transactions IMMEDIATE, which
    # would block raters for the whole export), so nothing is sent there.
    with CaptureQueriesContext(connection) as ctx, export_read_transaction():
        pass
    sent = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert sent == ([export_sql._SETTINGS] if ON_POSTGRES else [])


def _vote_campaign(campaign, rater):
    """Prompts with one and several pairs, pairs with several votes, made out of order (ids do not
    follow prompts), one pair judged, responses with reasoning and costs: what the order and the
    columns of the export's SELECT can get wrong."""
    from decimal import Decimal

    from annotate.models import Judgment
    from tests import factories

    other = factories.UserFactory(username="second-rater")
    prompts = [factories.PromptFactory(campaign=campaign) for _ in range(3)]
    pairs = []
    for prompt in (prompts[2], prompts[0], prompts[2], prompts[1], prompts[0]):
        a = factories.CandidateFactory(
            prompt=prompt, reasoning=f"why {prompt.pk}", cost_usd=Decimal("0.000125")
        )
        pairs.append(factories.PairFactory(campaign=campaign, prompt=prompt, candidate_a=a))
    for pair in reversed(pairs):
        Judgment.objects.create(campaign=campaign, pair=pair, rater=rater, choice="a", strength=2)
    Judgment.objects.create(
        campaign=campaign, pair=pairs[1], rater=other, choice="b", aspects={"style": "b"},
        rationale="B is clearer.",
    )  # fmt: skip
    factories.judge_verdict(pairs[3], choice="b")
    factories.PairFactory(campaign=campaign)  # no vote: not a row
    return pairs


@pytest.mark.postgresql
@pytest.mark.parametrize("lean", [True, False], ids=["lean", "full"])
@pytest.mark.parametrize("reasoning", [False, True], ids=["answers", "with-reasoning"])
def test_the_copy_select_gives_the_orm_rows_in_the_orm_order(campaign, rater, lean, reasoning):
    from annotate.models import Pair
    from annotate.selectors.exports import export_vote_queryset, export_vote_select

    pairs = _vote_campaign(campaign, rater)
    for pairs_in in (None, Pair.objects.filter(id__in=[pairs[0].id, pairs[1].id, pairs[3].id])):
        how = {"campaign_id": campaign.id, "lean": lean, "reasoning": reasoning}
        orm = list(export_vote_queryset(**how, pairs_in=pairs_in))
        with export_read_transaction():
            sql, params, columns = export_vote_select(**how, pairs_in=pairs_in)
            copied = list(export_sql.copy_rows(sql, params, columns=columns))
        assert copied == orm
        assert len(orm) == (6 if pairs_in is None else 4)
        keys = [(row[2], row[1], row[0]) for row in orm]  # prompt, pair, judgment ids
        assert keys == sorted(keys)


@pytest.mark.postgresql
def test_the_copy_select_sorts_the_votes_alone_then_fetches_texts_in_order(campaign, rater):
    # The plan: the narrow rows sorted, then nested loops over primary keys (no sort of the texts,
    # no sort above the loops: the order is the inner one's).
    from annotate.selectors.exports import export_vote_select

    _vote_campaign(campaign, rater)
    sql, params, _ = export_vote_select(campaign_id=campaign.id, lean=True)
    with export_read_transaction(), connection.cursor() as cursor:
        # Nested loops made the planner's last resort: the LATERAL subqueries must still be
        # fetched one row at a time (joined, they would be hashed, and everything sorted again).
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0][0]["Plan"]
    assert plan["Node Type"] == "Nested Loop"
    sorts = []

    def walk(node, depth=0):
        if node["Node Type"] in ("Sort", "Incremental Sort"):
            sorts.append(depth)
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    walk(plan)
    assert sorts and min(sorts) >= 3  # under the three loops that fetch prompt and candidates


@pytest.mark.postgresql
@pytest.mark.timeout(60)  # the failure is a wait for ever
def test_a_reader_left_half_read_does_not_hold_the_connection(campaign, rater):
    # A consumer that raises mid-way (an invalid row, a bug) leaves its reader suspended inside
    # the COPY, kept alive by the traceback; the transaction's end must still be able to run.
    from annotate.selectors.exports import export_vote_rows

    _vote_campaign(campaign, rater)
    kept = []
    with pytest.raises(RuntimeError, match="a bug mid-export"), export_read_transaction():
        rows = export_vote_rows(campaign_id=campaign.id, lean=True)
        kept.append(rows)  # what a traceback would keep
        next(rows)
        raise RuntimeError("a bug mid-export")
    assert kept
    with connection.cursor() as cursor:  # the connection works again
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.postgresql
def test_copy_rows_refuses_to_read_outside_the_export_transaction(transactional_db):
    with pytest.raises(RuntimeError, match="read transaction"):
        export_sql.copy_rows("SELECT 1 AS one", [], columns=("one",))


@pytest.mark.postgresql
def test_copy_rows_refuses_a_select_whose_columns_are_not_the_ones_asked(transactional_db):
    # The rows become dicts by position: a SELECT in another order would fill the wrong keys.
    with export_read_transaction(), pytest.raises(ValueError, match="not \\['two', 'one'\\]"):
        list(export_sql.copy_rows("SELECT 1 AS one, 2 AS two", [], columns=("two", "one")))
    with export_read_transaction():
        rows = export_sql.copy_rows("SELECT 1 AS one, 2 AS two", [], columns=("one", "two"))
        assert list(rows) == [(1, 2)]
