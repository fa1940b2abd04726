from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotate.models import Enrollment
from annotate.selectors.campaigns import campaign_glances, campaigns_for


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Everyone lands here: raters see their campaigns and their own votes in each; researchers
    and admins see every campaign with its progress, pace, time to finish and cost."""
    campaigns = list(campaigns_for(user=request.user))
    if request.user.is_researcher:
        glances = campaign_glances(campaign_ids=[c.id for c in campaigns])
        for c in campaigns:
            c.glance = glances[c.id]
    else:
        mine = dict(
            Enrollment.objects.filter(rater=request.user).values_list("campaign_id", "votes")
        )
        for c in campaigns:
            c.my_votes = mine.get(c.id, 0)
    return render(request, "annotate/home.html", {"campaigns": campaigns})
