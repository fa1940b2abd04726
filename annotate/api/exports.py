"""Export API: create an export (runs as a Celery job), read its status, download its zip.

Researchers and admins only: an enrolled rater gets 403, anyone else 404, and for an existing export
the check runs on the export's own campaign. A bad format or filter is a 400 naming each field.
An export that ends with no row (its filters left nothing) or with a row that breaks its format's
rules is ``failed``, and its ``error`` says why (the first stage of the funnel that left nothing,
or the file, row number and rule).
"""

from __future__ import annotations

from django.http import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate import export_files
from annotate.access import campaign_for_researcher
from annotate.api.serializers import InputSerializer, OpenRangeFloatField
from annotate.exports.options import (
    ADJUDICATED,
    BON_METHODS,
    BOTH_BAD_POLICIES,
    DEFAULT_FORMAT,
    FORMATS,
    KTO_CONTESTED,
    MAX_VIEW,
    METHODS,
    RANKING_FORMATS,
    RANKING_PAIRS,
    RATING_PAIRS,
    RAW_FORMATS,
    SOURCES,
    STEP_NEUTRAL,
    TIE_POLICIES,
    ExportOptions,
    ExportOptionsError,
    parse_options,
)
from annotate.models import Export
from annotate.services.exports import export_create, export_lost_work, format_problem


class ExportOutputSerializer(serializers.ModelSerializer):
    campaign = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    download_url = serializers.SerializerMethodField()
    status_url = serializers.SerializerMethodField()
    lost_work = serializers.SerializerMethodField(
        help_text="Set when a worker died while building it: it is being (or was) built again."
    )

    class Meta:
        model = Export
        fields = [
            "id",
            "campaign",
            "format",
            "filters",
            "status",
            "progress",
            "attempts",
            "lost_work",
            "row_count",
            "sha256",
            "error",
            "created_at",
            "finished_at",
            "status_url",
            "download_url",
        ]

    def get_download_url(self, export: Export) -> str | None:
        if export.status != Export.Status.DONE:
            return None
        return reverse("api:export-download", args=[export.id])

    def get_lost_work(self, export: Export) -> str:
        return export_lost_work(export)

    def get_status_url(self, export: Export) -> str:
        return reverse("api:export-detail", args=[export.id])


def _export_for_researcher(request: Request, pk: int) -> Export:
    export = get_object_or_404(Export.objects.select_related("campaign"), pk=pk)
    campaign_for_researcher(request.user, export.campaign.slug)
    return export


_DEFAULTS = ExportOptions()


class ExportFiltersSerializer(InputSerializer):
    """Each filter of an export, documented; annotate/exports/options.py checks them together."""

    method = serializers.ChoiceField(
        choices=METHODS, required=False, help_text=f"Default {_DEFAULTS.method}."
    )
    tie_policy = serializers.ChoiceField(
        choices=TIE_POLICIES, required=False, help_text=f"Default {_DEFAULTS.tie_policy}."
    )
    both_bad_policy = serializers.ChoiceField(
        choices=BOTH_BAD_POLICIES, required=False, help_text=f"Default {_DEFAULTS.both_bad_policy}."
    )
    source = serializers.ChoiceField(
        choices=SOURCES,
        required=False,
        help_text="Default human; 'all' only with the raw-vote formats.",
    )
    include_gold = serializers.BooleanField(required=False, help_text="Default false.")
    min_gold_accuracy = serializers.FloatField(
        min_value=0, max_value=1, required=False, help_text="Default 0 (keep every rater)."
    )
    min_votes = serializers.IntegerField(
        min_value=1, max_value=1000, required=False, help_text="Default 1."
    )
    test_fraction = OpenRangeFloatField(
        min_value=0,
        max_value=1,
        high_open=True,
        required=False,
        help_text="Share of prompts in the test split, below 1. Default 0 (train only).",
    )
    seed = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, required=False, help_text="Default 0."
    )
    kto_threshold = OpenRangeFloatField(
        min_value=0.5,
        max_value=1,
        low_open=True,
        required=False,
        help_text=(
            f"trl-kto: win share (above 0.5, at most 1) for a desirable completion; at most "
            f"1 - it is undesirable. Default {_DEFAULTS.kto_threshold}."
        ),
    )
    kto_contested = serializers.ChoiceField(
        choices=KTO_CONTESTED,
        required=False,
        help_text="trl-kto: what to do with completions between the two shares. Default drop.",
    )

    include_reasoning = serializers.BooleanField(
        required=False,
        help_text=(
            "Write reasoning traces too (<think>trace</think> before the reply). Default false: "
            "the final answer only. Not read by the raw-vote formats (they carry no texts)."
        ),
    )
    raw_participant_ids = serializers.BooleanField(
        required=False,
        help_text=(
            "Crowd participants' platform ids (e.g. PROLIFIC_PID) in the rater column. Default "
            "false: a salted pseudonym of the platform id."
        ),
    )
    bon_method = serializers.ChoiceField(
        choices=BON_METHODS,
        required=False,
        help_text="bon-sft / bon-dpo: whose best-of-N choices. Default majority.",
    )
    bon_correct_only = serializers.BooleanField(
        required=False,
        help_text="bon-sft / bon-dpo: only choices matching the reference answer. Default false.",
    )
    ranking_pairs = serializers.ChoiceField(
        choices=RANKING_PAIRS,
        required=False,
        help_text="Ranking campaigns: the pairs each ranking gives, all K(K-1)/2 or the best "
        "against each other. Default all.",
    )
    view = serializers.CharField(
        max_length=MAX_VIEW,
        required=False,
        allow_blank=True,
        help_text="Only the pairs of a browse view: the query string of the campaign's Pairs page "
        "(e.g. q=sql&contested=on). Default: every pair.",
    )
    adjudicated = serializers.ChoiceField(
        choices=ADJUDICATED,
        required=False,
        help_text="Human-source exports: prefer takes an adjudicated pair's final label over the "
        "aggregate of its votes; ignore lets the votes decide. Default prefer.",
    )
    rating_pairs = serializers.ChoiceField(
        choices=RATING_PAIRS,
        required=False,
        help_text="Rating campaigns: each prompt's best-scored response against each lower one, "
        "or against one drawn with the seed. Default best_vs_each.",
    )
    rating_min_gap = serializers.FloatField(
        required=False,
        min_value=0.0,
        max_value=9.0,
        help_text="Rating campaigns: the least score gap (of aggregated overall scores) a pair "
        "needs. Default 1.",
    )
    step_neutral = serializers.ChoiceField(
        choices=STEP_NEUTRAL,
        required=False,
        help_text="trl-stepwise: a neutral step's label, true or false, or drop the step. "
        "Default true.",
    )


