from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotate.selectors.campaigns import campaigns_for


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Everyone lands here: raters see their campaigns, researchers and admins see all."""
    campaigns = campaigns_for(user=request.user)
    return render(request, "annotate/home.html", {"campaigns": campaigns})
