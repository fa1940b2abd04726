"""Step labels: a response split into steps, each marked correct / neutral / wrong (PRM800K's
+1 / 0 / -1), for process-reward data.

The rules, pure (no Django) and shared by the build, the page, the API, the models and the exports:

* **The split** (``steps_split``) is the campaign's rule, applied once when the units are built and
  stored with them, so every rater labels the same steps:

  - ``paragraph``: blocks separated by a blank line;
  - ``numbered``: a line that starts with a number ("1.", "2)", "Step 3:") starts a step; lines
    before the first such line are a step of their own, later lines belong to the step above;
  - ``regex``: the campaign's pattern marks the boundaries (``re.split`` semantics, groups
    ignored; a zero-width pattern such as ``(?m)^(?=Step )`` starts a step where it matches).

  Steps are stripped of surrounding white space; empty ones are dropped. A campaign pattern runs
  in a separate interpreter with a time limit (``regex_split_many``): Python's ``re`` cannot be
  interrupted, so a pattern that backtracks catastrophically on some response must not run in a
  web worker. Past the limit the split fails with ``SplitError`` and no unit is built.
* **A step vote** (``step_labels_clean``) gives one label per step, 1, 0 or -1, and an optional
  note per step. When the campaign says the first wrong step ends the trace, steps after the first
  -1 need no label, and are stored unlabelled (``None``) whatever was sent.
* **Gold** (``step_gold_correct``): a vote on a gold trace is right when it finds the trace's
  first wrong step where the gold labels do (or, like gold, finds none) — the decision a process
  reward model is trained to make; neutral-versus-correct differences do not count against it.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence

from django.utils.translation import gettext

from annotate.protocols.base import Protocol, register
from annotate.protocols.sets import set_unit_next

SPLITS = ("paragraph", "numbered", "regex")
SOURCES = ("answer", "reasoning")
LABELS = (1, 0, -1)
MAX_STEPS = 40
MAX_PATTERN = 200
MAX_STEP_NOTE = 1000
# The time one build's campaign-pattern splits may take, all responses together.
REGEX_SECONDS = 2.0

_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_NUMBERED = re.compile(r"^[ \t]*(?:(?:step|단계)[ \t]*\d+[ \t]*[:.)]?|\d+[.)])(?:[ \t]|$)", re.I)


class SplitError(ValueError):
    """A campaign pattern that cannot split: not a regex, or too slow on some response."""


class LabelsInvalid(ValueError):
    """Step labels that do not fit the trace; the message says what is wrong."""


def pattern_check(pattern: str) -> re.Pattern:
    """The campaign's step pattern compiled, or SplitError (empty, too long, not a regex, or one
    that matches the empty text everywhere and so splits nothing)."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise SplitError(gettext("The regex split needs a pattern."))
    if len(pattern) > MAX_PATTERN:
        raise SplitError(
            gettext("A step pattern has at most %(n)s characters.") % {"n": MAX_PATTERN}
        )
    try:
        return re.compile(pattern, re.MULTILINE)
    except (re.error, RecursionError, OverflowError) as exc:
        raise SplitError(gettext("Not a regular expression: %(error)s.") % {"error": exc}) from None


def _clean(parts: Sequence[str]) -> list[str]:
    return [p.strip() for p in parts if p and p.strip()]


def _split_paragraph(text: str) -> list[str]:
    return _clean(_PARAGRAPH.split(text.replace("\r\n", "\n")))


def _split_numbered(text: str) -> list[str]:
    steps: list[list[str]] = [[]]
    for line in text.replace("\r\n", "\n").split("\n"):
        if _NUMBERED.match(line) and any(s.strip() for s in steps[-1]):
            steps.append([])
        steps[-1].append(line)
    return _clean(["\n".join(lines) for lines in steps])


def _split_regex(text: str, compiled: re.Pattern) -> list[str]:
    parts, start = [], 0
    for match in compiled.finditer(text):
        if match.end() == 0 or (match.start() == match.end() == start):
            continue  # a zero-width match where a step starts anyway
        parts.append(text[start : match.start()])
        start = match.end()
    parts.append(text[start:])
    return _clean(parts)


def steps_split(text: str, *, rule: str, pattern: str = "") -> list[str]:
    """The steps of ``text`` by ``rule``. The regex rule runs here, in this process: only for a
    pattern already known to be fast (tests, trusted callers); builds use ``steps_split_many``."""
    if rule == "paragraph":
        return _split_paragraph(text)
    if rule == "numbered":
        return _split_numbered(text)
    if rule == "regex":
        return _split_regex(text, pattern_check(pattern))
    raise ValueError(f"unknown split rule {rule!r}")


def _child_code() -> str:
    # The child runs the very functions this module uses (their source), nothing of the project.
    return "\n".join(
        [
            "import json, re, sys",
            "from collections.abc import Sequence",
            inspect.getsource(_clean),
            inspect.getsource(_split_regex),
            "data = json.load(sys.stdin)",
            "compiled = re.compile(data['pattern'], re.MULTILINE)",
            "json.dump([_split_regex(t, compiled) for t in data['texts']], sys.stdout)",
        ]
    )


