"""The campaign's AI-judge page: settings (admins), start judging, progress, analytics, best-of-N.

Researchers read the page (progress, analytics, picks); every POST is admin-only. No provider is
called here: services enqueue and workers call. The rater-facing reveal/revise lives at the end.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from annotate import endpoints
from annotate.access import campaign_for_admin, campaign_for_rater, campaign_for_researcher
from annotate.forms import endpoint_select, target_check
from annotate.judge.verdict import rationale_for_view
from annotate.models import Campaign, JudgeConfig, JudgeJob, Judgment
from annotate.selectors.judging import (
    judge_analytics,
    judge_configured,
    judge_job_progress,
    judge_label_count,
    judge_picks,
    judge_totals,
    verdict_for_pair,
)
from annotate.selectors.ratings import rating_judge_progress
from annotate.services.judging import (
    JUDGE_PROVIDERS,
    JudgeRefused,
    judge_config_get,
    judge_config_update,
    judge_pairs_start,
    judge_rank_start,
    rubric_current,
)
from annotate.services.judging_labels import (
    judge_auto_label,
    judge_best_pairs_build,
    judgment_revise,
)
from annotate.services.judgments import VoteRefused
from annotate.sides import left_and_right, to_stored
from annotate.validation import MAX_RATIONALE, text_check
from annotate.views.scale_keys import choice_words, scale_verdicts, verdict_for, vote_label

PROVIDER_CHOICES = [(p.value, p.label) for p in JUDGE_PROVIDERS]


class JudgeSettingsForm(forms.Form):
    judge_mode = forms.ChoiceField(choices=Campaign.JudgeMode.choices, label="Judge mode")
    provider = forms.ChoiceField(choices=PROVIDER_CHOICES)
    model = forms.CharField(max_length=200)
    endpoint = forms.ChoiceField(required=False, label="Endpoint (the operator's: host and key)")
    base_url = forms.URLField(required=False, label="Or a base URL without a key")
    mode = forms.ChoiceField(choices=JudgeConfig.Mode.choices, label="Run mode")
    auto_label_min_kappa = forms.FloatField(
        min_value=-1, max_value=1, label="Auto-label only when κ(judge, humans) ≥"
    )
    auto_label_min_pairs = forms.IntegerField(min_value=1, label="…on at least this many pairs")
    rubric_text = forms.CharField(widget=forms.Textarea(attrs={"rows": 14}), label="Rubric")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["endpoint"].choices = endpoint_select()

    def clean(self) -> dict:
        data = super().clean()
        if "provider" in data:
            target_check(self, provider=data["provider"])
        return data


def _page_context(
    request: HttpRequest, campaign: Campaign, form: JudgeSettingsForm | None = None
) -> dict:
    configured = judge_configured(campaign=campaign)
    config = judge_config_get(campaign=campaign, create=False)
    rubric = rubric_current(campaign=campaign, create=False)
    if form is None:
        # Configuring a judge for the first time proposes "reveal after the vote" (the default).
        mode = campaign.judge_mode
        if not configured and mode == Campaign.JudgeMode.OFF:
            mode = Campaign.JudgeMode.AFTER_VOTE
        target = endpoints.target_normalized(
            provider=config.provider, endpoint=config.endpoint, base_url=config.base_url
        )
        form = JudgeSettingsForm(
            initial={
                "judge_mode": mode,
                "provider": config.provider,
                "model": config.model,
                "endpoint": target[0],
                "base_url": target[1],
                "mode": config.mode,
                "auto_label_min_kappa": config.auto_label_min_kappa,
                "auto_label_min_pairs": config.auto_label_min_pairs,
                "rubric_text": rubric.text,
            }
        )
    return {
        "campaign": campaign,
        "config": config,
        "rubric": rubric,
        "rubric_versions": campaign.judge_rubrics.all()[:10],
        "form": form,
        "can_admin": request.user.is_campaign_admin,
        "totals": judge_totals(campaign=campaign),
        "progress": judge_job_progress(campaign=campaign),
        "stats": (stats := judge_analytics(campaign=campaign)),
        "plots": plot_rows(stats),
        "picks": judge_picks(campaign=campaign),
        "judge_labels": judge_label_count(campaign=campaign),
        "rating_judging": rating_judge_progress(campaign=campaign) if campaign.is_rating else None,
    }


def _back(campaign: Campaign, anchor: str = "") -> HttpResponse:
    return redirect(reverse("annotate:judge", args=[campaign.slug]) + anchor)


@login_required
def judge_page(request: HttpRequest, slug: str) -> HttpResponse:
    if request.method == "POST":
        campaign = campaign_for_admin(request.user, slug)
        form = JudgeSettingsForm(request.POST)
        if form.is_valid():
            try:
                judge_config_update(campaign=campaign, actor=request.user, **form.cleaned_data)
            except JudgeRefused as exc:
                form.add_error(None, str(exc))
            except forms.ValidationError as exc:  # the model's rules, next to their fields
                by_field = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
                for field, errors in by_field.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, "Judge settings saved.")
                return _back(campaign)
        return render(
            request, "annotate/judge.html", _page_context(request, campaign, form), status=400
        )
    campaign = campaign_for_researcher(request.user, slug)
    return render(request, "annotate/judge.html", _page_context(request, campaign))


@login_required
@require_POST
def judge_start(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    kind = request.POST.get("kind", JudgeJob.Kind.PAIRS)
    mode = request.POST.get("mode") or None
    if campaign.is_steps or campaign.is_rating:
        return _sets_start(request, campaign)
    start = judge_rank_start if kind == JudgeJob.Kind.RANK else judge_pairs_start
    try:
        job = start(campaign=campaign, actor=request.user, mode=mode)
    except JudgeRefused as exc:
        messages.error(request, str(exc))
    else:
        if job.total:
            messages.success(
                request,
                f"Judging started: {job.total} verdicts, each in both orders ({job.get_mode_display()}).",
            )
        else:
            messages.info(
                request,
                "Nothing to judge: every one already has a verdict for this rubric and model.",
            )
    return _back(campaign, "#judge-progress")


def _sets_start(request: HttpRequest, campaign) -> HttpResponse:
    """A step campaign's judge labels its traces' steps (services/judging_steps.py); a rating
    campaign's scores its units' responses (services/judging_ratings.py)."""
    from annotate.services.judging_ratings import rating_judge_start
    from annotate.services.judging_steps import step_judge_start

    if campaign.is_steps:
        start = step_judge_start
        started = gettext("Judging started: %(n)s traces, every step labelled.")
        nothing = gettext("Nothing to judge: every trace has the judge's labels.")
    else:
        start = rating_judge_start
        started = gettext("Judging started: %(n)s units, every response scored.")
        nothing = gettext("Nothing to judge: every unit has the judge's scores.")
    try:
        pending = start(campaign=campaign, actor=request.user)
    except JudgeRefused as exc:
        messages.error(request, str(exc))
    else:
        if pending:
            messages.success(request, started % {"n": pending})
        else:
            messages.info(request, nothing)
    return _back(campaign, "#judge-progress")


@login_required
@require_GET
def judge_progress_view(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_researcher(request.user, slug)
    progress = judge_job_progress(campaign=campaign)
    response = render(
        request,
        "annotate/partials/_judge_progress.html",
        {"campaign": campaign, "progress": progress},
    )
    response["Vary"] = "HX-Request"
    if request.htmx and not (progress and progress["active"]):
        # The final fragment: htmx swaps it in and stops polling (status 286).
        stop = HttpResponseStopPolling(response.content)
        stop["Vary"] = "HX-Request"
        return stop
    return response


@login_required
@require_POST
def judge_auto_label_view(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    try:
        report = judge_auto_label(campaign=campaign, actor=request.user)
    except JudgeRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"κ = {report.kappa:.2f} on {report.n} pairs: {report.created} pairs labelled by the judge "
            "(exported as their own source).",
        )
    return _back(campaign, "#auto-label")


@login_required
@require_POST
def judge_best_pairs(request: HttpRequest, slug: str) -> HttpResponse:
    """Seed recipe, last step: pair each prompt's judge-best with its judge-worst for humans."""
    campaign = campaign_for_admin(request.user, slug)
    try:
        report = judge_best_pairs_build(campaign=campaign, actor=request.user)
    except JudgeRefused as exc:
        messages.error(request, str(exc))
        return _back(campaign, "#best-of-n")
    for note in report.notes:
        messages.info(request, note)
    messages.success(request, f"{report.created} judge best-vs-worst pairs created for raters.")
    return _back(campaign, "#best-of-n")


