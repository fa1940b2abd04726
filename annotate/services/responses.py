"""Imported responses: answers produced elsewhere join the campaign as DONE candidates.

Two shapes, in JSONL or CSV (same all-or-nothing, line-numbered error rules as prompt import):

* **nested** (JSONL), one prompt per line with its responses::

    {"prompt": "Explain DNS.", "id": "q1",
     "responses": [{"model": "llama-3-8b", "text": "DNS maps…"}, {"model": "my-sft", "text": "…"}]}

  The conversation may also be ``messages`` (+ ``system``), as in prompt import, or ``prompt_id``
  naming the ``id`` of a prompt already in the campaign.
* **flat**, one response per row (the CSV shape; JSONL lines may use it too)::

    prompt_id,model,response              or          prompt,model,response
    q1,llama-3-8b,"DNS maps…"                         "Explain DNS.",llama-3-8b,"DNS maps…"

A conversation not yet in the campaign becomes a new prompt (with ``id`` as its external id). Each
model name becomes a Generator(provider="imported", model=<name>). A response whose exact text is
already stored for that prompt and model is skipped, so re-importing a file adds nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.files import File
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotate.markdown import render_markdown
from annotate.models import Campaign, Candidate, Generator, Prompt
from annotate.reading import reading_length
from annotate.services import prompts
from annotate.services.import_files import BadLines, ImportResult, rows_read
from annotate.services.prompts import (
    PROMPT_KEYS,
    RowError,
    conversation_parse,
    external_id_parse,
    import_source,
    json_cell,
    keys_check,
    rendered_turns,
)
from annotate.validation import MAX_TEXT, text_problem

MAX_MODEL_LENGTH = 200  # Generator.model
KNOWN_CHUNK = 5_000  # stored prompts asked about per query
RESPONSE_KEYS = PROMPT_KEYS | {"prompt_id", "responses", "model", "response"}


@dataclass
class _NewPrompt:
    line: int
    external_id: str
    messages: list[dict[str, str]]
    system: str
    metadata: dict[str, Any]
    content_hash: str
    prompt: Prompt | None = None


@dataclass
class _Plan:
    """What the file asks for, keyed so repeated rows of one prompt land on the same prompt."""

    new_prompts: dict[str, _NewPrompt] = field(default_factory=dict)  # by content hash
    new_ids: dict[str, str] = field(default_factory=dict)  # external id -> content hash
    # (("existing", prompt id) | ("new", content hash), model) -> [texts]
    responses: dict[tuple[tuple[str, Any], str], list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )


def _responses_of(row: dict[str, Any], from_csv: bool) -> list[tuple[str, str]]:
    if "responses" in row and not from_csv:
        if "model" in row or "response" in row:
            raise RowError("give either 'responses' or 'model' and 'response', not both")
        items = row["responses"]
        if not isinstance(items, list) or not items:
            raise RowError("'responses' must be a non-empty list of {model, text} objects")
        pairs = []
        for index, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise RowError(f"response {index} is not an object")
            unknown = sorted(set(item) - {"model", "text"})
            if unknown:
                raise RowError(
                    f"response {index} has unknown keys {', '.join(map(repr, unknown))}; "
                    "expected model and text"
                )
            pairs.append(_model_text(item.get("model"), item.get("text"), f"response {index}: "))
        return pairs
    if "model" in row or "response" in row:
        return [_model_text(row.get("model"), row.get("response"), "")]
    raise RowError("missing responses (need 'responses', or 'model' and 'response')")


def _model_text(model: Any, text: Any, where: str) -> tuple[str, str]:
    if not isinstance(model, str) or not model.strip():
        raise RowError(f"{where}missing model name")
    if len(model.strip()) > MAX_MODEL_LENGTH:
        raise RowError(f"{where}model name longer than {MAX_MODEL_LENGTH} characters")
    problem = text_problem(model, one_line=True)
    if problem:
        raise RowError(f"{where}the model name {problem}")
    if not isinstance(text, str) or not text.strip():
        raise RowError(f"{where}empty response text")
    if len(text) > MAX_TEXT:
        raise RowError(
            f"{where}the response is {len(text):,} characters long; at most {MAX_TEXT:,}"
        )
    return model.strip(), text


def _given(row: dict[str, Any], key: str, from_csv: bool) -> bool:
    """A JSON row gives every key it holds; a CSV row the columns it fills."""
    return key in row and (not from_csv or row[key] != "")


def _prompt_key(
    row: dict[str, Any],
    line: int,
    *,
    from_csv: bool,
    plan: _Plan,
    by_hash: dict[str, int],
    by_id: dict[str, tuple[int, str]],
) -> tuple[str, Any]:
    prompt_id = external_id_parse(row, "prompt_id")
    if prompt_id:
        # The prompt is in the campaign already: what a row said about it would be ignored.
        if _given(row, "prompt", from_csv) or _given(row, "messages", from_csv):
            raise RowError("give either 'prompt_id' or the prompt itself, not both")
        given = [k for k in ("id", "system", "metadata") if _given(row, k, from_csv)]
        if given:
            raise RowError(
                f"with 'prompt_id', give no {', '.join(map(repr, given))}: the prompt has them"
            )
        if prompt_id in by_id:
            return ("existing", by_id[prompt_id][0])
        if prompt_id in plan.new_ids:
            return ("new", plan.new_ids[prompt_id])
        raise RowError(f"no prompt with id {prompt_id!r} in this campaign")

    conversation = conversation_parse(row, from_csv=from_csv)
    external_id = external_id_parse(row)
    metadata = json_cell(row, "metadata", from_csv=from_csv)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):  # checked on every row, kept for a new prompt only
        raise RowError("'metadata' must be a JSON object")
    digest = conversation.content_hash
    if external_id:
        known = by_id.get(external_id)
        if known and known[1] != digest:
            raise RowError(f"id {external_id!r} is already used by another prompt")
        if plan.new_ids.get(external_id, digest) != digest:
            raise RowError(f"id {external_id!r} names a different prompt on an earlier line")
    if digest in by_hash:
        return ("existing", by_hash[digest])
    if digest not in plan.new_prompts:
        plan.new_prompts[digest] = _NewPrompt(
            line, external_id, conversation.messages, conversation.system, metadata, digest
        )
    if external_id:
        plan.new_ids[external_id] = digest
    return ("new", digest)


def responses_import(
    *, campaign: Campaign, file_name: str, data: bytes | IO[bytes] | File
) -> ImportResult:
    """Import responses (and any prompts they answer) from JSONL or CSV: all rows or none.

    The file is read as a stream (the prompt importer's reader); what it asks for is planned in
    memory before anything is written, so this import's memory grows with the file's responses.
    """
    result = ImportResult()
    bad = BadLines()
    from_csv = file_name.lower().endswith(".csv")
    by_hash = dict(campaign.prompts.values_list("content_hash", "id"))
    by_id = {
        ext: (pk, digest)
        for ext, pk, digest in campaign.prompts.exclude(external_id="").values_list(
            "external_id", "id", "content_hash"
        )
    }
    plan = _Plan()
    rows = 0
    source = import_source(data)
    for line, row in rows_read(
        file_name=file_name, source=source, bad=bad, max_bytes=prompts.MAX_IMPORT_BYTES
    ):
        try:
            if not isinstance(row, dict):
                raise RowError("expected a JSON object")
            keys_check(row, RESPONSE_KEYS, from_csv=from_csv)
            responses = _responses_of(row, from_csv)
            key = _prompt_key(row, line, from_csv=from_csv, plan=plan, by_hash=by_hash, by_id=by_id)
        except RowError as exc:
            bad.add(line, str(exc))
            continue
        rows += 1
        for model, text in responses:
            plan.responses[(key, model)].append(text)
    if not bad and not rows:
        bad.add(0, "the file holds no responses")
    if bad:
        result.errors = bad.listed()
        return result
    _write(campaign=campaign, plan=plan, result=result)
    return result


def _generator_for(campaign: Campaign, model: str) -> Generator:
    generator = campaign.generators.filter(
        provider=Generator.Provider.IMPORTED, model=model
    ).first()
    if generator:
        return generator
    name = model[:100]
    if campaign.generators.filter(name=name).exists():  # a live generator already uses the name
        name = f"{model[:88]} (imported)"
    return Generator.objects.create(
        campaign=campaign, name=name, provider=Generator.Provider.IMPORTED, model=model
    )


def _write(*, campaign: Campaign, plan: _Plan, result: ImportResult) -> None:
    new_prompts = list(plan.new_prompts.values())
    for new in new_prompts:
        new.prompt = Prompt(
            campaign=campaign,
            external_id=new.external_id,
            messages=new.messages,
            system=new.system,
            metadata=new.metadata,
            content_hash=new.content_hash,
            rendered=rendered_turns(new.messages),
        )
    now = timezone.now()
    with transaction.atomic():
        Prompt.objects.bulk_create([n.prompt for n in new_prompts], batch_size=500)
        models = sorted({model for (_, model) in plan.responses})
        generators = {model: _generator_for(campaign, model) for model in models}
        prompt_ids = {
            key: (key[1] if key[0] == "existing" else plan.new_prompts[key[1]].prompt.pk)
            for (key, _) in plan.responses
        }
        existing_texts: dict[tuple[int, int], set[str]] = defaultdict(set)
        next_index: dict[tuple[int, int], int] = {}
        # Only prompts that were stored before can have candidates; asked in chunks, since one
        # query with every id passes the database's limit on parameters (65,535 on PostgreSQL).
        stored = sorted({key[1] for key in prompt_ids if key[0] == "existing"})
        for start in range(0, len(stored), KNOWN_CHUNK):
            known = Candidate.objects.filter(
                prompt_id__in=stored[start : start + KNOWN_CHUNK],
                generator__in=list(generators.values()),
            )
            for prompt_id, generator_id, text in known.values_list(
                "prompt_id", "generator_id", "text"
            ):
                existing_texts[(prompt_id, generator_id)].add(text)
            for row in known.values("prompt_id", "generator_id").annotate(top=Max("sample_index")):
                next_index[(row["prompt_id"], row["generator_id"])] = row["top"] + 1

        candidates = []
        for (key, model), texts in plan.responses.items():
            slot = (prompt_ids[key], generators[model].pk)
            for text in texts:
                if text in existing_texts[slot]:
                    result.skipped += 1
                    continue
                existing_texts[slot].add(text)
                index = next_index.get(slot, 0)
                next_index[slot] = index + 1
                candidates.append(
                    Candidate(
                        prompt_id=slot[0],
                        generator=generators[model],
                        sample_index=index,
                        status=Candidate.Status.DONE,
                        text=text,
                        html=render_markdown(text),
                        read_length=reading_length(text),
                        stop_reason="imported",
                        finished_at=now,
                    )
                )
        Candidate.objects.bulk_create(candidates, batch_size=500)
    result.created = len(candidates)
    if new_prompts:
        result.notes.append(f"{len(new_prompts)} new prompts added.")
    result.notes.append(f"Models: {', '.join(sorted(generators))}.")
