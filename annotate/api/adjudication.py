"""Adjudication through the API: the same operation as the pair page's form (views/browse.py), with
the same rules (annotate/services/adjudication.py). Researchers and admins adjudicate."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_researcher
from annotate.api.serializers import InputSerializer
from annotate.models import Pair
from annotate.selectors.browse import MAX_ID
from annotate.services.adjudication import AdjudicationError, adjudication_record
from annotate.validation import MAX_RATIONALE


class PairAdjudicateApi(APIView):
    class PairAdjudicateInputSerializer(InputSerializer):
        choice = serializers.ChoiceField(
            choices=["a", "b", "tie", "both_bad"],
            help_text='In the pair\'s own terms (a = candidate_a); "both_bad" only where the '
            "campaign allows it.",
        )
        reason = serializers.CharField(max_length=MAX_RATIONALE, trim_whitespace=True)
        strength = serializers.IntegerField(
            required=False,
            allow_null=True,
            min_value=1,
            max_value=3,
            help_text="7-point campaigns, a or b only: 1 slightly, 2 clearly, 3 much better.",
        )

    class PairAdjudicateOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        pair = serializers.IntegerField(source="pair_id")
        choice = serializers.CharField()
        strength = serializers.IntegerField(allow_null=True)
        reason = serializers.CharField(source="rationale")
        adjudicator = serializers.CharField(source="rater.username")
        created_at = serializers.DateTimeField()

    @extend_schema(
        request=PairAdjudicateInputSerializer,
        responses={201: PairAdjudicateOutputSerializer},
        operation_id="pairs_adjudicate",
    )
    def post(self, request: Request, slug: str, pair_id: int) -> Response:
        """Record the pair's final label: a row of its own (source ``adjudicated``); a later one
        replaces it, the earlier ones stay as the audit trail."""
        campaign = campaign_for_researcher(request.user, slug)
        pair = (
            Pair.objects.filter(pk=pair_id, campaign=campaign).first()
            if 0 < pair_id <= MAX_ID
            else None
        )
        if pair is None:
            raise Http404("No such pair")
        serializer = self.PairAdjudicateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            row = adjudication_record(
                campaign=campaign,
                pair=pair,
                adjudicator=request.user,
                choice=data["choice"],
                strength=data.get("strength"),
                reason=data["reason"],
            )
        except AdjudicationError as exc:
            return Response({"detail": str(exc)}, status=400)
        return Response(self.PairAdjudicateOutputSerializer(row).data, status=201)