# --- rater side: the reveal after a blind vote, and keep / revise --------------------------------


def reveal_context(*, judgment: Judgment) -> dict | None:
    """What the rater may see after voting: the judge's verdict in the rater's own labels, and the
    pair they just rated (for reference). None unless the campaign reveals after the vote and a
    finished verdict exists. Rendered by partials/_judge_reveal.html as ``reveal``; its revise
    buttons are the scale's own verdicts and keys (views/scale_keys.py)."""
    campaign = judgment.campaign
    if campaign.judge_mode != Campaign.JudgeMode.AFTER_VOTE or judgment.revises_id is not None:
        return None
    verdict = verdict_for_pair(pair_id=judgment.pair_id)
    if verdict is None:
        return None
    left_is_a = judgment.left_is_a is not False
    pair = judgment.pair
    left, right = left_and_right(pair.candidate_a, pair.candidate_b, left_is_a=left_is_a)
    revision = judgment.revisions.first()

    def label(vote) -> str:
        return vote_label(
            choice=vote.choice, strength=vote.strength, left_is_a=left_is_a, scale=campaign.scale
        )

    return {
        "campaign": campaign,
        "judgment": judgment,
        "judge": label(verdict),
        "uncertain": not verdict.consistent,
        "rationale": choice_words(
            rationale_for_view(order1=verdict.order1, order2=verdict.order2, left_is_a=left_is_a)
        )
        if verdict.consistent
        else "",
        "mine": label(judgment),
        "revision": revision,
        "revised_to": label(revision) if revision else "",
        "verdicts": scale_verdicts(campaign),
        "left_html": left.html,
        "right_html": right.html,
    }