class DatasetExportFiltersSerializer(ExportFiltersSerializer):
    """The filters of a dataset format: its labels come from one source, human or judge."""

    source = serializers.ChoiceField(
        choices=[s for s in SOURCES if s != "all"], required=False, help_text="Default human."
    )


class ExportCreateApi(APIView):
    class ExportCreateInputSerializer(InputSerializer):
        format = serializers.ChoiceField(choices=list(FORMATS), default=DEFAULT_FORMAT)
        filters = ExportFiltersSerializer(required=False)

    # The one rule across fields (annotate/exports/options.py) as the schema's two shapes: the
    # source ``all`` (human and judge votes together) only with the raw-vote formats.
    class RawExportCreateInputSerializer(ExportCreateInputSerializer):
        """Raw votes, one row per judgment: any source."""

        format = serializers.ChoiceField(choices=[f for f in FORMATS if f in RAW_FORMATS])

    class DatasetExportCreateInputSerializer(ExportCreateInputSerializer):
        """A training dataset: human or judge labels."""

        format = serializers.ChoiceField(
            choices=[f for f in FORMATS if f not in RAW_FORMATS], default=DEFAULT_FORMAT
        )
        filters = DatasetExportFiltersSerializer(required=False)

    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="ExportCreateInput",
            serializers=[DatasetExportCreateInputSerializer, RawExportCreateInputSerializer],
            resource_type_field_name=None,
        ),
        responses={201: ExportOutputSerializer},
        operation_id="export_create",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_researcher(request.user, slug)
        data = self.ExportCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["format"] in RANKING_FORMATS and not campaign.is_ranking:
            detail = "The ranking format is for ranking campaigns; this one compares pairs."
            return Response({"detail": detail}, status=status.HTTP_409_CONFLICT)
        if problem := format_problem(
            campaign=campaign, options=parse_options(data.validated_data["format"], {})
        ):
            return Response({"detail": f"Not for this campaign: {problem}."}, status=409)
        try:
            export = export_create(
                campaign=campaign,
                actor=request.user,
                format=data.validated_data["format"],
                filters=dict(data.validated_data.get("filters") or {}),
            )
        except ExportOptionsError as exc:
            return Response({"filters": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ExportOutputSerializer(export).data, status=status.HTTP_201_CREATED)


class ExportListApi(APIView):
    @extend_schema(responses=ExportOutputSerializer(many=True), operation_id="export_list")
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_researcher(request.user, slug)
        exports = campaign.exports.select_related("campaign")[:100]
        return Response(ExportOutputSerializer(exports, many=True).data)


class ExportDetailApi(APIView):
    @extend_schema(responses=ExportOutputSerializer, operation_id="export_detail")
    def get(self, request: Request, pk: int) -> Response:
        return Response(ExportOutputSerializer(_export_for_researcher(request, pk)).data)


class ExportDownloadApi(APIView):
    @extend_schema(
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            302: OpenApiResponse(description="A short-lived signed URL of the bucket"),
        },
        operation_id="export_download",
    )
    def get(self, request: Request, pk: int) -> HttpResponseBase:
        """The zip, streamed from the exports storage, or a redirect to a signed URL of the bucket
        when the server sets EXPORT_BUCKET_SIGNED_URLS."""
        export = _export_for_researcher(request, pk)
        return export_files.export_file_response(export=export)
