"""Reading an import file as a stream: (line number, row) one at a time, bad lines counted as they go.

Shared by the prompt and response importers. Nothing here holds the file: JSONL and CSV are read
line by line from any binary file object (an upload, an open path, ``BytesIO``), each line decoded
and parsed on its own, so memory stays flat however long the file is. The one exception is a file
holding a single JSON array (what many tools write as ``prompts.json``): it is one JSON value, read
whole, so it is held to ``MAX_ARRAY_BYTES``.

Line numbers are 1-based physical lines, as an editor shows them; every JSON line and CSV cell is held
to the rules of annotate.validation (no NUL, nesting depth, …). JSONL is split on ``\\n`` only (a
JSON string may hold U+2028 and the other characters ``str.splitlines`` splits on); a BOM at the
start is ignored; a line that is not UTF-8 is reported by number and the rest is still read.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from annotate.validation import JsonInputError, json_loads, text_problem

MAX_ERRORS_LISTED = 200
MAX_ARRAY_BYTES = 50 * 1024 * 1024  # a whole-file JSON array is parsed in one piece


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
    errors: list[LineError] = field(default_factory=list)  # the first bad lines, then a count
    notes: list[str] = field(default_factory=list)
    bad_lines: int = 0  # every bad line, listed or not

    @property
    def ok(self) -> bool:
        return not self.errors


class BadLines:
    """Every bad line of a file, counted; the first ``MAX_ERRORS_LISTED`` by line number kept.

    Lines arrive in file order from the reader and in line order from each check in SQL, so keeping
    the lowest numbers seen, pruned now and then, holds at most twice the listed number, however
    many lines are bad.
    """

    def __init__(self) -> None:
        self.count = 0
        self._kept: list[LineError] = []

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, line: int, reason: str) -> None:
        self.count += 1
        self._kept.append(LineError(line, reason))
        if len(self._kept) >= 2 * MAX_ERRORS_LISTED:
            self._prune()

    def counted(self, more: int) -> None:
        """``more`` bad lines beyond those added (a check in SQL counts what it does not list)."""
        self.count += more

    def _prune(self) -> None:
        self._kept.sort(key=lambda e: e.line)
        del self._kept[MAX_ERRORS_LISTED:]

    def listed(self) -> list[LineError]:
        """The first MAX_ERRORS_LISTED bad lines in line order, then how many more there are."""
        self._prune()
        more = self.count - len(self._kept)
        if more > 0:
            return [*self._kept, LineError(0, f"{more:,} more bad lines not listed")]
        return list(self._kept)


def size_text(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


def _size_of(source: IO[bytes]) -> int | None:
    """The bytes left in a seekable file, or None."""
    try:
        if not source.seekable():
            return None
        here = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(here)
    except (OSError, AttributeError, ValueError):
        return None
    return end - here


class _Lines:
    """The file's lines decoded one by one, as (number, text). A line that is not UTF-8 is reported;
    JSONL skips it, CSV gets it with U+FFFD in place of the bad bytes (so the csv module's count of
    lines stays the physical one) and skips the row it belongs to. Stops, with a line 0 error, once
    more than ``max_bytes`` have been read."""

    def __init__(self, source: IO[bytes], bad: BadLines, max_bytes: int, *, keep_bad: bool) -> None:
        self.source, self.bad, self.max_bytes, self.keep_bad = source, bad, max_bytes, keep_bad
        self.read = 0
        self.number = 0
        self.too_large = False
        self.undecodable: deque[int] = deque()  # numbers of bad lines not yet passed (CSV)
        self.undecodable_count = 0

    def __iter__(self) -> Iterator[tuple[int, str]]:
        for raw in self.source:  # binary files split on b"\n" only
            self.number += 1
            self.read += len(raw)
            if self.read > self.max_bytes:
                self.too_large = True
                self.bad.add(0, f"the file is over {size_text(self.max_bytes)}; split it")
                return
            encoding = "utf-8-sig" if self.number == 1 else "utf-8"
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                self.undecodable_count += 1
                self.bad.add(
                    self.number,
                    f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start + 1} of "
                    "the line); save the file as UTF-8",
                )
                if not self.keep_bad:
                    continue
                self.undecodable.append(self.number)
                text = raw.decode(encoding, errors="replace")
            yield self.number, text

    def reported_within(self, first: int, last: int) -> bool:
        """Was a line in first..last already reported as not UTF-8? (Lines before ``first`` are
        forgotten: rows come in order.)"""
        while self.undecodable and self.undecodable[0] < first:
            self.undecodable.popleft()
        return bool(self.undecodable) and self.undecodable[0] <= last


def rows_read(
    *, file_name: str, source: IO[bytes], bad: BadLines, max_bytes: int
) -> Iterator[tuple[int, Any]]:
    """Yield (line number, row) for a JSONL or CSV file; unreadable lines go to ``bad``.

    CSV rows come out as dicts of strings; JSONL rows as whatever the JSON line holds (the caller
    checks it is an object). A file larger than ``max_bytes`` is refused with a line 0 error before
    anything is read when its size is known, else as soon as the limit is passed.
    """
    size = _size_of(source)
    if size is not None and size > max_bytes:
        bad.add(0, f"the file is {size_text(size)}; at most {size_text(max_bytes)}, split it")
        return
    from_csv = file_name.lower().endswith(".csv")
    lines = _Lines(source, bad, max_bytes, keep_bad=from_csv)
    if from_csv:
        yield from _csv_rows(lines, bad)
        return
    # JSONL, or one JSON array: the first character that is not white space tells.
    stream = iter(lines)
    head: list[tuple[int, str]] = []
    for number, text in stream:
        head.append((number, text))
        if text.strip():
            break
    if head and head[-1][1].lstrip().startswith("["):
        yield from _json_array_rows(head, stream, lines, bad)
    else:
        yield from _jsonl_rows(head, stream, bad)


def _json_error(exc: JsonInputError) -> str:
    where = f" at column {exc.column}" if exc.column else ""
    return f"{exc.message}{where}"


def _json_array_rows(head, stream, lines: _Lines, bad: BadLines) -> Iterator[tuple[int, Any]]:
    """A whole-file JSON array: row n is item n. Parsed in one piece, so limited in size."""
    parts = [text for _, text in head]
    for _, text in stream:
        parts.append(text)
        if lines.read > MAX_ARRAY_BYTES:
            bad.add(
                0,
                f"a file holding one JSON array is read whole: at most "
                f"{size_text(MAX_ARRAY_BYTES)}; write one object per line (JSONL) instead",
            )
            return
    if lines.too_large or lines.undecodable_count:  # reported already; the array is unreadable
        return
    try:
        items = json_loads("".join(parts))
    except JsonInputError as exc:
        bad.add(exc.line or 0, _json_error(exc))
        return
    if not isinstance(items, list):
        bad.add(1, "expected one JSON array of objects, or one object per line")
        return
    yield from enumerate(items, start=1)


def _jsonl_rows(head, stream, bad: BadLines) -> Iterator[tuple[int, Any]]:
    for lines in (head, stream):
        for number, line in lines:
            if not line.strip():
                continue
            try:  # without its "\n", which a string cut short would otherwise take in
                yield number, json_loads(line.removesuffix("\n"))
            except JsonInputError as exc:
                bad.add(number, _json_error(exc))


def _csv_lines(lines: _Lines) -> Iterator[str]:
    """Physical lines for the csv module, which also counts a lone "\\r" as a line end (as a
    whole-file ``StringIO(newline="")`` did)."""
    for _, text in lines:
        if "\r" in text.rstrip("\r\n"):
            yield from io.StringIO(text, newline="")
        else:
            yield text


def _csv_rows(lines: _Lines, bad: BadLines) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows as {column: text}. A line break inside a quoted cell is stored as "\\n"; a column with
    no name in the header must stay empty."""
    reader = csv.reader(_csv_lines(lines))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        bad.add(1, f"malformed CSV header ({exc})")
        return
    if lines.reported_within(1, reader.line_num):  # a header that is not UTF-8
        return
    for index, name in enumerate(header, start=1):
        problem = text_problem(name, one_line=True)
        if problem:
            bad.add(1, f"the name of column {index} {problem}")
            return
    named = [h for h in header if h]
    if len(set(named)) != len(named):
        bad.add(1, "the header repeats a column name")
        return
    previous_end = reader.line_num
    while True:
        start = previous_end + 1  # a quoted field may span lines: report where the row starts
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if not lines.reported_within(start, reader.line_num):
                bad.add(start, f"malformed CSV ({exc})")
            return
        previous_end = reader.line_num
        if lines.reported_within(start, previous_end) or not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            bad.add(start, f"expected {len(header)} columns, found {len(values)}")
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
            bad.add(start, problem)
            continue
        yield start, row
