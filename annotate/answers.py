"""Final answers: taken out of a response by the campaign's rule, and compared with a reference. Pure.

Rules (``TTCConfig.answer_rule``):

* ``convention`` — the last ``\\boxed{…}`` (braces balanced, so ``\\boxed{\\frac{1}{2}}`` is whole);
  without one, the last line that starts "Answer:" or "Final answer:" (markdown emphasis and
  heading marks around it allowed), its text after the colon.
* ``regex`` — the campaign's pattern, searched in the whole response: the last match's first group
  (the whole match when the pattern has no group). Multi-line (``^``/``$`` per line) and
  case-insensitive. The pattern is the admin's, so it runs under the ``regex`` package's time
  limit (``REGEX_SECONDS`` per response): one that backtracks past it raises ``PatternTimeout``
  instead of holding a worker or a request for minutes.
* ``last_line`` — the last line that is not blank, without list, quote or heading marks.
* ``judge`` — the campaign's judge reads the response and names the answer (a background call,
  annotate/services/ttc_reviews.py); nothing is extracted here.

A response with nothing the rule can find has no answer (``None``): it never matches a reference
and casts no vote in a majority.

Matching (``answer_key``): answers are compared after folding case and white space, dropping
surrounding ``$``, ``\\(…\\)``, bold/code marks, a trailing full stop and thousands separators;
numbers compare by value (``12``, ``12.0`` and ``24/2`` are one answer), a ``%`` kept apart.
"""

from __future__ import annotations

import re
from fractions import Fraction

import regex

RULES = {
    "convention": "\\boxed{…}, else an “Answer:” line",
    "regex": "a regular expression (its first group)",
    "last_line": "the last line",
    "judge": "the judge names it",
}
MAX_PATTERN = 300
MAX_ANSWER = 500
REGEX_SECONDS = 0.5  # per response; a fair pattern takes microseconds on a long answer

_ANSWER_LINE = re.compile(
    r"^[\s>#*_`-]*(?:final\s+)?answer[*_`]*\s*[:：][*_`]*\s*(?P<answer>.*?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_LINE_MARKS = re.compile(r"^\s*(?:[-*+>]|#{1,6}|\d+[.)])\s+")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$", re.IGNORECASE)
_FRACTION = re.compile(r"^([+-]?\d+)\s*/\s*(\d+)$")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?:\D|$))")


class PatternError(ValueError):
    """A campaign pattern that cannot be used; the message says why."""


class PatternTimeout(PatternError):
    """A pattern that ran past ``REGEX_SECONDS`` on one response (it backtracks too much)."""


def compile_pattern(pattern: str) -> regex.Pattern:
    """The campaign's pattern, compiled, or PatternError (too long, empty, or not a regex). The
    ``regex`` package reads Python's ``re`` syntax (its version 0) and can stop a search."""
    if not pattern or not pattern.strip():
        raise PatternError("The regex rule needs a pattern.")
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"A pattern has at most {MAX_PATTERN} characters.")
    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.MULTILINE | regex.VERSION0)
    except (regex.error, RecursionError, OverflowError) as exc:
        raise PatternError(f"Not a regular expression: {exc}.") from None


def _last_boxed(text: str) -> str | None:
    start = text.rfind("\\boxed{")
    while start >= 0:
        depth, i = 0, start + len("\\boxed")
        for j in range(i, len(text)):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    return text[i + 1 : j]
        start = text.rfind("\\boxed{", 0, start)  # unbalanced: try an earlier one
    return None


def _clip(answer: str | None) -> str | None:
    if answer is None:
        return None
    answer = answer.strip()
    return answer[:MAX_ANSWER] if answer else None


def extract_answer(
    text: str, *, rule: str, pattern: str = "", seconds: float | None = None
) -> str | None:
    """The final answer of ``text`` under ``rule`` (a key of RULES), or None. A regex that runs
    past ``seconds`` (default ``REGEX_SECONDS``) raises PatternTimeout."""
    if rule == "convention":
        boxed = _last_boxed(text)
        if boxed is not None and boxed.strip():
            return _clip(boxed)
        found = [m.group("answer") for m in _ANSWER_LINE.finditer(text) if m.group("answer")]
        return _clip(found[-1].strip("*_` ")) if found else None
    if rule == "regex":
        compiled = compile_pattern(pattern)
        last = None
        try:
            for last in compiled.finditer(text, timeout=seconds or REGEX_SECONDS):  # noqa: B007
                pass  # the last match is the one kept
        except TimeoutError:
            raise PatternTimeout(
                f"The answer pattern took longer than {seconds or REGEX_SECONDS:g} s on a "
                "response (it backtracks too much); simplify it."
            ) from None
        if last is None:
            return None
        return _clip(last.group(1) if compiled.groups else last.group(0))
    if rule == "last_line":
        lines = [line for line in text.splitlines() if line.strip()]
        return _clip(_LINE_MARKS.sub("", lines[-1]).strip("*_` ")) if lines else None
    if rule == "judge":
        return None
    raise ValueError(f"Unknown answer rule {rule!r}; use one of: {', '.join(RULES)}.")


def answer_key(answer: str | None) -> str | None:
    """What two answers must share to be the same answer (module docstring), or None."""
    if answer is None:
        return None
    text = " ".join(answer.split()).strip()
    for left, right in (("$", "$"), ("\\(", "\\)"), ("**", "**"), ("`", "`")):
        if len(text) >= len(left) + len(right) and text.startswith(left) and text.endswith(right):
            text = text[len(left) : len(text) - len(right)].strip()
    text = text.rstrip(".").strip().lower()
    if not text:
        return None
    percent = text.endswith("%")
    number = _THOUSANDS.sub("", text[:-1] if percent else text).replace(" ", "")
    value = None
    if _NUMBER.match(number):
        try:
            value = Fraction(number)
        except (ValueError, ZeroDivisionError):
            value = None
    elif fraction := _FRACTION.match(number):
        if int(fraction.group(2)):
            value = Fraction(int(fraction.group(1)), int(fraction.group(2)))
    if value is not None:
        return f"{value}{'%' if percent else ''}"
    return text


def answers_match(answer: str | None, reference: str | None) -> bool:
    key = answer_key(answer)
    return key is not None and key == answer_key(reference)
