"""AI-judge API: one APIView per operation, the same services as the judge page.

Researchers read (settings, verdicts, analytics); admins write (settings, start, auto-label). A rater
gets 403 for their own campaign and 404 for any other (annotate.access). Bad input is a 400;
a refusal by the judge's state (nothing to judge, not configured) a 409 {"detail"}.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_admin, campaign_for_researcher
from annotate.api.serializers import InputSerializer, NoInputSerializer
from annotate.api.targets import ShapesProxySerializer, base_url_field, target_shapes
from annotate.models import Campaign, JudgeConfig, JudgeJob, JudgeVerdict
from annotate.selectors.judging import VERDICT_PAGE, judge_analytics, judge_verdicts_after
from annotate.services.judging import (
    JudgeRefused,
    judge_config_get,
    judge_config_update,
    judge_pairs_start,
    judge_rank_start,
    rubric_current,
)
from annotate.services.judging_labels import judge_auto_label
from annotate.validation import MAX_ID, MAX_TEXT, validate_one_line


def _refused(exc: Exception) -> Response:
    """The judge's state refuses a well-formed request (not configured, nothing to judge): 409."""
    return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


def _config_payload(campaign: Campaign) -> dict:
    config = judge_config_get(campaign=campaign, create=False)
    rubric = rubric_current(campaign=campaign, create=False)
    return {
        "judge_mode": campaign.judge_mode,
        "provider": config.provider,
        "model": config.model,
        "endpoint": config.endpoint,
        "base_url": config.base_url,
        "mode": config.mode,
        "auto_label_min_kappa": config.auto_label_min_kappa,
        "auto_label_min_pairs": config.auto_label_min_pairs,
        "rubric_version": rubric.version,
        "rubric_text": rubric.text,
    }


class JudgeConfigOutputSerializer(serializers.Serializer):
    judge_mode = serializers.CharField()
    provider = serializers.CharField()
    model = serializers.CharField()
    endpoint = serializers.CharField()
    base_url = serializers.CharField()
    mode = serializers.CharField()
    auto_label_min_kappa = serializers.FloatField()
    auto_label_min_pairs = serializers.IntegerField()
    rubric_version = serializers.IntegerField()
    rubric_text = serializers.CharField()


class JudgeConfigApi(APIView):
    @extend_schema(responses=JudgeConfigOutputSerializer)
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_researcher(request.user, slug)
        return Response(JudgeConfigOutputSerializer(_config_payload(campaign)).data)


