"""Ranking for raters through the API: claim the next set, submit its ranking. The same services as
the ranking page (annotate/views/rank.py), the same rules (annotate/protocols/ranking.py).

Both operations open with ``campaign_for_rater`` (enrolled raters; admins may preview): anyone
else gets 404. A campaign of another protocol answers 409. Responses are numbered as the lease
shows them (1 … K); raters never see model names, generators, gold or others' votes.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_rater
from annotate.api.serializers import InputSerializer, NoInputSerializer
from annotate.selectors.sets import lease_responses
from annotate.services.judgments import VoteRefused
from annotate.services.prompts import prompt_rendered_ensure
from annotate.services.sets import ranking_vote_record, set_assignment_next
from annotate.validation import MAX_ID, MAX_RATIONALE, MAX_REWRITE


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(required=False)


def wrong_protocol(doing: str = "rank sets of responses") -> Response:
    return Response(
        {"detail": f"This campaign does not {doing} (see its protocol).", "code": "protocol"},
        status=status.HTTP_409_CONFLICT,
    )


def _not_ranking() -> Response:
    return wrong_protocol()


# Any JSON integer the body rules accept (annotate/validation.py: 64-bit).
INT64 = {"type": "integer", "minimum": -MAX_ID - 1, "maximum": MAX_ID}


# Plain shapes for the schema: the rules across items (every response once, no empty group, a
# number per aspect within 1 … K) are the service's, which names what is wrong; nested bounds in
# the schema only made generated examples slow to find (schemathesis's too_slow health check).
@extend_schema_field(
    {
        "type": "array",
        "maxItems": 9,
        "items": {"type": "array", "maxItems": 9, "items": INT64},
    }
)
class _RankingField(serializers.ListField):
    def __init__(self, **kwargs):
        super().__init__(
            child=serializers.ListField(child=serializers.IntegerField(), max_length=9),
            max_length=9,
            **kwargs,
        )


@extend_schema_field({"type": "object", "additionalProperties": INT64})
class _AspectsField(serializers.DictField):
    def __init__(self, **kwargs):
        super().__init__(child=serializers.IntegerField(), **kwargs)


class _MessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField(allow_blank=True)


class _ResponseSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="Its number on this lease, 1 … K.")
    text = serializers.CharField(allow_blank=True)
    html = serializers.CharField(allow_blank=True, help_text="Sanitised HTML of the text.")


def lease_body(lease) -> dict:
    """What a set lease shows its rater: the prompt and the responses, numbered as shown."""
    prompt = lease.candidate_set.prompt
    if not prompt.rendered:
        prompt_rendered_ensure(prompt=prompt)
    by_id = lease_responses(lease)
    return {
        "lease": lease.pk,
        "expires_at": lease.expires_at,
        "system": prompt.system,
        "messages": [
            {"role": m.get("role", ""), "content": m.get("content", "")} for m in prompt.messages
        ],
        "responses": [
            {"number": i + 1, "text": by_id[cid][0], "html": by_id[cid][1]}
            for i, cid in enumerate(lease.shown_order)
        ],
    }


NEXT_HELP = (
    "True: also claim your next unit and return it as `next` (null when none is left), as "
    "the next operation would: one request per unit."
)


def next_unit(request: Request, campaign, body_of, *, vote) -> dict | None:
    """The rater's next unit as ``body_of(campaign, lease)`` shows it, or None when none is left:
    what a vote with ``next: true`` returns beside the stored vote. A vote just stored closed the
    rater's one live lease, so there is none to look up (a second tab's claim at the same moment
    is caught by the claim itself); a replayed one may have claimed the next already."""
    lease = set_assignment_next(campaign=campaign, rater=request.user, after_vote=not vote.replayed)
    return None if lease is None else body_of(campaign, lease)


def refusal_response(refused: VoteRefused) -> Response:
    """A refused set vote: 404 for a lease that is not the rater's, 409 for one that ended."""
    code = status.HTTP_400_BAD_REQUEST
    if refused.code in ("missing", "foreign", "other_campaign"):
        code = status.HTTP_404_NOT_FOUND
    elif refused.code in ("done", "skipped", "released", "expired"):
        code = status.HTTP_409_CONFLICT
    return Response({"detail": refused.messages[0], "code": refused.code}, status=code)


