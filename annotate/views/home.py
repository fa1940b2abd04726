from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotate.models import Campaign


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Everyone lands here: raters see their campaigns, researchers and admins see all."""
    user = request.user
    if user.is_researcher:
        campaigns = Campaign.objects.all()
    else:
        campaigns = Campaign.objects.filter(enrollments__rater=user).exclude(
            status=Campaign.Status.DRAFT
        )
    return render(request, "annotate/home.html", {"campaigns": campaigns})