class JudgeConfigUpdateApi(APIView):
    class JudgeConfigInputSerializer(InputSerializer):
        judge_mode = serializers.ChoiceField(choices=Campaign.JudgeMode.choices, required=False)
        provider = serializers.ChoiceField(choices=JudgeConfig.Provider.choices, required=False)
        model = serializers.CharField(
            max_length=200, required=False, validators=[validate_one_line]
        )
        endpoint = serializers.CharField(
            max_length=100, required=False, allow_blank=True, validators=[validate_one_line]
        )
        base_url = base_url_field(required=False, allow_blank=True)
        mode = serializers.ChoiceField(choices=JudgeConfig.Mode.choices, required=False)
        auto_label_min_kappa = serializers.FloatField(min_value=-1, max_value=1, required=False)
        auto_label_min_pairs = serializers.IntegerField(min_value=1, required=False)
        rubric_text = serializers.CharField(required=False, max_length=MAX_TEXT)

    class JudgeConfigKeepProviderSerializer(JudgeConfigInputSerializer):
        """Settings without a provider: an endpoint or base URL given is checked against the
        judge's provider as stored (409 if it does not take it)."""

        provider = None

    @extend_schema(
        request=ShapesProxySerializer(
            component_name="JudgeConfigInput",
            serializers=lambda: [
                JudgeConfigUpdateApi.JudgeConfigKeepProviderSerializer,
                *target_shapes(JudgeConfigUpdateApi.JudgeConfigInputSerializer, "Judge"),
            ],
            resource_type_field_name=None,
        ),
        responses=JudgeConfigOutputSerializer,
        description="Giving a provider gives its whole target: an endpoint or base URL left out "
        "is empty (annotate/api/targets.py). Without one, the stored provider's rule applies.",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        data = self.JudgeConfigInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "provider" in fields:  # the request alone decides where calls go
            fields.setdefault("endpoint", "")
            fields.setdefault("base_url", "")
        try:
            judge_config_update(campaign=campaign, actor=request.user, **fields)
        except JudgeRefused as exc:
            return _refused(exc)
        except DjangoValidationError as exc:
            if "provider" in fields:
                return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
            # The target given is fine in itself; the stored provider does not take it.
            return _refused("; ".join(exc.messages))
        campaign.refresh_from_db()
        return Response(JudgeConfigOutputSerializer(_config_payload(campaign)).data)


class JudgeJobOutputSerializer(serializers.ModelSerializer):
    rubric_version = serializers.IntegerField(source="rubric.version")
    # Plain strings: enums named "status"/"mode" would collide with other areas' in the schema.
    kind = serializers.CharField()
    mode = serializers.CharField()
    status = serializers.CharField()

    class Meta:
        model = JudgeJob
        fields = ["id", "kind", "mode", "status", "total", "error", "rubric_version", "created_at"]


class JudgeStartApi(APIView):
    class JudgeStartInputSerializer(InputSerializer):
        kind = serializers.ChoiceField(choices=JudgeJob.Kind.choices, default=JudgeJob.Kind.PAIRS)
        mode = serializers.ChoiceField(
            choices=JudgeConfig.Mode.choices, required=False, help_text="Default: the judge's."
        )

    @extend_schema(request=JudgeStartInputSerializer, responses={201: JudgeJobOutputSerializer})
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        data = self.JudgeStartInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if campaign.is_steps or campaign.is_rating:
            return _refused(
                JudgeRefused(
                    "This campaign's judge scores its units, not pairs: POST to judge/units/start/."
                )
            )
        start = (
            judge_rank_start
            if data.validated_data["kind"] == JudgeJob.Kind.RANK
            else judge_pairs_start
        )
        try:
            job = start(campaign=campaign, actor=request.user, mode=data.validated_data.get("mode"))
        except JudgeRefused as exc:
            return _refused(exc)
        return Response(JudgeJobOutputSerializer(job).data, status=status.HTTP_201_CREATED)


class JudgeUnitsStartApi(APIView):
    """Queue the judge on every unit of a step-labels campaign (every step labelled) or a rating
    campaign (every response scored); each unit is its own job, done by the workers."""

    class JudgeUnitsStartOutputSerializer(serializers.Serializer):
        pending = serializers.IntegerField(help_text="Units now waiting for the judge.")

    @extend_schema(
        request=NoInputSerializer,
        responses={202: JudgeUnitsStartOutputSerializer},
        operation_id="judge_units_start",
    )
    def post(self, request: Request, slug: str) -> Response:
        from annotate.services.judging_ratings import rating_judge_start
        from annotate.services.judging_steps import step_judge_start

        campaign = campaign_for_admin(request.user, slug)
        NoInputSerializer(data=request.data).is_valid(raise_exception=True)
        if campaign.is_steps:
            start = step_judge_start
        elif campaign.is_rating:
            start = rating_judge_start
        else:
            return _refused(
                JudgeRefused(
                    "Only step-labels and rating campaigns have units for the judge; "
                    "judge this campaign's pairs with judge/start/."
                )
            )
        try:
            pending = start(campaign=campaign, actor=request.user)
        except JudgeRefused as exc:
            return _refused(exc)
        return Response({"pending": pending}, status=status.HTTP_202_ACCEPTED)


class JudgeAutoLabelApi(APIView):
    class JudgeAutoLabelOutputSerializer(serializers.Serializer):
        created = serializers.IntegerField()
        kappa = serializers.FloatField()
        n = serializers.IntegerField()

    @extend_schema(request=None, responses=JudgeAutoLabelOutputSerializer)
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        NoInputSerializer(data=request.data).is_valid(raise_exception=True)
        try:
            report = judge_auto_label(campaign=campaign, actor=request.user)
        except JudgeRefused as exc:
            return _refused(exc)
        return Response(self.JudgeAutoLabelOutputSerializer(report).data)


class JudgeVerdictListApi(APIView):
    class JudgeVerdictOutputSerializer(serializers.ModelSerializer):
        rubric_version = serializers.IntegerField(source="rubric.version")
        provider = serializers.CharField()
        status = serializers.CharField()

        class Meta:
            model = JudgeVerdict
            fields = [
                "id", "pair", "prompt", "candidate_a", "candidate_b", "rubric_version", "provider",
                "model", "status", "choice", "strength", "consistent", "aspects", "confidence",
                "rationale", "order1", "order2", "input_tokens", "output_tokens", "cache_read_tokens",
                "cache_write_tokens", "cost_usd", "error", "attempts", "finished_at",
            ]  # fmt: skip

    class JudgeVerdictQuerySerializer(InputSerializer):
        after = serializers.IntegerField(
            min_value=0,
            max_value=MAX_ID,
            default=0,
            help_text="Only verdicts with a larger id (for paging); 0 for the first page.",
        )

    @extend_schema(
        responses=JudgeVerdictOutputSerializer(many=True), parameters=[JudgeVerdictQuerySerializer]
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_researcher(request.user, slug)
        query = self.JudgeVerdictQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        after = query.validated_data["after"]
        rows = judge_verdicts_after(campaign=campaign, after=after, limit=VERDICT_PAGE)
        return Response(self.JudgeVerdictOutputSerializer(rows, many=True).data)


class JudgeAnalyticsApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_researcher(request.user, slug)
        stats = judge_analytics(campaign=campaign)

        def rate(r) -> dict:
            return {"k": r.k, "n": r.n, "rate": r.rate, "low": r.low, "high": r.high}

        def kappa(k) -> dict:
            return {
                "kappa": k.kappa,
                "low": k.low,
                "high": k.high,
                "n": k.n,
                "agreement": k.agreement,
            }

        return Response(
            {
                "kappa": kappa(stats["kappa"]),
                "aspects": {name: kappa(k) for name, k in stats["aspects"].items()},
                "swap_consistency": rate(stats["swap"]),
                "length_bias": {who: rate(r) for who, r in stats["length"].items()},
                "self_preference": {who: rate(r) for who, r in stats["self_preference"].items()},
                "anchoring": {name: rate(r) for name, r in stats["anchoring"].items()},
                "judged_pairs": stats["judged_pairs"],
                "human_pairs": stats["human_pairs"],
                "failed": stats["failed"],
            }
        )
