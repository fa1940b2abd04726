"""Prompt import: JSONL or CSV in, prompts out, all or nothing.

Every row is validated before anything is written. If any row is bad, nothing is imported and the
result lists every bad line with its number and the reason, so the admin can fix the file in one go.

JSONL, one object per line (blank lines are ignored)::

    {"prompt": "Explain TCP slow start.", "id": "q1", "metadata": {"topic": "net"}}
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                  {"role": "user", "content": "Tell me a joke"}], "system": "Be brief."}

A file holding one JSON array of such objects is read too (then "line n" means item n).

CSV with a header row: a ``prompt`` column (or ``messages`` holding a JSON list), and optional
``id``, ``system`` and ``metadata`` (a JSON object as text) columns.

At scale (bench/import.py: a million lines): the file is read as a stream (``import_files``), each
line checked here on its own and staged in the database as it is read (annotate/sql/imports.py), the
checks that need the whole file (repeats, what the campaign has) asked of the database, and the rows
moved into the prompt table in one transaction only when every line is good. Markdown, the largest
cost per prompt, is rendered after the commit: at once for a small file, in background chunks
(``prompts_render_task``) for a large one; the rating page renders and stores a prompt still
unrendered when it is first shown, so every prompt is rendered once, never on every view.

The shared row readers here (``conversation_parse``, ``conversation_hash``, ``external_id_parse``) are
also used by the imported-responses service.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotate.markdown import render_markdown
from annotate.models import Campaign, Prompt
from annotate.services.import_files import (
    MAX_ERRORS_LISTED,
    BadLines,
    ImportResult,
    LineError,
    rows_read,
)
from annotate.sql.imports import PromptStaging, StagedRow
from annotate.validation import (
    MAX_IMPORT_BYTES,
    MAX_TEXT,
    JsonInputError,
    json_loads,
    text_problem,
)

__all__ = ["ImportResult", "LineError", "prompts_import", "prompts_render"]

ROLES = ("user", "assistant")
MAX_ID_LENGTH = 200  # Prompt.external_id
MAX_TURNS = 500
PROMPT_KEYS = {"id", "prompt", "messages", "system", "metadata"}


class RowError(ValueError):
    """One row is bad; the message is the reason shown to the admin."""


@dataclass(frozen=True)
class Conversation:
    messages: list[dict[str, str]]
    system: str
    content_hash: str
    messages_json: str  # the turns as canonical JSON text


def json_cell(row: dict[str, Any], key: str, *, from_csv: bool) -> Any:
    """CSV cells hold JSON as text; JSONL values are JSON already. Empty CSV cells are absent."""
    value = row.get(key)
    if not from_csv or value is None:
        return value
    if not value.strip():
        return None
    try:
        return json_loads(value)
    except JsonInputError as exc:
        raise RowError(f"column '{key}' is not valid JSON: {exc}") from None


# --- validating one row --------------------------------------------------------------------------


# Built once: json.dumps with options builds a new encoder on every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode
_TEXT = json.JSONEncoder(ensure_ascii=False).encode


def conversation_hash(*, system: str, messages: list[dict[str, str]]) -> str:
    """sha256 of ``{"messages": …, "system": …}`` as canonical JSON (sorted keys, no spaces)."""
    return _canonical(system, messages)[1]


def _canonical(system: str, messages: list[dict[str, str]]) -> tuple[str, str]:
    """The turns as canonical JSON, and the conversation's hash, built from that same text (it is
    what ``json.dumps({"system": …, "messages": …}, sort_keys=True, …)`` writes)."""
    turns = _CANONICAL(messages)
    canonical = f'{{"messages":{turns},"system":{_CANONICAL(system)}}}'
    return turns, hashlib.sha256(canonical.encode()).hexdigest()


def conversation_parse(row: dict[str, Any], *, from_csv: bool) -> Conversation:
    """The conversation of a row: ``prompt`` (text) or ``messages`` (turns), plus ``system``."""
    prompt = row.get("prompt")
    messages = json_cell(row, "messages", from_csv=from_csv)
    if from_csv and prompt is not None and not prompt.strip():
        prompt = None if messages is not None else prompt
    if prompt is not None and messages is not None:
        raise RowError("give either 'prompt' or 'messages', not both")
    system = row.get("system")
    if system is None:
        system = ""
    if not isinstance(system, str):
        raise RowError("'system' must be a string")
    _long_check(system, "'system'")
    if prompt is not None:
        if not isinstance(prompt, str):
            raise RowError("'prompt' must be a string")
        if not prompt.strip():
            raise RowError("empty prompt")
        _long_check(prompt, "'prompt'")
        turns = [{"role": "user", "content": prompt}]
    elif messages is not None:
        turns, system = _turns_parse(messages, system)
    else:
        raise RowError("missing prompt (need a 'prompt' or 'messages' field)")
    turns_json, digest = _canonical(system.strip(), turns)
    return Conversation(
        messages=turns, system=system.strip(), content_hash=digest, messages_json=turns_json
    )


def _turns_parse(messages: Any, system: str) -> tuple[list[dict[str, str]], str]:
    if not isinstance(messages, list) or not messages:
        raise RowError("'messages' must be a non-empty list of {role, content} objects")
    if len(messages) > MAX_TURNS:
        raise RowError(f"'messages' has {len(messages)} turns; at most {MAX_TURNS}")
    turns: list[dict[str, str]] = []
    for index, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            raise RowError(f"message {index} is not an object")
        unknown = sorted(set(message) - {"role", "content"})
        if unknown:
            raise RowError(f"message {index} has unknown keys: {', '.join(map(repr, unknown))}")
        role, content = message.get("role"), message.get("content")
        if role == "system" and index == 1 and not turns:
            # OpenAI-style leading system turn: move it to the prompt's system field.
            if system:
                raise RowError("a system message and a 'system' field: give only one")
            if not isinstance(content, str):
                raise RowError("message 1 (system) content must be a string")
            _long_check(content, "message 1 (system)")
            system = content
            continue
        if role not in ROLES:
            raise RowError(f"message {index} has role {role!r}; expected 'user' or 'assistant'")
        if not isinstance(content, str) or not content.strip():
            raise RowError(f"message {index} has empty or non-text content")
        _long_check(content, f"message {index}")
        expected = ("user", "assistant")[len(turns) % 2]
        if role != expected:
            # Chat templates and every export format need user, assistant, user, …
            raise RowError(
                f"message {index} is from the {role} but should be from the {expected}: "
                "turns alternate user and assistant, starting with the user"
            )
        turns.append({"role": role, "content": content})
    if not turns:
        raise RowError("'messages' holds no user turn")
    if turns[-1]["role"] != "user":
        raise RowError("the last message must be from the user")
    return turns, system


def external_id_parse(row: dict[str, Any], key: str = "id") -> str:
    value = row.get(key)
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RowError(f"'{key}' must be a string or an integer")
    value = str(value).strip()
    if len(value) > MAX_ID_LENGTH:
        raise RowError(f"'{key}' is longer than {MAX_ID_LENGTH} characters")
    problem = text_problem(value, one_line=True)
    if problem:
        raise RowError(f"'{key}' {problem}")
    return value


def _long_check(text: str, what: str) -> None:
    if len(text) > MAX_TEXT:
        raise RowError(f"{what} is {len(text):,} characters long; at most {MAX_TEXT:,}")


def keys_check(row: dict[str, Any], known: set[str], *, from_csv: bool) -> None:
    """Refuse keys the importer does not read: a typo must not silently drop data."""
    unknown = sorted(set(row) - known)
    if unknown:
        what = "columns" if from_csv else "keys"
        raise RowError(
            f"unknown {what} {', '.join(map(repr, unknown))}; expected some of "
            f"{', '.join(sorted(known))} (extra data goes under 'metadata')"
        )


# --- the import ----------------------------------------------------------------------------------

PROGRESS_LINES = 10_000  # how often a long import reports how far it has read
RENDER_INLINE_MAX = 2_000  # more new prompts than this are rendered in the background
RENDER_CHUNK = 2_000  # prompts (by id) per background render task


def _csv_extra_columns(row: dict[str, Any]) -> dict[str, str]:
    """CSV columns beyond the known ones are kept as metadata (taken out of ``row``)."""
    extra = {key: row.pop(key) for key in sorted(set(row) - PROMPT_KEYS)}
    return {key: value for key, value in extra.items() if value.strip()}


def _staged_row(line: int, row: Any, *, from_csv: bool) -> StagedRow:
    """One line as the staging table's row, or RowError saying what is wrong with it."""
    if not isinstance(row, dict):
        raise RowError("expected a JSON object")
    extra = _csv_extra_columns(row) if from_csv else {}
    keys_check(row, PROMPT_KEYS, from_csv=False)
    conversation = conversation_parse(row, from_csv=from_csv)
    external_id = external_id_parse(row)
    metadata = json_cell(row, "metadata", from_csv=from_csv)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise RowError("'metadata' must be a JSON object")
    clash = sorted(set(extra) & set(metadata))
    if clash:
        raise RowError(f"column {clash[0]!r} and the metadata key {clash[0]!r}: give only one")
    return (
        line,
        external_id,
        conversation.messages_json,
        conversation.system,
        _TEXT({**metadata, **extra} if extra else metadata),
        conversation.content_hash,
    )