def suggestion_context(*, pair_id: int, left_is_a: bool, campaign: Campaign) -> dict | None:
    """Before-vote mode: the suggestion shown up front (consistent verdicts only)."""
    if campaign.judge_mode != Campaign.JudgeMode.BEFORE_VOTE:
        return None
    verdict = verdict_for_pair(pair_id=pair_id)
    if verdict is None:
        return None
    return {
        "judge": vote_label(
            choice=verdict.choice,
            strength=verdict.strength,
            left_is_a=left_is_a,
            scale=campaign.scale,
        ),
        "uncertain": not verdict.consistent,
        "rationale": choice_words(
            rationale_for_view(order1=verdict.order1, order2=verdict.order2, left_is_a=left_is_a)
        )
        if verdict.consistent
        else "",
    }


@login_required
@require_POST
def judge_revise(request: HttpRequest, slug: str, judgment_id: int) -> HttpResponse:
    """Keep or revise after the reveal. ``verdict`` is one of the scale's verdicts, in what the rater
    saw (views/scale_keys.py: the same values and keys as the vote). Revising to the vote itself
    stores nothing: it is keeping it."""
    campaign = campaign_for_rater(request.user, slug)
    judgment = (
        Judgment.objects.select_related("campaign")
        .filter(pk=judgment_id, campaign=campaign, rater=request.user)
        .first()
    )
    if judgment is None:
        raise Http404("No such vote")
    context = reveal_context(judgment=judgment)
    if context is None:
        raise PermissionDenied("This vote has nothing to revise against.")
    error, kept, rationale = (
        "",
        request.POST.get("action") == "keep",
        request.POST.get("rationale", ""),
    )
    try:
        text_check(rationale, field="Your rationale", max_length=MAX_RATIONALE)
    except ValidationError as exc:
        error = exc.messages[0]
    if not error and request.POST.get("action") == "revise":
        chosen = verdict_for(request.POST.get("verdict", ""), campaign=campaign)
        try:
            if chosen is None:
                raise VoteRefused("Choose the verdict to revise your vote to.", code="choice")
            revision = judgment_revise(
                judgment=judgment,
                rater=request.user,
                choice=to_stored(chosen.choice, left_is_a=judgment.left_is_a is not False),
                strength=chosen.strength,
                rationale=rationale,
            )
            kept = revision.pk == judgment.pk
        except VoteRefused as exc:
            error = exc.messages[0]
        context = reveal_context(judgment=judgment)
    context.update(kept=kept, error=error)
    return render(
        request,
        "annotate/partials/_judge_reveal.html",
        {"reveal": context},
        status=400 if error else 200,
    )


