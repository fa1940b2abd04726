"""Export API: create an export (runs as a Celery job), read its status, download its zip.

Researchers and admins only: an enrolled rater gets 403, anyone else 404, and for an existing export
the check runs on the export's own campaign. A bad format or filter is a 400 naming each field.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_researcher
from annotate.exports.options import DEFAULT_FORMAT, FORMATS, ExportOptionsError
from annotate.models import Export
from annotate.services.exports import export_archive_path, export_create


class ExportOutputSerializer(serializers.ModelSerializer):
    campaign = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    download_url = serializers.SerializerMethodField()
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id",
            "campaign",
            "format",
            "filters",
            "status",
            "progress",
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

    def get_status_url(self, export: Export) -> str:
        return reverse("api:export-detail", args=[export.id])


def _export_for_researcher(request: Request, pk: int) -> Export:
    export = get_object_or_404(Export.objects.select_related("campaign"), pk=pk)
    campaign_for_researcher(request.user, export.campaign.slug)
    return export


class ExportCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        format = serializers.ChoiceField(choices=list(FORMATS), default=DEFAULT_FORMAT)
        filters = serializers.DictField(required=False, default=dict)

    @extend_schema(
        request=InputSerializer,
        responses={201: ExportOutputSerializer},
        operation_id="export_create",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_researcher(request.user, slug)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            export = export_create(
                campaign=campaign,
                actor=request.user,
                format=data.validated_data["format"],
                filters=data.validated_data["filters"],
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
        responses={(200, "application/zip"): OpenApiTypes.BINARY}, operation_id="export_download"
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        export = _export_for_researcher(request, pk)
        archive = export_archive_path(export)
        if export.status != Export.Status.DONE or not archive.exists():
            raise Http404("This export has no file yet")
        return FileResponse(
            open(archive, "rb"),  # noqa: SIM115 - FileResponse closes it
            as_attachment=True,
            filename=f"{export.campaign.slug}-{export.format}-{export.id}.zip",
            content_type="application/zip",
        )
