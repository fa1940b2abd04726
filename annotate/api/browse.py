"""Browsing and searching a campaign's pairs through the API: the browse page's list as JSON.

``GET /api/campaigns/<slug>/units/?q=sql&contested=on&sort=rank`` reads the page's query string
with the page's own form (annotate/selectors/browse.py): the same filters, the same rules, an
unknown or repeated key refused with a 400 that names it. Pages are keyset pages: ``next`` and
``previous`` are the addresses of the neighbouring pages (their cursors in ``after`` / ``before``),
null at either end. Researchers and admins only (a rater of the campaign gets 403, anyone else 404).
"""

from __future__ import annotations

from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_researcher
from annotate.selectors.browse import MAX_QUERY, SORTS, BrowseForm, browse_page, view_form

_BOOLEAN = "on to keep only these pairs; absent for all"
_PARAMETERS = [
    OpenApiParameter(
        "q",
        str,
        description="Words in the prompt, responses, rationales or rewrites: all required; "
        f'"a phrase", a or b, -word excluded. One line, at most {MAX_QUERY} characters.',
    ),
    OpenApiParameter("status", str, enum=["", "open", "complete"]),
    OpenApiParameter("gold", str, enum=["", "yes", "no"]),
    OpenApiParameter("flagged", str, enum=["on"], description=_BOOLEAN),
    OpenApiParameter("split", str, enum=["on"], description=f"Raters disagree: {_BOOLEAN}"),
    OpenApiParameter("judge", str, enum=["", "disagrees", "agrees", "inconsistent"]),
    OpenApiParameter("revised", str, enum=["on"], description=_BOOLEAN),
    OpenApiParameter("generator", str, description="Either side's generator, by name."),
    OpenApiParameter("rater", str, description="Voted on by this rater (username)."),
    OpenApiParameter("min_votes", int, description="At least this many votes (0 to 10000)."),
    OpenApiParameter("contested", str, enum=["on"], description=_BOOLEAN),
    OpenApiParameter("adjudicated", str, enum=["", "yes", "no"]),
    OpenApiParameter("sort", str, enum=list(SORTS), description="rank (best match) only with q."),
    OpenApiParameter("after", str, description="The cursor of the next page (from `next`)."),
    OpenApiParameter("before", str, description="The cursor of the previous page."),
]


class UnitOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    prompt = serializers.CharField(source="prompt.last_user_text")
    generator_a = serializers.CharField(source="candidate_a.generator.name")
    generator_b = serializers.CharField(source="candidate_b.generator.name")
    votes = serializers.IntegerField(source="completed")
    needed = serializers.IntegerField()
    latest_votes = serializers.DictField(
        child=serializers.IntegerField(),
        source="vote_summary",
        help_text="The raters' latest votes on the pair, counted by choice.",
    )
    gold_answer = serializers.CharField(allow_blank=True)
    judge_choice = serializers.CharField(allow_null=True)
    final_choice = serializers.CharField(allow_null=True, help_text="The latest adjudication.")
    flags = serializers.IntegerField(source="flag_count")
    search_rank = serializers.IntegerField(
        required=False, help_text="With q: how well the pair matches (higher is better)."
    )


class UnitPageOutputSerializer(serializers.Serializer):
    results = UnitOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


def _errors(form: BrowseForm) -> dict[str, list[str]]:
    return {
        ("non_field_errors" if name == "__all__" else name): list(errors)
        for name, errors in form.errors.items()
    }


class UnitListApi(APIView):
    @extend_schema(
        parameters=_PARAMETERS,
        responses={200: UnitPageOutputSerializer},
        operation_id="units_list",
    )
    def get(self, request: Request, slug: str) -> Response:
        """The campaign's pairs that pass every filter, one keyset page (50) at a time."""
        campaign = campaign_for_researcher(request.user, slug)
        form = view_form(campaign, request.query_params)
        if not form.is_valid():
            return Response(_errors(form), status=400)
        after, before = form.cleaned_data["after"], form.cleaned_data["before"]
        page = browse_page(campaign, form.filters(), after=after, before=before)
        kept = {k: v for k, v in request.query_params.items() if k not in ("after", "before") and v}

        def link(**cursor: str) -> str:
            return request.build_absolute_uri(request.path + "?" + urlencode({**kept, **cursor}))

        return Response(
            {
                "results": UnitOutputSerializer(page.rows, many=True).data,
                "next": link(after=page.next_after) if page.next_after else None,
                "previous": link(before=page.previous_before) if page.previous_before else None,
            }
        )