# --- plots: server-rendered HTML bars with interval whiskers (no JavaScript, no CDN) -----------


def _bar(
    label: str,
    value: float | None,
    low: float | None,
    high: float | None,
    *,
    lo: float,
    hi: float,
    text: str,
) -> dict:
    """Geometry, in % of the track, for one horizontal bar on [lo, hi] drawn from zero (or lo)."""

    def x(v: float) -> float:
        return round((min(max(v, lo), hi) - lo) / (hi - lo) * 100, 1)

    zero = x(max(lo, 0.0))
    if value is None:
        return {"label": label, "text": text or "n/a", "empty": True, "zero": zero}
    start, end = sorted((zero, x(value)))
    row = {
        "label": label,
        "text": text,
        "empty": False,
        "zero": zero,
        "x": start,
        "w": max(end - start, 0.5),
    }
    if low is not None and high is not None:
        row.update(lo=x(low), ci=max(x(high) - x(low), 0.3))
    return row


def _rate_bar(label: str, r) -> dict:
    text = "n/a (no data yet)" if r.rate is None else f"{r.rate:.0%} ({r.k}/{r.n})"
    return _bar(label, r.rate, r.low, r.high, lo=0.0, hi=1.0, text=text)


def plot_rows(stats: dict) -> dict:
    kappas = [("all pairs", stats["kappa"])] + [
        (f"aspect: {k}", v) for k, v in stats["aspects"].items()
    ]
    return {
        "kappa": [
            _bar(
                label,
                k.kappa,
                k.low,
                k.high,
                lo=-1.0,
                hi=1.0,
                text=f"n/a ({k.n} pairs)"
                if k.kappa is None
                else f"κ {k.kappa:.2f} [{k.low:.2f}, {k.high:.2f}] · {k.n} pairs",
            )
            for label, k in kappas
        ],
        "rates": [
            _rate_bar("swap consistency", stats["swap"]),
            _rate_bar("judge picks the longer", stats["length"]["judge"]),
            _rate_bar("humans pick the longer", stats["length"]["human"]),
            _rate_bar("judge picks its own model", stats["self_preference"]["judge"]),
            _rate_bar("humans pick the judge's model", stats["self_preference"]["human"]),
            _rate_bar("revised after the reveal", stats["anchoring"]["revised"]),
            _rate_bar("…revisions towards the judge", stats["anchoring"]["revised_to_judge"]),
            _rate_bar("agree with judge, voted blind", stats["anchoring"]["agree_blind"]),
            _rate_bar("agree with judge, shown first", stats["anchoring"]["agree_shown"]),
        ],
    }
