"""The step-labels workbench: one page, one request per trace (the steps protocol's rank.py).

GET shows the rater's current trace (a reload returns the same lease): the prompt, then the
response's steps as the build stored them, each to be marked correct (+1), neutral (0) or wrong
(-1), with an optional note. The vote POST carries ``label_<n>`` and ``note_<n>`` per step; the
service checks them (annotate/protocols/steps.py ``step_labels_clean``, the API's rules too),
records the vote, and the next trace's fragment comes back in the same response. Raters never see
model names, generators, gold labels or others' votes.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from annotate.access import campaign_for_rater
from annotate.models import Campaign, Prompt, SetAssignment, StepTrace
from annotate.protocols.steps import MAX_STEPS
from annotate.selectors.rating import rater_vote_count
from annotate.selectors.steps import step_judge_reveal, step_judge_suggestion
from annotate.services.assignment import AssignmentError, rater_enrollment
from annotate.services.corrections import undo_seconds
from annotate.services.judgments import VoteRefused
from annotate.services.prompts import prompt_rendered_ensure
from annotate.services.sets import (
    set_assignment_next,
    set_assignment_renew,
    set_assignment_skip,
)
from annotate.services.steps import step_vote_record
from annotate.validation import MAX_REASON, id_parse, text_check
from annotate.views.set_undo import set_correct, set_undo, undo_context

TEMPLATE = "annotate/steps.html"
# Keys of the step page (the help overlay lists them; static/annotate/steps.js acts on them).
STEP_KEYS = (
    ("j / ↓", gettext_lazy("next step")),
    ("k / ↑", gettext_lazy("previous step")),
    ("1 / +", gettext_lazy("this step is correct (+1)")),
    ("2 / 0", gettext_lazy("this step is neutral (0): reasonable, but no progress")),
    ("3 / -", gettext_lazy("this step is wrong (−1)")),
    ("n", gettext_lazy("write a note on this step")),
    ("Enter", gettext_lazy("submit")),
    ("s", gettext_lazy("skip this trace")),
    ("u", gettext_lazy("undo your last vote (for a short while after it)")),
    ("g", gettext_lazy("guidelines")),
    ("?", gettext_lazy("this help")),
)
# What steps.js says to the rater, in the page's language (json_script, as rank.py's).
JS_STRINGS = {
    "left": gettext_lazy("{n} steps left to label"),
    "ready": gettext_lazy("Ready: Enter submits"),
    "ended": gettext_lazy("The trace ended at step {n} (its first wrong step)"),
    "labelEvery": gettext_lazy("Label every step first"),
    "correct": gettext_lazy("correct"),
    "neutral": gettext_lazy("neutral"),
    "wrong": gettext_lazy("wrong"),
}
# What a step's form field may say; anything else goes to the service as it came, which refuses it.
_FORM_LABELS = {"1": 1, "+1": 1, "0": 0, "-1": -1, "": None}


def _context(
    request: HttpRequest,
    *,
    campaign: Campaign,
    lease: SetAssignment | None,
    error: str = "",
    prefill: dict | None = None,
    undo_ms: int | None = None,
) -> dict:
    """The page's context; ``prefill`` (labels and notes) fills the steps in again when the rater
    undoes their last vote (views/set_undo.py)."""
    ctx = {
        **undo_context(campaign, request.user, undo_ms=undo_ms),
        "campaign": campaign,
        "lease": lease,
        "error": error,
        "step_keys": STEP_KEYS,
        "js_strings": JS_STRINGS,
        "my_votes": rater_vote_count(campaign=campaign, rater=request.user),
        "enrollment": (
            rater_enrollment(campaign=campaign, rater=request.user) if lease is None else None
        ),
    }
    if lease is not None:
        trace = getattr(lease, "trace", None)
        if trace is not None:  # read with the lease by the claim (annotate/sql/set_leases.py)
            prompt = lease.candidate_set.prompt
        else:
            prompt = Prompt.objects.only("id", "system", "rendered", "messages").get(
                candidate_sets=lease.candidate_set_id
            )
            trace = StepTrace.objects.only("steps_html", "source").get(
                candidate_set_id=lease.candidate_set_id
            )
        if not prompt.rendered:
            prompt_rendered_ensure(prompt=prompt)
        labels = list((prefill or {}).get("labels") or [])
        notes = list((prefill or {}).get("notes") or [])
        ctx.update(
            prompt=prompt,
            trace=trace,
            steps=[
                {
                    "number": i + 1,
                    "html": html,
                    # The radio's value ("1", "0", "-1"; "" none) and note of a prefilled vote.
                    "label": "" if i >= len(labels) or labels[i] is None else str(labels[i]),
                    "note": notes[i] if i < len(notes) and isinstance(notes[i], str) else "",
                }
                for i, html in enumerate(trace.steps_html)
            ],
            n=len(trace.steps_html),
        )
        # Before-vote mode only: the judge's labels up front (selectors/steps.py gates it).
        judge = step_judge_suggestion(campaign=campaign, candidate_set_id=lease.candidate_set_id)
        if judge is not None:
            ctx["suggestion"] = {
                "judge": " · ".join(
                    f"{i}: {_spoken(label)}" for i, label in enumerate(judge["labels"], start=1)
                ),
                "rationale": "",
            }
    return ctx


def _spoken(label) -> str:
    return {1: "+1", 0: "0", -1: "−1"}.get(label, "–")


def _render(request: HttpRequest, ctx: dict, status: int = 200) -> HttpResponse:
    name = TEMPLATE + "#workbench" if request.htmx else TEMPLATE
    return render(request, name, ctx, status=status)


@login_required
@require_GET
def steps(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_rater(request.user, slug)
    if not campaign.is_steps:
        return redirect("annotate:rate", slug=slug)
    lease = set_assignment_next(campaign=campaign, rater=request.user)
    ctx = _context(request, campaign=campaign, lease=lease)
    ctx["show_guidelines"] = ctx["my_votes"] == 0 and bool(campaign.guidelines_html)
    return _render(request, ctx)


def step_form_parse(data) -> tuple[int, dict, str]:
    """The form as the service's keywords (lease, labels, notes); an error for a missing lease."""
    lease_id = id_parse(data.get("lease", "")) or 0
    if not lease_id:
        return 0, {}, gettext("These labels are not for a trace; reload the page.")
    labels, notes = [], []
    for i in range(1, MAX_STEPS + 2):
        if f"label_{i}" not in data:
            break
        raw = data.get(f"label_{i}", "")
        labels.append(_FORM_LABELS.get(raw.strip(), raw))
        notes.append(data.get(f"note_{i}", ""))
    return lease_id, {"labels": labels, "notes": notes}, ""


