"""Uploads on the campaign page: prompts, and responses produced elsewhere.

A bad file imports nothing; the page shows every bad line with its number. A refused htmx upload
gets only the report fragment, an accepted one reloads the page (new counts everywhere); plain
posts get the whole page (status 400 with the report) or a redirect.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh

from annotate.access import campaign_for_admin
from annotate.forms import PromptImportForm, ResponseImportForm
from annotate.models import PromptImport
from annotate.services.prompt_imports import prompt_import_start
from annotate.services.prompts import ImportResult, LineError, prompts_import
from annotate.services.responses import responses_import
from annotate.validation import MAX_INLINE_IMPORT_BYTES
from annotate.views.campaigns import detail_context


def _respond(request: HttpRequest, campaign, kind: str, result: ImportResult, form) -> HttpResponse:
    if result.ok:
        messages.success(request, _summary(kind, result))
        if request.htmx:
            # Counts all over the page change: reload it (the message shows after the reload).
            return HttpResponseClientRefresh()
        return redirect("annotate:campaign-detail", slug=campaign.slug)
    if request.htmx:
        # 200 even on a refused file: htmx swaps only 2xx by default, and the fragment is the answer.
        return render(
            request,
            "annotate/partials/_campaign_import_result.html",
            {"result": result, "kind": kind},
        )
    forms = {"prompt_form" if kind == "prompts" else "response_form": form}
    context = detail_context(request, campaign, import_result=result, import_kind=kind, **forms)
    return render(request, "annotate/campaign_detail.html", context, status=400)


def _summary(kind: str, result: ImportResult) -> str:
    text = f"Imported {result.created} {kind}."
    if result.skipped:
        text += f" {result.skipped} already there, skipped."
    return text


def _form_errors(form) -> ImportResult:
    errors = [LineError(0, e) for field in form.errors.values() for e in field]
    return ImportResult(errors=errors)


@login_required
@require_POST
def prompt_import(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    form = PromptImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _respond(request, campaign, "prompts", _form_errors(form), form)
    upload = form.cleaned_data["file"]
    if upload.size > MAX_INLINE_IMPORT_BYTES:
        return _background(request, campaign, form)
    result = prompts_import(
        campaign=campaign,
        file_name=upload.name,
        data=upload,
        skip_existing=form.cleaned_data["skip_existing"],
    )
    return _respond(request, campaign, "prompts", result, form)


@login_required
@require_POST
def response_import(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    form = ResponseImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _respond(request, campaign, "responses", _form_errors(form), form)
    upload = form.cleaned_data["file"]
    result = responses_import(campaign=campaign, file_name=upload.name, data=upload)
    return _respond(request, campaign, "responses", result, form)


def _background(request: HttpRequest, campaign, form) -> HttpResponse:
    """A file too large for one request: saved, imported by a worker, followed on the page."""
    upload = form.cleaned_data["file"]
    job = prompt_import_start(
        campaign=campaign,
        actor=request.user,
        upload=upload,
        file_name=upload.name,
        skip_existing=form.cleaned_data["skip_existing"],
    )
    if request.htmx:
        context = {"campaign": campaign, "job": job}
        return render(request, "annotate/partials/_prompt_import_progress.html", context)
    messages.info(request, f"Importing {upload.name} in the background.")
    return redirect("annotate:campaign-detail", slug=campaign.slug)


@login_required
@require_GET
def prompt_import_progress(request: HttpRequest, slug: str, import_id: int) -> HttpResponse:
    campaign = campaign_for_admin(request.user, slug)
    job = get_object_or_404(PromptImport, campaign=campaign, id=import_id)
    context = {"campaign": campaign, "job": job}
    return render(request, "annotate/partials/_prompt_import_progress.html", context)
