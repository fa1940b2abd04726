"""Crowd platforms through the API: the campaign's crowd settings (the same rules as the crowd
page: the model's validators and clean()), and the participants report as JSON or the approvals
CSV. Admins only: the report carries platform ids unless ``ids=pseudonym``."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_admin
from annotate.api.serializers import InputModelSerializer, InputSerializer
from annotate.models import CrowdSettings, Participant
from annotate.models.participants import MAX_RETURN_HOSTS
from annotate.selectors.participants import participants_csv, participants_report
from annotate.services.participants import (
    CROWD_FIELDS,
    CrowdError,
    crowd_settings_get,
    crowd_settings_update,
)


class CrowdSettingsOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = CrowdSettings
        fields = list(CROWD_FIELDS)


class CrowdSettingsDetailApi(APIView):
    @extend_schema(
        responses={200: CrowdSettingsOutputSerializer}, operation_id="crowd_settings_get"
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        return Response(CrowdSettingsOutputSerializer(crowd_settings_get(campaign=campaign)).data)


class CrowdSettingsUpdateApi(APIView):
    class CrowdSettingsInputSerializer(InputModelSerializer):
        return_hosts = serializers.ListField(
            child=serializers.CharField(max_length=253),
            max_length=MAX_RETURN_HOSTS,
            required=False,
        )

        class Meta:
            model = CrowdSettings
            fields = list(CROWD_FIELDS)

    @extend_schema(
        request=CrowdSettingsInputSerializer,
        responses={200: CrowdSettingsOutputSerializer},
        operation_id="crowd_settings_update",
    )
    def patch(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        serializer = self.CrowdSettingsInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            crowd = crowd_settings_update(campaign=campaign, **serializer.validated_data)
        except DjangoValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
            return Response(detail, status=400)
        except CrowdError as exc:
            return Response({"detail": str(exc)}, status=400)
        return Response(CrowdSettingsOutputSerializer(crowd).data)


class _IdsQuerySerializer(InputSerializer):
    ids = serializers.ChoiceField(choices=["raw", "pseudonym"], default="raw", required=False)


_IDS = OpenApiParameter(
    "ids",
    str,
    enum=["raw", "pseudonym"],
    description="raw: platform ids as given; pseudonym: the campaign's salted pseudonym.",
)


class ParticipantOutputSerializer(serializers.Serializer):
    participant_id = serializers.CharField()
    pseudonym = serializers.CharField(help_text="The participant's name in dataset exports.")
    platform = serializers.ChoiceField(choices=Participant.Platform.choices)
    study_id = serializers.CharField(allow_blank=True)
    session_id = serializers.CharField(allow_blank=True)
    assignment_id = serializers.CharField(allow_blank=True)
    hit_id = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=Participant.Status.choices)
    active_minutes = serializers.FloatField()
    votes = serializers.IntegerField()
    gold_answered = serializers.IntegerField()
    gold_accuracy = serializers.FloatField(allow_null=True)
    training_score = serializers.FloatField(allow_null=True)
    started_at = serializers.CharField()
    finished_at = serializers.CharField(allow_blank=True)


def _raw_ids(request: Request) -> bool:
    query = _IdsQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data.get("ids", "raw") == "raw"


class ParticipantListApi(APIView):
    @extend_schema(
        parameters=[_IDS],
        responses={200: ParticipantOutputSerializer(many=True)},
        operation_id="participants_list",
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        rows = participants_report(campaign=campaign, raw_ids=_raw_ids(request))
        return Response(ParticipantOutputSerializer(rows, many=True).data)


class ParticipantCsvApi(APIView):
    @extend_schema(
        parameters=[_IDS],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="Approvals and bonuses, one row per participant."
            )
        },
        operation_id="participants_csv",
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        campaign = campaign_for_admin(request.user, slug)
        body = participants_csv(campaign=campaign, raw_ids=_raw_ids(request))
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{slug}-participants.csv"'
        return response
