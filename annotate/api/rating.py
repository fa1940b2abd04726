"""Rating for raters through the API: claim the next unit, submit its scores. The same services as
the rating page (annotate/views/rating.py), the same rules (annotate/protocols/rating.py).

Both operations open with ``campaign_for_rater`` (enrolled raters; admins may preview): anyone
else gets 404. A campaign of another protocol answers 409. Responses are numbered as the lease
shows them (1 … K); raters never see model names, generators, gold or others' votes.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_rater
from annotate.api.ranking import (
    NEXT_HELP,
    DetailSerializer,
    _MessageSerializer,
    _ResponseSerializer,
    lease_body,
    next_unit,
    refusal_response,
    wrong_protocol,
)
from annotate.api.serializers import InputSerializer, NoInputSerializer
from annotate.selectors.ratings import rating_judge_scores
from annotate.services.judgments import VoteRefused
from annotate.services.sets import rating_vote_record, set_assignment_next
from annotate.validation import MAX_ASPECT_NAME, MAX_ASPECTS, MAX_ID, MAX_RATIONALE


def _not_rating() -> Response:
    return wrong_protocol("rate responses")


class _ScaleSerializer(serializers.Serializer):
    low = serializers.IntegerField()
    high = serializers.IntegerField()
    low_label = serializers.CharField(allow_blank=True)
    high_label = serializers.CharField(allow_blank=True)


class _JudgeScoreSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="The response's number on this lease, 1 … K.")
    overall = serializers.IntegerField()
    aspects = serializers.DictField(child=serializers.IntegerField())
    rationale = serializers.CharField(allow_blank=True)


class RateNextApi(APIView):
    """Claim the rater's next unit (or return the live lease: a repeat returns the same unit)."""

    class RateNextOutputSerializer(serializers.Serializer):
        lease = serializers.IntegerField()
        expires_at = serializers.DateTimeField()
        system = serializers.CharField(allow_blank=True)
        messages = _MessageSerializer(many=True)
        responses = _ResponseSerializer(many=True)
        aspects = serializers.ListField(child=serializers.CharField())
        scale = _ScaleSerializer()
        rationale = serializers.CharField(help_text="off, optional or required (per response).")
        judge = _JudgeScoreSerializer(
            many=True,
            allow_null=True,
            help_text="The AI judge's scores of this unit, only where the campaign shows the "
            "judge before the vote (and the judge has scored it); else null.",
        )

    @extend_schema(
        request=NoInputSerializer,
        responses={
            200: RateNextOutputSerializer,
            204: None,
            404: DetailSerializer,
            409: DetailSerializer,
        },
        operation_id="rating_next",
        description="204: no unit left for this rater (or the campaign is not open).",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_rater(request.user, slug)
        NoInputSerializer(data=request.data).is_valid(raise_exception=True)
        if not campaign.is_rating:
            return _not_rating()
        lease = set_assignment_next(campaign=campaign, rater=request.user)
        if lease is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(rating_unit(campaign, lease))  # the output serializer's shape


def rating_unit(campaign, lease) -> dict:
    """A rating lease as its rater is given it (RateNextOutputSerializer)."""
    return {
        **lease_body(lease),
        "aspects": list(campaign.aspects or []),
        "scale": {
            "low": campaign.rating_min,
            "high": campaign.rating_max,
            "low_label": campaign.rating_low_label,
            "high_label": campaign.rating_high_label,
        },
        "rationale": campaign.rationale,
        "judge": rating_judge_scores(
            campaign=campaign,
            candidate_set_id=lease.candidate_set_id,
            shown_order=list(lease.shown_order),
            voted=False,
        ),
    }


class _EntrySerializer(InputSerializer):
    number = serializers.IntegerField(
        min_value=1, max_value=9, help_text="The response's number on this lease, 1 … K."
    )
    overall = serializers.IntegerField(
        min_value=0, max_value=9, help_text="On the campaign's scale (checked by the service)."
    )
    aspects = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=9),
        required=False,
        help_text="A score for each of the campaign's aspects, and nothing else.",
    )
    rationale = serializers.CharField(required=False, allow_blank=True, max_length=MAX_RATIONALE)

    def validate_aspects(self, value: dict) -> dict:
        if len(value) > MAX_ASPECTS or any(len(k) > MAX_ASPECT_NAME for k in value):
            raise serializers.ValidationError("Not one of this campaign's aspects.")
        return value


class RateVoteApi(APIView):
    """Submit the scores of a leased unit; the same submit again returns the stored vote."""

    class RateVoteInputSerializer(InputSerializer):
        lease = serializers.IntegerField(min_value=1, max_value=MAX_ID)
        scores = serializers.ListField(
            child=_EntrySerializer(),
            max_length=9,
            help_text="One entry per response on the page (every response once).",
        )
        next = serializers.BooleanField(default=False, help_text=NEXT_HELP)

    class RateVoteOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        lease = serializers.IntegerField()
        replayed = serializers.BooleanField(help_text="True: this lease was already rated.")
        judge = _JudgeScoreSerializer(
            many=True,
            allow_null=True,
            help_text="The AI judge's scores of this unit, shown only after your vote is stored "
            "and only where the campaign reveals the judge after the vote; else null.",
        )
        next = RateNextApi.RateNextOutputSerializer(
            allow_null=True, required=False, help_text="With `next: true`: your next unit."
        )

    @extend_schema(
        request=RateVoteInputSerializer,
        responses={
            200: RateVoteOutputSerializer,
            201: RateVoteOutputSerializer,
            404: DetailSerializer,
            409: DetailSerializer,
        },
        operation_id="rating_vote",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_rater(request.user, slug)
        serializer = self.RateVoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not campaign.is_rating:
            return _not_rating()
        data = serializer.validated_data
        try:
            vote = rating_vote_record(
                lease=data["lease"],
                rater=request.user,
                campaign=campaign,
                scores=[dict(entry) for entry in data["scores"]],
            )
        except VoteRefused as refused:
            return refusal_response(refused)
        body = {
            "id": vote.pk,
            "lease": data["lease"],
            "replayed": vote.replayed,
            # Blind first, then reveal: asked only now that the vote is stored.
            "judge": rating_judge_scores(
                campaign=campaign,
                candidate_set_id=vote.candidate_set_id,
                shown_order=list(vote.shown_order),
                voted=True,
            ),
        }
        if data["next"]:
            body["next"] = next_unit(request, campaign, rating_unit, vote=vote)
        return Response(body, status=200 if vote.replayed else 201)
