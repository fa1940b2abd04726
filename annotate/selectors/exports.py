"""Reads for exports: every vote row of a campaign, streamed in one consistent snapshot."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import msgspec
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery, Sum, TextField
from django.db.models.functions import Cast

from annotate.models import Candidate, Generator, JudgeVerdict, Pair, Prompt
from annotate.sql import exports as export_sql

# Columns of one vote row (one per judgment, with its pair's prompt and both responses).
# Read from the pair side (pair → its judgments), ordered by prompt so that all the pairs of a
# prompt arrive together (KTO pools them; no row is written twice for a prompt).
# The JSON columns are read as their text (_JSON_TEXT) and decoded here with msgspec: the ORM's
# JSONField decodes each value with json.loads through a converter called per row and field, which
# was the largest part of reading a million votes.
_JSON_TEXT = {"messages_json": "prompt__messages", "aspects_json": "judgments__aspects"}
LEAN, FULL = True, False  # read by every export / by the raw-vote formats only
# (key in the row, column read, lean): the aggregated formats read the lean keys only; the raw-vote
# columns (aspects, rationale, timing, provenance …) are left out there, so a million-pair export
# does not decode and convert what it never writes. ``judge_verdict`` and ``judge_rubric_version``
# are annotated in export_vote_queryset (full rows only).
_VOTE_FIELDS = (
    ("judgment_id", "judgments__id", LEAN),
    ("pair_id", "id", LEAN),
    ("prompt_id", "prompt_id", LEAN),
    ("prompt_hash", "prompt__content_hash", LEAN),
    ("prompt_external_id", "prompt__external_id", FULL),
    ("messages", "messages_json", LEAN),
    ("system", "prompt__system", LEAN),
    ("a_text", "candidate_a__text", LEAN),
    ("b_text", "candidate_b__text", LEAN),
    ("a_generator", "candidate_a__generator_id", LEAN),
    ("b_generator", "candidate_b__generator_id", LEAN),
    ("gold_answer", "gold_answer", LEAN),
    ("rater_id", "judgments__rater_id", LEAN),
    ("source", "judgments__source", LEAN),
    ("choice", "judgments__choice", LEAN),
    ("strength", "judgments__strength", LEAN),
    ("aspects", "aspects_json", FULL),
    ("rationale", "judgments__rationale", FULL),
    ("rewrite", "judgments__rewrite", LEAN),
    ("left_is_a", "judgments__left_is_a", FULL),
    ("time_on_task_ms", "judgments__time_on_task_ms", FULL),
    ("judge_shown", "judgments__judge_shown", FULL),
    ("revises_id", "judgments__revises_id", FULL),
    ("created_at", "judgments__created_at", FULL),
    ("judge_verdict", "judge_verdict", FULL),
    ("judge_rubric_version", "judge_rubric_version", FULL),
    ("a_input_tokens", "candidate_a__input_tokens", FULL),
    ("a_output_tokens", "candidate_a__output_tokens", FULL),
    ("a_cost_usd", "candidate_a__cost_usd", FULL),
    ("b_input_tokens", "candidate_b__input_tokens", FULL),
    ("b_output_tokens", "candidate_b__output_tokens", FULL),
    ("b_cost_usd", "candidate_b__cost_usd", FULL),
)
_VOTE_KEYS = tuple(key for key, _, _ in _VOTE_FIELDS)
_VOTE_COLUMNS = tuple(column for _, column, _ in _VOTE_FIELDS)
_LEAN_KEYS = tuple(key for key, _, lean in _VOTE_FIELDS if lean)


def generator_names(*, campaign_id: int) -> dict[int, str]:
    return dict(Generator.objects.filter(campaign_id=campaign_id).values_list("id", "name"))


def campaign_costs(*, campaign_id: int) -> dict[str, float]:
    """What the campaign's models cost so far (USD): generation and the AI judge."""
    generation = Candidate.objects.filter(prompt__campaign_id=campaign_id).aggregate(
        c=Sum("cost_usd")
    )["c"]
    judge = JudgeVerdict.objects.filter(campaign_id=campaign_id).aggregate(c=Sum("cost_usd"))["c"]
    return {"generation_cost_usd": float(generation or 0), "judge_cost_usd": float(judge or 0)}


def generator_provenance(*, campaign_id: int) -> dict[str, dict]:
    """Generator name -> its provider, model and parameters (what the raw exports' provenance
    columns say of each response's generator)."""
    return {
        name: {"provider": provider, "model": model, "params": params}
        for name, provider, model, params in Generator.objects.filter(
            campaign_id=campaign_id
        ).values_list("name", "provider", "model", "params")
    }


