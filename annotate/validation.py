"""What every way in accepts from a person: one set of rules for pages, API, commands and back office.

PostgreSQL cannot store a NUL character and no database driver can encode a lone UTF-16 surrogate, while
SQLite would store both; so both are refused everywhere, on both backends, with a message that says where.
The model fields carry these rules as validators (the back office and every ``full_clean`` apply them),
the API's JSON parser applies them to whole bodies, the importers to every line, and the rating page to
the rater's fields: the same functions each time.

* **text** (prompts, responses, guidelines, rationales, notes): no NUL, no lone surrogate.
* **one-line text** (titles, names, ids, aspect names, keys): also no control character at all.
* **JSON** (bodies, import lines, metadata, parameters, filters): at most ``MAX_JSON_DEPTH`` levels of
  nesting, no key twice in one object, no NaN or Infinity, integers within 64 bits, and every key and
  string under the text rules.
* **ids and integers** from a person: 1 … ``MAX_ID`` (a database's 64-bit integer).

Limits on sizes are here too, so the README, the forms and the API agree.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

MAX_JSON_DEPTH = 32
MAX_ID = 2**63 - 1
# An import file: read as a stream, so its size costs time, not memory (a million prompts are
# 150-300 MB). One imported within a web request is held to the smaller limit.
MAX_IMPORT_BYTES = 512 * 1024 * 1024
MAX_INLINE_IMPORT_BYTES = 50 * 1024 * 1024
MAX_BODY_BYTES = 50 * 1024 * 1024  # a JSON API body (imports may send their rows as JSON)
MAX_TEXT = 200_000  # one prompt turn, system prompt or response, in characters
MAX_GUIDELINES = 100_000
MAX_RATIONALE = 20_000
MAX_REWRITE = 100_000
MAX_NOTE = 2_000  # a flag's note
MAX_REASON = 300  # a skip or pause reason
MAX_KEY = 64  # a vote's idempotency key
MAX_ASPECTS = 12
MAX_ASPECT_NAME = 40

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_ASPECT = re.compile(r"\w[\w \-]*\Z")


# --- text ----------------------------------------------------------------------------------------


def _char(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def text_problem(value: str, *, one_line: bool = False) -> str | None:
    """Why ``value`` cannot be stored, or None. Positions are 1-based characters."""
    at = value.find("\x00")
    if at >= 0:
        return f"contains a NUL character (U+0000) at character {at + 1}; remove it"
    match = _SURROGATE.search(value)
    if match:
        return (
            f"contains a lone surrogate ({_char(match.group())}) at character {match.start() + 1}, "
            "which is not text; fix the encoding"
        )
    if one_line:
        match = _CONTROL.search(value)
        if match:
            return (
                f"contains a control character ({_char(match.group())}) at character "
                f"{match.start() + 1}; use plain text on one line"
            )
    return None


def text_check(value: Any, *, field: str, max_length: int, one_line: bool = False) -> str:
    """A text field from a person: the string itself, or ValidationError naming the field."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{field}: expected text, got {type(value).__name__}")
    problem = text_problem(value, one_line=one_line)
    if problem:
        raise ValidationError(f"{field} {problem}")
    if len(value) > max_length:
        raise ValidationError(
            gettext("%(field)s is too long: %(length)s characters, at most %(max)s")
            % {"field": field, "length": f"{len(value):,}", "max": f"{max_length:,}"}
        )
    return value


def validate_text(value: Any) -> None:
    """Model field validator: text any backend can store."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise ValidationError(f"This text {problem}.", code="invalid_text")


def validate_one_line(value: Any) -> None:
    """Model field validator: one line of plain text (titles, names, ids)."""
    if isinstance(value, str):
        problem = text_problem(value, one_line=True)
        if problem:
            raise ValidationError(f"This text {problem}.", code="invalid_text")


# --- JSON values ---------------------------------------------------------------------------------


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def json_problem(value: Any, *, path: str = "") -> str | None:
    """Why a decoded JSON value cannot be stored, naming where (``metadata.tags[2]``), or None.

    Iterative, so a value nested too deep is reported, not a RecursionError.
    """
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        name = where or "the value"
        if isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                return f"{name} is nested deeper than {MAX_JSON_DEPTH} levels"
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        return f"{name} has a key that is not text"
                    problem = text_problem(key)
                    if problem:
                        return f"a key of {name} {problem}"
                    stack.append((child, _path(where, key), depth + 1))
            else:
                stack.extend((child, _path(where, i), depth + 1) for i, child in enumerate(item))
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return f"{name} {problem}"
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -MAX_ID - 1 <= item <= MAX_ID:
                return f"{name} is a number outside the 64-bit range"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{name} is not a finite number"
        else:
            return f"{name} is not a JSON value"
    return None


def validate_json(value: Any) -> None:
    """Model field validator for JSONFields a person fills."""
    problem = json_problem(value)
    if problem:
        raise ValidationError(f"{problem[0].upper()}{problem[1:]}.", code="invalid_json")


# --- reading JSON text ---------------------------------------------------------------------------


class JsonInputError(ValueError):
    """JSON text that is refused; ``line`` and ``column`` say where when known (1-based)."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None):
        self.message, self.line, self.column = message, line, column
        where = f" (line {line}, column {column})" if line and column else ""
        super().__init__(f"{message}{where}")