def _after(request: HttpRequest, *, campaign: Campaign, error: str = "") -> HttpResponse:
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("annotate:steps", slug=campaign.slug)
    lease = set_assignment_next(campaign=campaign, rater=request.user)
    return _render(request, _context(request, campaign=campaign, lease=lease, error=error))


@login_required
@require_POST
def steps_vote(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_rater(request.user, slug)
    if not campaign.is_steps:
        return redirect("annotate:rate", slug=slug)
    lease_id, vote, error = step_form_parse(request.POST)
    if error:
        return _after(request, campaign=campaign, error=error)
    try:
        with transaction.atomic():
            stored = step_vote_record(lease=lease_id, rater=request.user, campaign=campaign, **vote)
            nxt = set_assignment_next(campaign=campaign, rater=request.user, after_vote=True)
    except VoteRefused as refused:
        return _after(request, campaign=campaign, error=refused.messages[0])
    if not request.htmx:
        return redirect("annotate:steps", slug=campaign.slug)
    ctx = _context(request, campaign=campaign, lease=nxt, undo_ms=undo_seconds() * 1000)
    # Blind first, then reveal: the judge's labels of the trace just labelled, after the vote.
    ctx["reveal"] = _reveal(campaign, stored)
    return _render(request, ctx)


def _reveal(campaign: Campaign, vote) -> dict | None:
    judge = step_judge_reveal(campaign=campaign, candidate_set_id=vote.candidate_set_id)
    if judge is None:
        return None
    return {
        "steps": [
            {"number": i + 1, "mine": mine, "judge": label, "reason": reason}
            for i, (mine, label, reason) in enumerate(
                zip(vote.labels, judge["labels"], judge["reasons"], strict=False)
            )
        ]
    }


@login_required
@require_POST
def steps_skip(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_rater(request.user, slug)
    lease_id = id_parse(request.POST.get("lease", "")) or 0
    try:
        reason = text_check(
            request.POST.get("reason", ""),
            field=gettext("The reason"),
            max_length=MAX_REASON,
            one_line=True,
        )
        set_assignment_skip(lease_id=lease_id, rater=request.user, reason=reason)
    except (AssignmentError, ValidationError) as exc:
        message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
        return _after(request, campaign=campaign, error=message)
    return _after(request, campaign=campaign)


@login_required
@require_POST
def steps_heartbeat(request: HttpRequest, slug: str) -> HttpResponse:
    campaign_for_rater(request.user, slug)
    lease_id = id_parse(request.POST.get("lease", "")) or 0
    alive = set_assignment_renew(lease_id=lease_id, rater=request.user)
    return HttpResponse(status=204 if alive else 410)


# --- undo the last labels (views/set_undo.py, services/set_corrections.py) ------------------------


@login_required
@require_POST
def steps_undo(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_rater(request.user, slug)
    if not campaign.is_steps:
        return redirect("annotate:rate", slug=slug)
    return set_undo(request, campaign, context=_context, render=_render)


@login_required
@require_POST
def steps_correct(request: HttpRequest, slug: str, vote_id: int) -> HttpResponse:
    campaign = campaign_for_rater(request.user, slug)
    if not campaign.is_steps:
        return redirect("annotate:rate", slug=slug)
    _, vote, error = step_form_parse(request.POST)
    return set_correct(
        request, campaign, vote_id, vote=vote, error=error, context=_context, render=_render
    )
