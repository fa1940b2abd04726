"""Helpers of the rating views: parsing a vote form, the diff (their reads: selectors/rating.py)."""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.http import QueryDict

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
        vote.error = "This vote is not for a pair; reload the page."
        return vote
    try:  # the rules every way in applies (annotate/validation.py): no NUL, bounded lengths
        text_check(vote.rationale, field="Your rationale", max_length=MAX_RATIONALE)
        text_check(vote.rewrite, field="Your rewrite", max_length=MAX_REWRITE)
        vote.key = text_check(
            data.get("key", ""), field="The form's key", max_length=MAX_KEY, one_line=True
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
        vote.error = "Choose which response is better first."
    else:
        vote.choice, vote.strength = chosen.choice, chosen.strength
    if any(v not in ("left", "right", "tie") for v in vote.aspects.values()):
        vote.error = "Each aspect is left, right or tie."
    if text_error:
        vote.error = text_error
    return vote


_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def diff_html(left: str, right: str) -> str:
    """Word-level diff as escaped HTML: <del> only in left, <ins> only in right."""
    a, b = _TOKEN.findall(left), _TOKEN.findall(right)
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(html.escape("".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            out.append(f"<del>{html.escape(''.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            out.append(f"<ins>{html.escape(''.join(b[j1:j2]))}</ins>")
    return "".join(out)
