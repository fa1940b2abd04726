"""Helpers of the rating views: parsing a vote form, the diff (their reads: selectors/rating.py)."""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.translation import gettext

from annotate.models import Campaign
from annotate.validation import MAX_KEY, MAX_RATIONALE, MAX_REWRITE, id_parse, text_check
from annotate.views.scale_keys import verdict_for


@dataclass
class ParsedVote:
    assignment_id: int = 0
    choice: str = ""
    strength: int | None = None
    aspects: dict = field(default_factory=dict)
    rationale: str = ""
    rewrite: str = ""
    key: str = ""
    error: str = ""
    kept: dict = field(default_factory=dict)


def parse_vote(data: QueryDict, *, campaign: Campaign) -> ParsedVote:
    """Read the vote form (shown terms). Bad input gives ``error``; ``kept`` restores what was typed."""
    vote = ParsedVote(rationale=data.get("rationale", ""), rewrite=data.get("rewrite", ""))
    vote.assignment_id = id_parse(data.get("assignment", "")) or 0
    if not vote.assignment_id:
        vote.error = gettext("This vote is not for a pair; reload the page.")
        return vote
    try:  # the rules every way in applies (annotate/validation.py): no NUL, bounded lengths
        text_check(vote.rationale, field=gettext("Your rationale"), max_length=MAX_RATIONALE)
        text_check(vote.rewrite, field=gettext("Your rewrite"), max_length=MAX_REWRITE)
        vote.key = text_check(
            data.get("key", ""), field=gettext("The form's key"), max_length=MAX_KEY, one_line=True
        )
    except ValidationError as exc:
        text_error = exc.messages[0]
    else:
        text_error = ""
    verdict = data.get("verdict", "")
    vote.aspects = {
        name: data.get(f"aspect_{name}", "")
        for name in campaign.aspects or []
        if data.get(f"aspect_{name}")
    }
    vote.kept = {
        "assignment_id": vote.assignment_id,
        "verdict": verdict,
        "aspects": vote.aspects,
        "rationale": vote.rationale,
        "rewrite": vote.rewrite,
    }
    chosen = verdict_for(verdict, campaign=campaign)
    if chosen is None:
        vote.error = gettext("Choose which response is better first.")
    else:
        vote.choice, vote.strength = chosen.choice, chosen.strength
    if any(v not in ("left", "right", "tie") for v in vote.aspects.values()):
        vote.error = gettext("Each aspect is left, right or tie.")
    if text_error:
        vote.error = text_error
    return vote


_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
_FENCE = re.compile(r"(```+|~~~+)")
# Below this share of common words, two blocks are shown whole (one struck, one added) rather than
# as word soup.
_PAIR_AT = 0.35


def _blocks(text: str) -> list[str]:
    """The markdown's blocks: paragraphs, lists and headings split at blank lines; a fenced code
    block stays one block, blank lines and all."""
    blocks: list[str] = []
    current: list[str] = []
    fence = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.lstrip()
        if fence:
            current.append(line)
            if stripped.startswith(fence):
                blocks.append("\n".join(current))
                current, fence = [], ""
            continue
        opening = _FENCE.match(stripped)
        if opening or not line.strip():
            if current:
                blocks.append("\n".join(current))
            current = [line] if opening else []
            fence = opening.group(1) if opening else ""
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _cell(text: str, *, classes: str = "") -> str:
    code = " diff-code" if _FENCE.match(text.lstrip()) else ""
    return f'<div class="diff-cell{code}{classes}">{text}</div>'


def _words(left: str, right: str) -> tuple[str, str]:
    """Two blocks as escaped HTML, each with its own changes marked: <del> in left, <ins> in right."""
    a, b = _TOKEN.findall(left), _TOKEN.findall(right)
    out_a: list[str] = []
    out_b: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out_a.append(html.escape("".join(a[i1:i2])))
            out_b.append(html.escape("".join(b[j1:j2])))
            continue
        if i2 > i1:
            out_a.append(f"<del>{html.escape(''.join(a[i1:i2]))}</del>")
        if j2 > j1:
            out_b.append(f"<ins>{html.escape(''.join(b[j1:j2]))}</ins>")
    return "".join(out_a), "".join(out_b)


def _changed_rows(left: list[str], right: list[str]) -> list[str]:
    """Rows for a run of blocks that differ: the i-th block of each side side by side with its words
    marked when they share enough, else each block whole on a row of its own."""
    rows: list[str] = []
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else None
        b = right[i] if i < len(right) else None
        ratio = (
            difflib.SequenceMatcher(None, _TOKEN.findall(a), _TOKEN.findall(b)).ratio()
            if a is not None and b is not None
            else 0.0
        )
        if ratio >= _PAIR_AT:
            marked_a, marked_b = _words(a, b)
            rows.append(_cell(marked_a) + _cell(marked_b))
            continue
        if a is not None:
            rows.append(
                _cell(html.escape(a), classes=" diff-all-del")
                + '<div class="diff-cell diff-empty"></div>'
            )
        if b is not None:
            rows.append(
                '<div class="diff-cell diff-empty"></div>'
                + _cell(html.escape(b), classes=" diff-all-ins")
            )
    return rows


def diff_html(left: str, right: str) -> str:
    """The two responses (markdown as written, left → right as shown) as escaped HTML: aligned
    side-by-side blocks (paragraphs, list runs, code blocks), unchanged blocks plain on both
    sides, changed blocks with their changed words marked (<del> only in A, <ins> only in B), a
    block with no counterpart beside an empty cell."""
    a, b = _blocks(left), _blocks(right)
    rows = [
        '<div class="diff-head">Response A</div><div class="diff-head">Response B</div>',
    ]
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            rows.extend(
                _cell(html.escape(block), classes=" diff-same")
                + _cell(html.escape(block), classes=" diff-same")
                for block in a[i1:i2]
            )
        else:
            rows.extend(_changed_rows(a[i1:i2], b[j1:j2]))
    return f'<div class="diff-grid">{"".join(rows)}</div>'