class RankNextApi(APIView):
    """Claim the rater's next set (or return the live lease: a repeat returns the same set)."""

    class RankNextOutputSerializer(serializers.Serializer):
        lease = serializers.IntegerField()
        expires_at = serializers.DateTimeField()
        system = serializers.CharField(allow_blank=True)
        messages = _MessageSerializer(many=True)
        responses = _ResponseSerializer(many=True)
        aspects = serializers.ListField(child=serializers.CharField())
        allow_all_bad = serializers.BooleanField()

    @extend_schema(
        request=NoInputSerializer,
        responses={
            200: RankNextOutputSerializer,
            204: None,
            404: DetailSerializer,
            409: DetailSerializer,
        },
        operation_id="rank_next",
        description="204: no set left for this rater (or the campaign is not open).",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_rater(request.user, slug)
        NoInputSerializer(data=request.data).is_valid(raise_exception=True)
        if not campaign.is_ranking:
            return _not_ranking()
        lease = set_assignment_next(campaign=campaign, rater=request.user)
        if lease is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        # The body is the output serializer's shape already (the schema's); serializing it again
        # would only copy its fields, on every unit.
        return Response(rank_unit(campaign, lease))


def rank_unit(campaign, lease) -> dict:
    """A ranking lease as its rater is given it (RankNextOutputSerializer)."""
    return {
        **lease_body(lease),
        "aspects": list(campaign.aspects or []),
        "allow_all_bad": campaign.allow_both_bad,
    }


class RankVoteApi(APIView):
    """Submit the ranking of a leased set; the same submit again returns the stored vote."""

    class RankVoteInputSerializer(InputSerializer):
        lease = serializers.IntegerField(min_value=1, max_value=MAX_ID)
        ranking = _RankingField(
            help_text="Groups of response numbers, best first; tied responses share a group: "
            "[[2], [1, 4], [3]] says 2 > 1 = 4 > 3. Every response once (checked by the service).",
        )
        all_bad = serializers.BooleanField(default=False)
        aspects = _AspectsField(
            required=False,
            help_text="For each of the campaign's aspects, the number of the best response on it.",
        )
        rationale = serializers.CharField(
            required=False, allow_blank=True, max_length=MAX_RATIONALE
        )
        rewrite = serializers.CharField(required=False, allow_blank=True, max_length=MAX_REWRITE)
        next = serializers.BooleanField(default=False, help_text=NEXT_HELP)

    class RankVoteOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        lease = serializers.IntegerField()
        replayed = serializers.BooleanField(help_text="True: this lease was already ranked.")
        next = RankNextApi.RankNextOutputSerializer(
            allow_null=True, required=False, help_text="With `next: true`: your next set."
        )

    @extend_schema(
        request=RankVoteInputSerializer,
        responses={
            200: RankVoteOutputSerializer,
            201: RankVoteOutputSerializer,
            404: DetailSerializer,
            409: DetailSerializer,
        },
        operation_id="rank_vote",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_rater(request.user, slug)
        serializer = self.RankVoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not campaign.is_ranking:
            return _not_ranking()
        data = serializer.validated_data
        try:
            vote = ranking_vote_record(
                lease=data["lease"],
                rater=request.user,
                campaign=campaign,
                ranking=data["ranking"],
                all_bad=data["all_bad"],
                aspects=data.get("aspects") or {},
                rationale=data.get("rationale", ""),
                rewrite=data.get("rewrite", ""),
            )
        except VoteRefused as refused:
            return refusal_response(refused)
        body = {"id": vote.pk, "lease": data["lease"], "replayed": vote.replayed}
        if data["next"]:
            body["next"] = next_unit(request, campaign, rank_unit, vote=vote)
        return Response(body, status=200 if vote.replayed else 201)