def import_source(data: bytes | IO[bytes] | File) -> IO[bytes]:
    """What the importers read: a binary file object, read line by line from where it stands.

    Bytes are wrapped; an upload gives its underlying file, from the start (Django's own iteration
    of a File splits on "\r" too, which would renumber the lines of a file with CRLF endings).
    """
    if isinstance(data, bytes | bytearray):
        return io.BytesIO(data)
    if isinstance(data, File):
        data.seek(0)
        return data.file
    return data


Progress = Callable[[int, int], None]  # (lines read, bad lines so far)


def prompts_import(
    *,
    campaign: Campaign,
    file_name: str,
    data: bytes | IO[bytes] | File,
    skip_existing: bool = False,
    progress: Progress | None = None,
    before_commit: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Import prompts from a JSONL or CSV file: all rows, or none with every bad line reported.

    ``data`` is the file's bytes or a binary file object, read once as a stream. A prompt already in
    the campaign (same system prompt and turns) is an error, unless ``skip_existing`` is set: then
    it is skipped and counted, so a file can be re-uploaded with rows appended. ``progress`` is
    called every PROGRESS_LINES lines with the lines read and the bad lines so far;
    ``before_commit`` with the result inside the transaction that adds the prompts (what it writes
    is committed with them; what it raises rolls them back and propagates).
    """
    result = ImportResult()
    bad = BadLines()
    from_csv = file_name.lower().endswith(".csv")
    source = import_source(data)
    with PromptStaging() as staging:
        line = 0
        for line, row in rows_read(
            file_name=file_name, source=source, bad=bad, max_bytes=MAX_IMPORT_BYTES
        ):
            try:
                staging.add(_staged_row(line, row, from_csv=from_csv))
            except RowError as exc:
                bad.add(line, str(exc))
            if progress and line % PROGRESS_LINES == 0:
                progress(line, bad.count)
        if progress:
            progress(line, bad.count)
        found, count, result.skipped = staging.problems(
            campaign_id=campaign.pk, skip_existing=skip_existing, limit=MAX_ERRORS_LISTED
        )
        for problem in found:
            bad.add(problem.line, problem.reason)
        bad.counted(count - len(found))
        staged = sum(staging.batches)
        if not bad and not staged:
            bad.add(0, "the file holds no prompts")
        if bad:
            result.errors, result.skipped, result.bad_lines = bad.listed(), 0, bad.count
            return result
        try:
            with transaction.atomic():
                created, first_id, last_id = staging.insert(
                    campaign_id=campaign.pk, now=timezone.now()
                )
                if created != staged - result.skipped:
                    raise _Changed
                result.created = created
                if before_commit:
                    before_commit(result)
        except (IntegrityError, _Changed):
            result.created = 0
            result.errors, result.skipped = [LineError(0, CHANGED_MEANWHILE)], 0
            return result
    if created:
        _render_after_import(first_id=first_id, last_id=last_id, count=created)
    return result


CHANGED_MEANWHILE = (
    "another import added some of these prompts to the campaign while this file was read; "
    "nothing was imported: import the file again"
)


class _Changed(Exception):
    """The campaign's prompts changed between the checks and the INSERT: roll back."""


# --- rendering -----------------------------------------------------------------------------------


def rendered_turns(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Sanitised HTML per turn, rendered once (raters' pages never render markdown per view)."""
    return [{"role": m["role"], "html": render_markdown(m["content"])} for m in messages]


def _render_after_import(*, first_id: int, last_id: int, count: int) -> None:
    if count <= RENDER_INLINE_MAX:
        prompts_render(first_id=first_id, last_id=last_id)
        return

    def enqueue() -> None:
        from annotate.tasks import prompts_render_task

        for start in range(first_id, last_id + 1, RENDER_CHUNK):
            end = min(start + RENDER_CHUNK - 1, last_id)
            prompts_render_task.delay(first_id=start, last_id=end)

    transaction.on_commit(enqueue)


def prompts_render(*, first_id: int, last_id: int, batch: int = 500) -> int:
    """Render and store the turns of every still unrendered prompt with an id in first..last;
    how many were rendered. Idempotent: a second run (a redelivered task, the rating page's own
    render) finds nothing left, or writes the same HTML. No read is left open while it writes
    (SQLite refuses a write from a connection whose read began before another's commit)."""
    done, after = 0, first_id - 1
    while True:
        prompts = list(
            Prompt.objects.filter(id__gt=after, id__lte=last_id, rendered=[])
            .order_by("id")
            .only("id", "messages")[:batch]
        )
        if not prompts:
            return done
        for prompt in prompts:
            prompt.rendered = rendered_turns(prompt.messages)
        done += _rendered_store(prompts)
        after = prompts[-1].id


def _rendered_store(prompts: list[Prompt]) -> int:
    if prompts:
        with transaction.atomic():
            Prompt.objects.bulk_update(prompts, ["rendered"])
    return len(prompts)


def prompt_rendered_ensure(*, prompt: Prompt) -> list[dict[str, str]]:
    """The prompt's rendered turns, rendering and storing them first if an import left them for
    the background and it has not got there yet (the rating page calls this)."""
    if prompt.rendered:
        return prompt.rendered
    messages = Prompt.objects.filter(pk=prompt.pk).values_list("messages", flat=True).first()
    prompt.rendered = rendered_turns(messages or [])
    Prompt.objects.filter(pk=prompt.pk, rendered=[]).update(rendered=prompt.rendered)
    return prompt.rendered
