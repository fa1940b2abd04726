"""A pair read whole, and adjudicated, through the API: what the pair page shows and its form does
(views/browse.py), with the same reads (selectors/browse.pair_detail) and rules
(annotate/services/adjudication.py). Researchers and admins only."""

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
from annotate.selectors.browse import MAX_ID, pair_detail
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


class _CandidateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    generator = serializers.CharField(source="generator.name")
    model = serializers.CharField(source="generator.model")
    text = serializers.CharField()
    self_identifies = serializers.BooleanField()


class _VoteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.CharField()
    rater = serializers.CharField(source="rater.username", allow_null=True, default=None)
    choice = serializers.CharField()
    strength = serializers.IntegerField(allow_null=True)
    aspects = serializers.DictField(child=serializers.CharField())
    rationale = serializers.CharField()
    rewrite = serializers.CharField()
    left_is_a = serializers.BooleanField(allow_null=True)
    time_on_task_ms = serializers.IntegerField(allow_null=True)
    judge_shown = serializers.BooleanField()
    revises = serializers.IntegerField(source="revises_id", allow_null=True)
    created_at = serializers.DateTimeField()


class _VerdictSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    model = serializers.CharField()
    rubric_version = serializers.IntegerField(source="rubric.version")
    choice = serializers.CharField()
    consistent = serializers.BooleanField(allow_null=True)
    order1 = serializers.JSONField(allow_null=True, help_text="Candidate a shown first.")
    order2 = serializers.JSONField(allow_null=True, help_text="Candidate b shown first.")
    rationale = serializers.CharField()


class _FlagSerializer(serializers.Serializer):
    rater = serializers.CharField(source="rater.username")
    reason = serializers.CharField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class PairDetailApi(APIView):
    class PairDetailOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField(source="pair.id")
        prompt = serializers.JSONField(source="pair.prompt.messages")
        system = serializers.CharField(source="pair.prompt.system")
        candidate_a = _CandidateSerializer(source="pair.candidate_a")
        candidate_b = _CandidateSerializer(source="pair.candidate_b")
        gold_answer = serializers.CharField(source="pair.gold_answer")
        needed = serializers.IntegerField(source="pair.needed")
        completed = serializers.IntegerField(source="pair.completed")
        votes = _VoteSerializer(many=True)
        verdicts = _VerdictSerializer(many=True)
        flags = _FlagSerializer(many=True)
        final = serializers.SerializerMethodField()

        def get_final(self, detail) -> int | None:
            """The id of the latest adjudication among ``votes`` (the pair's final label)."""
            return detail.final.id if detail.final else None

    @extend_schema(responses={200: PairDetailOutputSerializer}, operation_id="pairs_read")
    def get(self, request: Request, slug: str, pair_id: int) -> Response:
        """One pair whole, as the pair page shows it to researchers: the prompt, both candidates
        with their generators, every vote (revisions, judge labels and adjudications too, oldest
        first), the judge's verdicts in both orders with its rationale, and the flags."""
        campaign = campaign_for_researcher(request.user, slug)
        detail = pair_detail(campaign, pair_id)
        if detail is None:
            raise Http404("No such pair")
        return Response(self.PairDetailOutputSerializer(detail).data)
