"""Researcher pages for the data itself: every pair of a campaign, filtered and searched, one pair
whole with every vote, the judge's verdicts and the flags, and its adjudication (a final label with
a reason, annotate/services/adjudication.py). The adjudication queue is this list with the
``contested`` filter (raters disagree, the judge disagrees with every rater, or flagged) and
``adjudicated=no``.

Researchers and admins only (annotate.access: an enrolled rater gets 403, anyone else 404). The
filter state lives in the query string, so a view can be shared, and so do the page cursors ("next"
carries ``after``, "previous" ``before``: keyset pages, as fast deep as first); a query string with
an unknown key or a bad value is a 400 that says which, never an empty page that looks like "no
matches". The API's ``GET /api/campaigns/<slug>/units/`` reads the same query string
(annotate/api/browse.py).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotate.access import campaign_for_researcher
from annotate.selectors.browse import BrowseForm, browse_page, pair_detail, view_form
from annotate.services.adjudication import (
    AdjudicationError,
    adjudication_choices,
    adjudication_record,
)
from annotate.validation import MAX_RATIONALE


def _query(form: BrowseForm, **changes) -> str:
    """The form's own query string with ``changes``, blanks left out (for links and the next page)."""
    values = {k: v for k, v in form.data.items() if k in form.fields}
    values.update(changes)
    return urlencode({k: v for k, v in values.items() if v not in ("", None, False)})


@login_required
@require_GET
def browse(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_researcher(request.user, slug)
    form = view_form(campaign, request.GET)
    ctx = {"campaign": campaign, "form": form}
    if not form.is_valid():
        return render(request, "annotate/browse.html", ctx, status=400)
    after, before = form.cleaned_data["after"], form.cleaned_data["before"]
    page = browse_page(campaign, form.filters(), after=after, before=before)
    ctx.update(
        page=page,
        next_query=_query(form, after=page.next_after, before="") if page.next_after else "",
        previous_query=(
            _query(form, before=page.previous_before, after="") if page.previous_before else ""
        ),
        first_query=_query(form, after="", before=""),
        export_query=urlencode({"view": _query(form, after="", before="")}),
        deep=bool(page.previous_before) or bool(after or before) and not page.rows,
    )
    return render(request, "annotate/browse.html", ctx)


class AdjudicationForm(forms.Form):
    choice = forms.ChoiceField(widget=forms.RadioSelect, label="Final label")
    strength = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "—"), (1, "Slightly"), (2, "Clearly"), (3, "Much")],
        label="How much better",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=MAX_RATIONALE)

    def __init__(self, *args, campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["choice"].choices = adjudication_choices(campaign)
        if campaign.scale != campaign.Scale.GRADED7:
            del self.fields["strength"]


def _pair_page(request, campaign, detail, form=None, status=200) -> HttpResponse:
    form = form or AdjudicationForm(campaign=campaign)
    ctx = {"campaign": campaign, "detail": detail, "form": form}
    return render(request, "annotate/browse_pair.html", ctx, status=status)


def _detail(campaign, pair_id: int):
    detail = pair_detail(campaign, pair_id)
    if detail is None:
        raise Http404("No such pair in this campaign.")
    return detail


@login_required
@require_GET
def pair_page(request: HttpRequest, slug: str, pair_id: int) -> HttpResponse:
    campaign = campaign_for_researcher(request.user, slug)
    return _pair_page(request, campaign, _detail(campaign, pair_id))


@login_required
@require_POST
def pair_adjudicate(request: HttpRequest, slug: str, pair_id: int) -> HttpResponse:
    """Record the pair's final label (researchers and admins adjudicate)."""
    campaign = campaign_for_researcher(request.user, slug)
    detail = _detail(campaign, pair_id)
    form = AdjudicationForm(request.POST, campaign=campaign)
    if not form.is_valid():
        return _pair_page(request, campaign, detail, form, status=400)
    try:
        adjudication_record(
            campaign=campaign,
            pair=detail.pair,
            adjudicator=request.user,
            choice=form.cleaned_data["choice"],
            strength=form.cleaned_data.get("strength"),
            reason=form.cleaned_data["reason"],
        )
    except AdjudicationError as exc:
        form.add_error(None, str(exc))
        return _pair_page(request, campaign, detail, form, status=400)
    messages.success(request, f"Pair {pair_id} settled: the final label is recorded.")
    return redirect(request.path.removesuffix("adjudicate/"))