_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def _depth_check(text: str) -> None:
    """Refuse nesting past the limit before the parser recurses into it."""
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                line = text.count("\n", 0, match.start()) + 1
                column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
                raise JsonInputError(
                    f"nested deeper than {MAX_JSON_DEPTH} levels", line=line, column=column
                )
        elif token in "]}":
            depth -= 1


class _Duplicate(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Duplicate(key)
            seen.add(key)
    return obj


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class _Unusual(Exception):
    """A number that json_problem must see (it may leave 64 bits or overflow a float)."""


def _int(text: str) -> int:
    if len(text) > 18:  # 18 digits fit in 64 bits whatever they are
        raise _Unusual
    return int(text)


def _float(text: str) -> float:
    if len(text) > 18 or "e" in text or "E" in text:  # only these can overflow to infinity
        raise _Unusual
    return float(text)


# The usual path: numbers that cannot break a rule parse as such; any other one sends the text to
# the plain decoder and the walk over every value (json_problem), which names the path.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_constant=_constant, parse_int=_int, parse_float=_float
)
_PLAIN_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant)


def json_loads(text: str) -> Any:
    """Parse JSON text under the rules above, or raise JsonInputError saying what and where.

    Most import lines break no rule of json_problem, and for them its walk over every value (once
    the larger part of reading a line) is skipped: text without a NUL or a lone surrogate (raw, or
    escaped: every escape starts with backslash-u) whose numbers are all short. Text with fewer
    brackets than the depth limit cannot nest too deep, so it skips the depth scan.
    """
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH:
        _depth_check(text)
    if text.startswith("\ufeff"):  # as json.loads says it
        raise JsonInputError(
            "malformed JSON (Unexpected UTF-8 BOM (decode using utf-8-sig))", line=1, column=1
        )
    walk = "\\u" in text or "\x00" in text or (not text.isascii() and _SURROGATE.search(text))
    try:
        try:
            value = _DECODER.decode(text)
        except _Unusual:
            value, walk = _PLAIN_DECODER.decode(text), True
    except json.JSONDecodeError as exc:
        raise JsonInputError(
            f"malformed JSON ({exc.msg})", line=exc.lineno, column=exc.colno
        ) from None
    except _Duplicate as exc:
        raise JsonInputError(f"the key {exc.args[0]!r} appears twice in one object") from None
    except RecursionError:  # the depth check should have caught it; never a 500 all the same
        raise JsonInputError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # a number of more than 4,300 digits, NaN, Infinity
        raise JsonInputError(f"unreadable number ({exc})") from None
    if walk:
        problem = json_problem(value)
        if problem:
            raise JsonInputError(problem)
    return value


# --- integers ------------------------------------------------------------------------------------


def id_parse(value: Any) -> int | None:
    """An id typed or posted by a person: an int in 1..MAX_ID, or None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        text = value.strip()
        if len(text) > 19:
            return None
        number = int(text)
    else:
        return None
    return number if 1 <= number <= MAX_ID else None


# --- campaign settings ---------------------------------------------------------------------------


def validate_aspects(value: Any) -> None:
    """A campaign's aspects: a list of distinct short names (each becomes a row on the rating page)."""
    if not isinstance(value, list):
        raise ValidationError(
            'Aspects are a list of names, e.g. ["helpful", "honest"].', code="invalid_aspects"
        )
    if len(value) > MAX_ASPECTS:
        raise ValidationError(f"At most {MAX_ASPECTS} aspects.", code="invalid_aspects")
    seen: set[str] = set()
    for index, name in enumerate(value, start=1):
        if not isinstance(name, str):
            raise ValidationError(
                f"Aspect {index} is not a name (got {type(name).__name__}).", code="invalid_aspects"
            )
        if (
            not name
            or len(name) > MAX_ASPECT_NAME
            or not _ASPECT.match(name)
            or name != name.strip()
        ):
            raise ValidationError(
                f"Aspect {index} ({name[:50]!r}): 1 to {MAX_ASPECT_NAME} letters, digits, spaces, "
                "'-' or '_', starting with a letter or digit.",
                code="invalid_aspects",
            )
        if name in seen:
            raise ValidationError(f"Aspect {name!r} is listed twice.", code="invalid_aspects")
        seen.add(name)


def validate_finite(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError("Give a finite number.", code="invalid_number")
