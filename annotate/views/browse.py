"""Researcher pages for the data itself: every pair of a campaign, filtered and searched, one pair
whole with every vote, the judge's verdicts and the flags, and its adjudication (a final label with
a reason, annotate/services/adjudication.py). The adjudication queue is this list with the
``contested`` filter (raters disagree, the judge disagrees with every rater, or flagged) and
``adjudicated=no``.

Researchers and admins only (annotate.access: an enrolled rater gets 403, anyone else 404). The
filter state lives in the query string, so a view can be shared; a query string with an unknown key
or a bad value is a 400 that says which, never an empty page that looks like "no matches".
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotate.access import campaign_for_researcher
from annotate.models import Generator
from annotate.selectors.browse import SORTS, BrowseFilters, browse_page, pair_detail
from annotate.services.adjudication import (
    AdjudicationError,
    adjudication_choices,
    adjudication_record,
)
from annotate.validation import MAX_RATIONALE, validate_one_line

CURSOR = re.compile(r"\d{1,18}(:\d{1,18})?")
YES_NO = [("", "Any"), ("yes", "Yes"), ("no", "No")]


class BrowseForm(forms.Form):
    q = forms.CharField(
        required=False, max_length=200, validators=[validate_one_line], label="Search"
    )
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), ("open", "Wanting votes"), ("complete", "Fully voted")],
    )
    gold = forms.ChoiceField(required=False, choices=YES_NO)
    flagged = forms.BooleanField(required=False, label="Flagged")
    split = forms.BooleanField(required=False, label="Raters disagree")
    judge = forms.ChoiceField(
        required=False,
        label="AI judge",
        choices=[
            ("", "Any"),
            ("disagrees", "Disagrees with every rater"),
            ("agrees", "Agrees with a rater"),
            ("inconsistent", "Disagreed with itself on swap"),
        ],
    )
    revised = forms.BooleanField(required=False, label="Revised after the judge's reveal")
    generator = forms.ChoiceField(required=False)
    rater = forms.CharField(required=False, max_length=150, validators=[validate_one_line])
    min_votes = forms.IntegerField(required=False, min_value=0, max_value=10_000, label="Votes ≥")
    contested = forms.BooleanField(required=False, label="Contested")
    adjudicated = forms.ChoiceField(required=False, choices=YES_NO)
    sort = forms.ChoiceField(
        required=False,
        initial="id",
        choices=[
            ("id", "Oldest first"),
            ("-id", "Newest first"),
            ("-votes", "Most votes"),
            ("votes", "Fewest votes"),
        ],
    )
    after = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, data, *, generators: list[str]):
        super().__init__(data)
        self.fields["generator"].choices = [("", "Any")] + [(g, g) for g in generators]
        self.unknown = sorted(set(data) - set(self.fields))

    def clean(self):
        cleaned = super().clean()
        if self.unknown:
            raise forms.ValidationError(f"Unknown filter: {', '.join(self.unknown)}.")
        after, sort = cleaned.get("after") or "", cleaned.get("sort") or "id"
        if after and not (
            CURSOR.fullmatch(after) and (":" in after) == (sort in ("votes", "-votes"))
        ):
            self.add_error("after", "This page cursor does not belong to this sort order.")
        return cleaned

    def filters(self) -> BrowseFilters:
        data = {k: v for k, v in self.cleaned_data.items() if k != "after"}
        data["sort"] = data.get("sort") or "id"
        assert data["sort"] in SORTS
        return BrowseFilters(**data)


def _query(form: BrowseForm, **changes) -> str:
    """The form's own query string with ``changes``, blanks left out (for links and the next page)."""
    values = {k: v for k, v in form.data.items() if k in form.fields}
    values.update(changes)
    return urlencode({k: v for k, v in values.items() if v not in ("", None, False)})


@login_required
@require_GET
def browse(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_researcher(request.user, slug)
    generators = list(
        Generator.objects.filter(campaign=campaign).order_by("name").values_list("name", flat=True)
    )
    form = BrowseForm(request.GET, generators=generators)
    ctx = {"campaign": campaign, "form": form}
    if not form.is_valid():
        return render(request, "annotate/browse.html", ctx, status=400)
    page = browse_page(campaign, form.filters(), after=form.cleaned_data["after"])
    ctx.update(
        page=page,
        next_query=_query(form, after=page.next_after) if page.next_after else "",
        first_query=_query(form, after=""),
        deep=bool(form.cleaned_data["after"]),
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