def regex_split_many(texts: list[str], *, pattern: str, seconds: float | None = None) -> list:
    """``_split_regex`` of each text, run in a child interpreter that is killed after ``seconds``
    (the same ``_split_regex``, its source handed to the child)."""
    pattern_check(pattern)
    seconds = seconds or REGEX_SECONDS
    if not texts:
        return []
    try:
        done = subprocess.run(  # noqa: S603 (our own interpreter, our own code, data on stdin)
            [sys.executable, "-I", "-S", "-c", _child_code()],
            input=json.dumps({"pattern": pattern, "texts": texts}),
            capture_output=True,
            text=True,
            timeout=seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SplitError(
            gettext(
                "The step pattern took longer than %(seconds)s s on these responses (it "
                "backtracks too much); simplify it."
            )
            % {"seconds": f"{seconds:g}"}
        ) from None
    if done.returncode != 0:
        raise SplitError(gettext("The step pattern could not split the responses."))
    return json.loads(done.stdout)


def steps_split_many(texts: list[str], *, rule: str, pattern: str = "") -> list[list[str]]:
    """The steps of each text; the regex rule in one time-limited child process for all."""
    if rule == "regex":
        return regex_split_many(texts, pattern=pattern)
    return [steps_split(t, rule=rule) for t in texts]


# --- labels ---------------------------------------------------------------------------------------


def first_wrong(labels: Sequence[int | None]) -> int | None:
    """The index of the first -1, or None."""
    for i, label in enumerate(labels):
        if label == -1:
            return i
    return None


def step_labels_clean(
    labels: object, *, n: int, stop_at_wrong: bool, notes: object = None
) -> tuple[list[int | None], list[str]]:
    """The labels (1, 0, -1, or None where the trace had ended) and notes of a vote on ``n``
    steps, or LabelsInvalid. Notes are strings, "" for none; their text rules are the caller's
    (annotate.validation.text_check), lengths are checked here."""
    if not isinstance(labels, list) or len(labels) != n:
        raise LabelsInvalid(gettext("Give one label per step (%(n)s steps).") % {"n": n})
    for label in labels:
        if label is not None and (type(label) is not int or label not in LABELS):
            raise LabelsInvalid(
                gettext("A step's label is 1 (correct), 0 (neutral) or -1 (wrong).")
            )
    if notes is None:
        notes = [""] * n
    if not isinstance(notes, list) or len(notes) != n:
        raise LabelsInvalid(gettext("Give one note per step (empty for none)."))
    for note in notes:
        if not isinstance(note, str):
            raise LabelsInvalid(gettext("A note is text."))
        if len(note) > MAX_STEP_NOTE:
            raise LabelsInvalid(
                gettext("A note has at most %(n)s characters.") % {"n": MAX_STEP_NOTE}
            )
    end = n
    if stop_at_wrong:
        wrong = first_wrong(labels)
        if wrong is not None:
            end = wrong + 1
    missing = [i + 1 for i in range(end) if labels[i] is None]
    if missing:
        raise LabelsInvalid(
            gettext("Label every step (step %(steps)s not labelled yet).")
            % {"steps": ", ".join(map(str, missing[:5]))}
        )
    cleaned = [labels[i] if i < end else None for i in range(n)]
    kept = [notes[i].strip() if i < end else "" for i in range(n)]
    return cleaned, kept


def step_gold_correct(labels: Sequence[int | None], gold: Sequence[int | None]) -> bool:
    return first_wrong(labels) == first_wrong(gold)


def step_majority(labels: Sequence[int | None]) -> int | None:
    """The majority label of one step over raters (unlabelled ones do not vote); a tie goes to
    the lower label (a step called wrong as often as right is not trusted). None: no label."""
    counts = Counter(label for label in labels if label is not None)
    if not counts:
        return None
    top = max(counts.values())
    return min(label for label, n in counts.items() if n == top)


def trace_majority(
    votes: Sequence[Sequence[int | None]], *, n: int, stop_at_wrong: bool
) -> list[int | None]:
    """Per step, the raters' majority; with ``stop_at_wrong`` the steps after the first wrong
    majority are None (the trace ended there for the aggregate as for a rater)."""
    out = [step_majority([v[i] for v in votes if i < len(v)]) for i in range(n)]
    if stop_at_wrong and (wrong := first_wrong(out)) is not None:
        out = [label if i <= wrong else None for i, label in enumerate(out)]
    return out


# --- the protocol record --------------------------------------------------------------------------


def _units_build(*, campaign):
    from annotate.services.steps import step_units_build_report

    return step_units_build_report(campaign=campaign)


def _units_exist(*, campaign) -> bool:
    from annotate.models import StepTrace

    return StepTrace.objects.filter(candidate_set__campaign=campaign).exists()


def _vote_record(**vote):
    from annotate.services.steps import step_vote_record

    return step_vote_record(**vote)


def _export_rows(*, campaign_id: int, **kwargs):
    from annotate.selectors.steps import step_export_rows

    return step_export_rows(campaign_id=campaign_id)


def _agreement(*, campaign) -> dict:
    from annotate.selectors.steps import step_agreement

    return step_agreement(campaign=campaign)


STEPS = register(
    Protocol(
        name="steps",
        unit="trace",
        units_build=_units_build,
        units_exist=_units_exist,
        unit_next=set_unit_next,
        vote_record=_vote_record,
        export_rows=_export_rows,
        agreement=_agreement,
        rate_url="annotate:steps",
    )
)
