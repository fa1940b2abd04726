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

The shared readers here (``rows_read``, ``conversation_parse``, ``conversation_hash``) are also used
by the imported-responses service.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from annotate.markdown import render_markdown
from annotate.models import Campaign, Prompt

ROLES = ("user", "assistant")
MAX_ID_LENGTH = 200  # Prompt.external_id


@dataclass(frozen=True)
class LineError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line else self.reason


@dataclass
class ImportResult:
    created: int = 0
    skipped: int = 0  # already in the campaign (only when the caller asked to skip those)
    errors: list[LineError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class RowError(ValueError):
    """One row is bad; the message is the reason shown to the admin."""


@dataclass(frozen=True)
class Conversation:
    messages: list[dict[str, str]]
    system: str
    content_hash: str


# --- reading files -------------------------------------------------------------------------------


def rows_read(*, file_name: str, data: bytes, errors: list[LineError]) -> Iterator[tuple[int, Any]]:
    """Yield (line number, row) for a JSONL or CSV file; unreadable rows go to ``errors``.

    CSV rows come out as dicts of strings; JSONL rows as whatever the JSON line holds (the caller
    checks it is an object). Line numbers are 1-based physical lines, as an editor shows them.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        errors.append(
            LineError(0, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")
        )
        return
    if file_name.lower().endswith(".csv"):
        yield from _csv_rows(text, errors)
    elif text.lstrip().startswith("["):
        yield from _json_array_rows(text, errors)
    else:
        yield from _jsonl_rows(text, errors)


def _json_array_rows(text: str, errors: list[LineError]) -> Iterator[tuple[int, Any]]:
    """A whole-file JSON array (what many tools write as "prompts.json"): row n is item n."""
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.append(LineError(exc.lineno, f"malformed JSON ({exc.msg} at column {exc.colno})"))
        return
    yield from enumerate(items, start=1)


def _jsonl_rows(text: str, errors: list[LineError]) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(LineError(number, f"malformed JSON ({exc.msg} at column {exc.colno})"))


def _csv_rows(text: str, errors: list[LineError]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        errors.append(LineError(1, f"malformed CSV header ({exc})"))
        return
    if len(set(header)) != len(header):
        errors.append(LineError(1, "the header repeats a column name"))
        return
    previous_end = reader.line_num
    while True:
        start = previous_end + 1  # a quoted field may span lines: report where the row starts
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append(LineError(start, f"malformed CSV ({exc})"))
            return
        previous_end = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            errors.append(LineError(start, f"expected {len(header)} columns, found {len(values)}"))
            continue
        yield start, dict(zip(header, values, strict=True))


def json_cell(row: dict[str, Any], key: str, *, from_csv: bool) -> Any:
    """CSV cells hold JSON as text; JSONL values are JSON already. Empty CSV cells are absent."""
    value = row.get(key)
    if not from_csv or value is None:
        return value
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise RowError(f"column '{key}' is not valid JSON ({exc.msg})") from None


# --- validating one row --------------------------------------------------------------------------


def conversation_hash(*, system: str, messages: list[dict[str, str]]) -> str:
    canonical = json.dumps(
        {"system": system, "messages": messages},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def conversation_parse(row: dict[str, Any], *, from_csv: bool) -> Conversation:
    """The conversation of a row: ``prompt`` (text) or ``messages`` (turns), plus ``system``."""
    prompt = row.get("prompt")
    messages = json_cell(row, "messages", from_csv=from_csv)
    if from_csv and prompt is not None and not prompt.strip():
        prompt = None if messages is not None else prompt
    if prompt is not None and messages is not None:
        raise RowError("give either 'prompt' or 'messages', not both")
    system = row.get("system") or ""
    if not isinstance(system, str):
        raise RowError("'system' must be a string")
    if prompt is not None:
        if not isinstance(prompt, str):
            raise RowError("'prompt' must be a string")
        if not prompt.strip():
            raise RowError("empty prompt")
        turns = [{"role": "user", "content": prompt}]
    elif messages is not None:
        turns, system = _turns_parse(messages, system)
    else:
        raise RowError("missing prompt (need a 'prompt' or 'messages' field)")
    return Conversation(
        messages=turns,
        system=system.strip(),
        content_hash=conversation_hash(system=system.strip(), messages=turns),
    )


def _turns_parse(messages: Any, system: str) -> tuple[list[dict[str, str]], str]:
    if not isinstance(messages, list) or not messages:
        raise RowError("'messages' must be a non-empty list of {role, content} objects")
    turns: list[dict[str, str]] = []
    for index, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            raise RowError(f"message {index} is not an object")
        role, content = message.get("role"), message.get("content")
        if role == "system" and index == 1 and not turns:
            # OpenAI-style leading system turn: move it to the prompt's system field.
            if system:
                raise RowError("a system message and a 'system' field: give only one")
            if not isinstance(content, str):
                raise RowError("message 1 (system) content must be a string")
            system = content
            continue
        if role not in ROLES:
            raise RowError(f"message {index} has role {role!r}; expected 'user' or 'assistant'")
        if not isinstance(content, str) or not content.strip():
            raise RowError(f"message {index} has empty or non-text content")
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
    return value


def rendered_turns(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Sanitised HTML per turn, rendered once at ingest (raters' pages never render markdown)."""
    return [{"role": m["role"], "html": render_markdown(m["content"])} for m in messages]


# --- the import ----------------------------------------------------------------------------------


def prompts_import(
    *, campaign: Campaign, file_name: str, data: bytes, skip_existing: bool = False
) -> ImportResult:
    """Import prompts from a JSONL or CSV file: all rows, or none with every bad line reported.

    A prompt already in the campaign (same system prompt and turns) is an error, unless
    ``skip_existing`` is set: then it is skipped and counted, so a file can be re-uploaded with rows
    appended.
    """
    result = ImportResult()
    from_csv = file_name.lower().endswith(".csv")
    existing_hashes = set(campaign.prompts.values_list("content_hash", flat=True))
    existing_ids = dict(
        campaign.prompts.exclude(external_id="").values_list("external_id", "content_hash")
    )
    seen_hashes: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    prompts: list[Prompt] = []

    for line, row in rows_read(file_name=file_name, data=data, errors=result.errors):
        try:
            if not isinstance(row, dict):
                raise RowError("expected a JSON object")
            conversation = conversation_parse(row, from_csv=from_csv)
            external_id = external_id_parse(row)
            metadata = json_cell(row, "metadata", from_csv=from_csv)
            if metadata is None:
                metadata = {}
            if not isinstance(metadata, dict):
                raise RowError("'metadata' must be a JSON object")
            digest = conversation.content_hash
            if digest in seen_hashes:
                raise RowError(f"same conversation as line {seen_hashes[digest]}")
            if external_id and external_id in seen_ids:
                raise RowError(f"id {external_id!r} repeats line {seen_ids[external_id]}")
            if external_id in existing_ids and existing_ids[external_id] != digest:
                raise RowError(f"id {external_id!r} is already used by another prompt")
            seen_hashes[digest] = line
            if external_id:
                seen_ids[external_id] = line
            if digest in existing_hashes:
                if skip_existing:
                    result.skipped += 1
                    continue
                raise RowError("duplicate of a prompt already in this campaign")
        except RowError as exc:
            result.errors.append(LineError(line, str(exc)))
            continue
        prompts.append(
            Prompt(
                campaign=campaign,
                external_id=external_id,
                messages=conversation.messages,
                system=conversation.system,
                metadata=metadata,
                content_hash=digest,
            )
        )

    if not result.errors and not prompts and not result.skipped:
        result.errors.append(LineError(0, "the file holds no prompts"))
    if result.errors:
        return result
    for prompt in prompts:  # render only once the whole file is known to be good
        prompt.rendered = rendered_turns(prompt.messages)
    with transaction.atomic():
        Prompt.objects.bulk_create(prompts, batch_size=500)
    result.created = len(prompts)
    return result
