"""Helpers of the rating views: parsing a vote form, the diff, history/progress reads."""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, Sum
from django.http import QueryDict

from annotate.models import Campaign, Judgment, Pair, User
from annotate.validation import MAX_KEY, MAX_RATIONALE, MAX_REWRITE, id_parse, text_check

# The 7-point scale in shown terms (A is the left response): key, choice, strength, label.
GRADES = [
    ("g1", "left", 3, "A much better"),
    ("g2", "left", 2, "A better"),
    ("g3", "left", 1, "A slightly better"),
    ("g4", "tie", 0, "About the same"),
    ("g5", "right", 1, "B slightly better"),
    ("g6", "right", 2, "B better"),
    ("g7", "right", 3, "B much better"),
]
_GRADE_MAP = {key: (choice, strength) for key, choice, strength, _ in GRADES}
_BINARY = {"left", "right", "tie", "both_bad"}


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
    if campaign.scale == Campaign.Scale.GRADED7 and verdict in _GRADE_MAP:
        vote.choice, vote.strength = _GRADE_MAP[verdict]
    elif verdict == "both_bad" or (campaign.scale == Campaign.Scale.BINARY and verdict in _BINARY):
        vote.choice = verdict
    else:
        vote.error = "Choose which response is better first."
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


def _shown(choice: str, left_is_a: bool | None) -> str:
    if choice in ("a", "b") and left_is_a is not None:
        return "A (left)" if (choice == "a") == left_is_a else "B (right)"
    return {"tie": "Tie", "both_bad": "Both bad"}.get(choice, choice)


def my_history(*, campaign: Campaign, rater: User, limit: int = 100) -> list[dict]:
    """The rater's own votes, newest first, described as they saw them (left/right)."""
    rows = (
        Judgment.objects.filter(campaign=campaign, rater=rater, source=Judgment.Source.HUMAN)
        .select_related("pair__prompt")
        .only(
            "choice",
            "strength",
            "left_is_a",
            "rationale",
            "time_on_task_ms",
            "created_at",
            "revises_id",
            "pair__prompt__messages",
        )
        .order_by("-created_at")[:limit]
    )
    return [
        {
            "when": j.created_at,
            "prompt": j.pair.prompt.last_user_text[:160],
            "choice": _shown(j.choice, j.left_is_a),
            "strength": j.strength,
            "rationale": j.rationale,
            "seconds": (j.time_on_task_ms or 0) / 1000,
            "revision": j.revises_id is not None,
        }
        for j in rows
    ]


def my_vote_count(*, campaign: Campaign, rater: User) -> int:
    """The rater's own votes in the campaign (revisions after a judge reveal not counted): the
    enrollment's counter, which each vote keeps in step, instead of counting every vote."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT votes FROM annotate_enrollment WHERE campaign_id = %s AND rater_id = %s",
            [campaign.pk, rater.pk],
        )
        row = cursor.fetchone()
    return row[0] if row else 0


def my_progress(*, campaign: Campaign, rater: User) -> dict:
    mine = Judgment.objects.filter(
        campaign=campaign, rater=rater, source=Judgment.Source.HUMAN, revises__isnull=True
    ).count()
    totals = Pair.objects.filter(campaign=campaign).aggregate(
        done=Sum("completed"), wanted=Sum("needed"), pairs=Count("id")
    )
    done, wanted = totals["done"] or 0, totals["wanted"] or 0
    return {
        "mine": mine,
        "campaign_done": done,
        "campaign_wanted": wanted,
        "campaign_percent": round(100 * done / wanted) if wanted else 0,
    }