def _columns(lean: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not lean:
        return _VOTE_COLUMNS, _VOTE_KEYS
    by_key = dict(zip(_VOTE_KEYS, _VOTE_COLUMNS, strict=True))
    return tuple(by_key[k] for k in _LEAN_KEYS), _LEAN_KEYS


# Asked for with ``reasoning=True`` (the include_reasoning export option): both traces.
_REASONING = (("candidate_a__reasoning", "a_reasoning"), ("candidate_b__reasoning", "b_reasoning"))


def _vote_columns(lean: bool, reasoning: bool) -> tuple[str, ...]:
    columns, _ = _columns(lean)
    if reasoning:
        columns += tuple(column for column, _ in _REASONING)
    return columns


def export_vote_queryset(
    *, campaign_id: int, lean: bool = False, reasoning: bool = False, pairs_in=None, prompts=None
):
    """Every judgment of the campaign (all sources, revisions too) with its pair, ordered by
    prompt, pair, judgment id; only of the pairs ``pairs_in`` (a queryset of pairs) when given,
    and of the prompts in ``prompts`` (ids from, to: a PromptRange) when given."""
    return _vote_pairs(
        campaign_id=campaign_id,
        columns=_vote_columns(lean, reasoning),
        lean=lean,
        pairs_in=pairs_in,
        prompts=prompts,
    )


def _pairs_of(*, campaign_id: int, pairs_in=None):
    """The campaign's pairs, only those of ``pairs_in`` (a queryset of pairs) when given."""
    pairs = Pair.objects.filter(campaign_id=campaign_id)
    return pairs if pairs_in is None else pairs.filter(id__in=pairs_in.values("id"))


def _vote_pairs_of(*, campaign_id: int, pairs_in=None, prompts=None):
    """The campaign's pairs, once per vote (the rows an export reads), of ``pairs_in`` and of the
    prompt ids ``prompts`` = (from, to): from included, to not, None for no bound."""
    pairs = _pairs_of(campaign_id=campaign_id, pairs_in=pairs_in).filter(
        judgments__id__isnull=False
    )
    if prompts is not None:
        start, end = prompts
        if start is not None:
            pairs = pairs.filter(prompt_id__gte=start)
        if end is not None:
            pairs = pairs.filter(prompt_id__lt=end)
    return pairs


def export_prompt_ranges(*, campaign_id: int, parts: int, pairs_in=None) -> tuple[int, list[tuple]]:
    """The number of pairs an export reads, and the campaign's prompts cut into at most ``parts``
    ranges of about as many pairs each, in order: (from, to) prompt ids, the first from None and
    the last to None, so that together they hold every prompt, each once (PostgreSQL). By pairs,
    not vote rows: a third of the time at a million (0.28 s against 0.9 s), and as even where
    the pairs have as many votes."""
    pairs = _pairs_of(campaign_id=campaign_id, pairs_in=pairs_in)
    count, bounds = export_sql.prompt_bounds(pairs.values_list("prompt_id"), parts)
    return count, list(itertools.pairwise([None, *bounds, None]))


def _vote_pairs(*, campaign_id: int, columns: tuple[str, ...], lean: bool, pairs_in, prompts=None):
    pairs = _vote_pairs_of(campaign_id=campaign_id, pairs_in=pairs_in, prompts=prompts)
    pairs = pairs.annotate(
        **{
            name: Cast(field, output_field=TextField())
            for name, field in _JSON_TEXT.items()
            if name in columns
        }
    )
    if not lean:
        # The raw-vote export shows the AI judge's verdict on the pair (its latest finished one).
        latest_verdict = JudgeVerdict.objects.filter(
            pair_id=OuterRef("pk"), status=JudgeVerdict.Status.DONE
        ).order_by("-id")
        pairs = pairs.annotate(
            judge_verdict=Subquery(latest_verdict.values("choice")[:1]),
            judge_rubric_version=Subquery(latest_verdict.values("rubric__version")[:1]),
        )
    return pairs.order_by("prompt_id", "id", "judgments__id").values_list(*columns)


# The columns read from the pair's prompt and candidates, by the prefix of their name.
_JOINED = (
    ("prompt__", "prompt", Prompt),
    ("candidate_a__", "a", Candidate),
    ("candidate_b__", "b", Candidate),
)


def _joined(column: str) -> tuple[str, str] | None:
    """Where a column of the vote rows is read from when not from the pair and its judgment:
    (``prompt``, ``a`` or ``b``, its SQL there), or None. A JSON column (_JSON_TEXT) is read as
    its text, as the ORM's queryset reads it."""
    path = _JSON_TEXT.get(column, column)
    for prefix, side, model in _JOINED:
        if path.startswith(prefix):
            sql = connection.ops.quote_name(model._meta.get_field(path.removeprefix(prefix)).column)
            return side, f"{sql}::text" if column in _JSON_TEXT else sql
    return None


def export_vote_select(
    *, campaign_id: int, lean: bool = False, reasoning: bool = False, pairs_in=None, prompts=None
) -> tuple[str, list, tuple[str, ...]]:
    """The rows of export_vote_queryset as one SELECT for COPY (PostgreSQL): the pairs' and
    judgments' columns sorted, then each row's prompt and candidates fetched in that order
    (export_sql.vote_rows_select). Returns the SQL, its parameters and the columns' aliases."""
    columns = _vote_columns(lean, reasoning)
    joined = {column: where for column in columns if (where := _joined(column))}
    own = (*(c for c in columns if c not in joined), "candidate_a_id", "candidate_b_id")
    pairs = _vote_pairs(
        campaign_id=campaign_id, columns=own, lean=lean, pairs_in=pairs_in, prompts=prompts
    )
    sql, params = export_sql.vote_rows_select(pairs, own=own, joined=joined, columns=columns)
    return sql, params, columns


@contextmanager
def export_read_transaction(*, shared: bool = False, imported: str | None = None) -> Iterator[None]:
    """One read transaction for a whole export: a consistent snapshot for every read of it (the
    rows, read with COPY on PostgreSQL, and a model method's fitting pass over the same rows).
    The planner is told the whole result will be read (hash joins + one sort, as COPY would) and
    gets room to hash without spilling; JIT compile time is not worth it for one pass
    (annotate/sql/exports.py). ``shared``: a read-only REPEATABLE READ transaction, whose snapshot
    the export's other processes read (``imported``: the snapshot id it gave them;
    services/export_parts.py); both must be the outermost transaction.
    """
    if connection.vendor != "postgresql":
        # SQLite streams from its cursor without a transaction, and the project opens SQLite
        # transactions IMMEDIATE (write lock at BEGIN): holding one for an export would block raters.
        yield
        return
    if (shared or imported) and connection.in_atomic_block:
        raise RuntimeError("a shared export snapshot needs a transaction of its own")
    with transaction.atomic():
        export_sql.export_read_settings(snapshot=shared, imported=imported)
        try:
            yield
        finally:
            export_sql.close_readers()  # before the COMMIT or ROLLBACK, which wait for them


def export_vote_rows(
    *,
    campaign_id: int,
    lean: bool = False,
    chunk_size: int = 5000,
    reasoning: bool = False,
    pairs_in=None,
    prompts=None,
) -> Iterator[dict]:
    """The rows of export_vote_queryset as dicts, streamed: memory holds a few rows, never the
    campaign. The order (prompt, pair, then judgment id) is what exports.pipeline groups by.

    Run it inside ``export_read_transaction()``. On PostgreSQL the rows come through COPY
    (export_sql.copy_rows); on SQLite from its cursor, ``chunk_size`` rows at a time.
    """
    names = generator_names(campaign_id=campaign_id)
    _, keys = _columns(lean)
    if reasoning:
        keys += tuple(key for _, key in _REASONING)
    how = {
        "campaign_id": campaign_id,
        "lean": lean,
        "reasoning": reasoning,
        "pairs_in": pairs_in,
        "prompts": prompts,
    }
    if connection.vendor == "postgresql":
        sql, params, columns = export_vote_select(**how)
        rows = export_sql.copy_rows(sql, params, columns=columns)
    else:
        rows = export_vote_queryset(**how).iterator(chunk_size=chunk_size)
    decode = msgspec.json.decode
    has_aspects = "aspects" in keys
    text, messages = None, None  # the last prompt's messages: its rows come together
    for values in rows:
        row = dict(zip(keys, values, strict=True))
        if row["messages"] != text:
            text = row["messages"]
            messages = decode(text)
        row["messages"] = messages  # one object for the rows of a prompt (read, never changed)
        if has_aspects:
            row["aspects"] = decode(row["aspects"])
        row["a_generator"] = names.get(row["a_generator"], "")
        row["b_generator"] = names.get(row["b_generator"], "")
        yield row
