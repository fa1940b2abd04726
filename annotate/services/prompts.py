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
from annotate.validation import (
    MAX_IMPORT_BYTES,
    MAX_TEXT,
    JsonInputError,
    json_loads,
    text_problem,
)

ROLES = ("user", "assistant")
MAX_ID_LENGTH = 200  # Prompt.external_id
MAX_TURNS = 500
PROMPT_KEYS = {"id", "prompt", "messages", "system", "metadata"}


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

MAX_ERRORS_LISTED = 200


def errors_capped(errors: list[LineError]) -> list[LineError]:
    """At most MAX_ERRORS_LISTED bad lines, then one line saying how many more there are."""
    if len(errors) <= MAX_ERRORS_LISTED:
        return errors
    more = len(errors) - MAX_ERRORS_LISTED
    return [*errors[:MAX_ERRORS_LISTED], LineError(0, f"{more:,} more bad lines not listed")]


def _decode(data: bytes, errors: list[LineError]) -> str | None:
    """UTF-8 text without its BOM, or None with every line that is not UTF-8 in ``errors``."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            errors.append(
                LineError(
                    number,
                    f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start + 1} of "
                    "the line); save the file as UTF-8",
                )
            )
    return None


def rows_read(*, file_name: str, data: bytes, errors: list[LineError]) -> Iterator[tuple[int, Any]]:
    """Yield (line number, row) for a JSONL or CSV file; unreadable rows go to ``errors``.

    CSV rows come out as dicts of strings; JSONL rows as whatever the JSON line holds (the caller
    checks it is an object). Line numbers are 1-based physical lines, as an editor shows them. Every
    JSON line and CSV cell is held to the rules of annotate.validation (no NUL, nesting depth, …).
    """
    if len(data) > MAX_IMPORT_BYTES:
        errors.append(
            LineError(
                0, f"the file is {_size(len(data))}; at most {_size(MAX_IMPORT_BYTES)}, split it"
            )
        )
        return
    text = _decode(data, errors)
    if text is None:
        return
    if file_name.lower().endswith(".csv"):
        yield from _csv_rows(text, errors)
    elif text.lstrip().startswith("["):
        yield from _json_array_rows(text, errors)
    else:
        yield from _jsonl_rows(text, errors)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


def _json_error(exc: JsonInputError) -> str:
    where = f" at column {exc.column}" if exc.column else ""
    return f"{exc.message}{where}"


def _json_array_rows(text: str, errors: list[LineError]) -> Iterator[tuple[int, Any]]:
    """A whole-file JSON array (what many tools write as "prompts.json"): row n is item n."""
    try:
        items = json_loads(text)
    except JsonInputError as exc:
        errors.append(LineError(exc.line or 0, _json_error(exc)))
        return
    if not isinstance(items, list):
        errors.append(LineError(1, "expected one JSON array of objects, or one object per line"))
        return
    yield from enumerate(items, start=1)


def _jsonl_rows(text: str, errors: list[LineError]) -> Iterator[tuple[int, Any]]:
    # Split on "\n" only: JSON strings may hold U+2028 and other characters str.splitlines() splits on.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield number, json_loads(line)
        except JsonInputError as exc:
            errors.append(LineError(number, _json_error(exc)))


def _csv_rows(text: str, errors: list[LineError]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows as {column: text}. A line break inside a quoted cell is stored as "\n"; a column with
    no name in the header must stay empty."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        errors.append(LineError(1, f"malformed CSV header ({exc})"))
        return
    for index, name in enumerate(header, start=1):
        problem = text_problem(name, one_line=True)
        if problem:
            errors.append(LineError(1, f"the name of column {index} {problem}"))
            return
    named = [h for h in header if h]
    if len(set(named)) != len(named):
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
        row: dict[str, str] = {}
        problem = None
        for index, (name, value) in enumerate(zip(header, values, strict=True), start=1):
            cell = text_problem(value)
            if cell:
                problem = f"column '{name or index}' {cell}"
                break
            if not name:
                if value.strip():
                    problem = f"column {index} has a value but no name in the header"
                    break
                continue
            row[name] = value.replace("\r\n", "\n")
        if problem:
            errors.append(LineError(start, problem))
            continue
        yield start, row


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
    return Conversation(
        messages=turns,
        system=system.strip(),
        content_hash=conversation_hash(system=system.strip(), messages=turns),
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


def rendered_turns(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Sanitised HTML per turn, rendered once at ingest (raters' pages never render markdown)."""
    return [{"role": m["role"], "html": render_markdown(m["content"])} for m in messages]


# --- the import ----------------------------------------------------------------------------------


def _csv_extra_columns(row: dict[str, Any]) -> dict[str, str]:
    """CSV columns beyond the known ones are kept as metadata (taken out of ``row``)."""
    extra = {key: row.pop(key) for key in sorted(set(row) - PROMPT_KEYS)}
    return {key: value for key, value in extra.items() if value.strip()}


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
                raise RowError(
                    f"column {clash[0]!r} and the metadata key {clash[0]!r}: give only one"
                )
            metadata = {**metadata, **extra}
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
        result.errors = errors_capped(result.errors)
        return result
    for prompt in prompts:  # render only once the whole file is known to be good
        prompt.rendered = rendered_turns(prompt.messages)
    with transaction.atomic():
        Prompt.objects.bulk_create(prompts, batch_size=500)
    result.created = len(prompts)
    return result
