"""Campaign admin API: one APIView per operation, each with its own input/output serializers.

Every view opens with an access helper (annotate.access): a rater gets 403 for their own campaign
and 404 for any other; researchers read; admins write. Token or session auth (settings).
Input serializers refuse unknown keys (annotate/api/serializers.py); JSON bodies are read under
annotate/validation.py's rules (annotate/api/parsers.py). Service errors (CampaignError) become 400
with {"detail": ...} (409 when the campaign's state refuses a valid input). Imports of prompts and
responses are in annotate/api/imports.py.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_admin, campaign_for_researcher, require_admin
from annotate.api.serializers import InputModelSerializer, InputSerializer, NoInputSerializer
from annotate.api.targets import ShapesProxySerializer, base_url_field, target_shapes
from annotate.models import Campaign, Enrollment, Generator, User
from annotate.protocols import protocol_for
from annotate.selectors.campaigns import campaign_enrollments, campaigns_with_counts
from annotate.services.campaigns import (
    CAMPAIGN_FIELDS,
    CampaignError,
    campaign_create,
    campaign_set_status,
    campaign_update,
    enrollment_add,
    enrollment_remove,
    generator_create,
    generator_delete,
    rater_create,
)
from annotate.validation import (
    MAX_ASPECT_NAME,
    MAX_ASPECTS,
    MAX_GUIDELINES,
    MAX_TEXT,
    validate_aspects,
    validate_one_line,
)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


def _error(exc: Exception) -> Response:
    """400 when the input is wrong; 409 when it is fine but the campaign's state refuses it."""
    invalid = getattr(exc, "invalid", True)
    code = status.HTTP_400_BAD_REQUEST if invalid else status.HTTP_409_CONFLICT
    return Response({"detail": str(exc)}, status=code)


# --- campaigns -----------------------------------------------------------------------------------


def _aspects_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.RegexField(r"^\w[\w \-]*$", max_length=MAX_ASPECT_NAME),
        max_length=MAX_ASPECTS,
        help_text='Names rated per pair, e.g. ["helpful", "honest"].',
        **kwargs,
    )


class CampaignOutputSerializer(serializers.ModelSerializer):
    aspects = _aspects_field()
    prompt_count = serializers.IntegerField(read_only=True)
    pair_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "slug",
            "status",
            *CAMPAIGN_FIELDS,
            "created_at",
            "prompt_count",
            "pair_count",
        ]


class CampaignListApi(APIView):
    @extend_schema(responses=CampaignOutputSerializer(many=True), operation_id="campaigns_list")
    def get(self, request: Request) -> Response:
        if not request.user.is_researcher:
            return Response({"detail": "Researchers and admins only."}, status=403)
        data = CampaignOutputSerializer(campaigns_with_counts(), many=True).data
        return Response(data)


@extend_schema_field({"type": "string", "format": "regex", "maxLength": 200})
class _StepPatternField(serializers.CharField):
    """A step pattern: a (Python) regular expression the model's rules compile."""


def _step_pattern_field() -> serializers.CharField:
    return _StepPatternField(required=False, allow_blank=True, max_length=200)


class CampaignCreateApi(APIView):
    class CampaignCreateInputSerializer(InputModelSerializer):
        aspects = _aspects_field(required=False, validators=[validate_aspects])
        step_pattern = _step_pattern_field()

        class Meta:
            model = Campaign
            fields = list(CAMPAIGN_FIELDS)
            extra_kwargs = {"guidelines": {"max_length": MAX_GUIDELINES}}

    @extend_schema(
        request=CampaignCreateInputSerializer,
        responses={201: CampaignOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        require_admin(request.user)
        serializer = self.CampaignCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            campaign = campaign_create(actor=request.user, **serializer.validated_data)
        except CampaignError as exc:
            return _error(exc)
        return Response(
            CampaignOutputSerializer(campaigns_with_counts().get(pk=campaign.pk)).data, status=201
        )


class CampaignDetailApi(APIView):
    @extend_schema(responses=CampaignOutputSerializer, operation_id="campaigns_retrieve")
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_researcher(request.user, slug)
        return Response(CampaignOutputSerializer(campaigns_with_counts().get(pk=campaign.pk)).data)


class CampaignUpdateApi(APIView):
    class CampaignUpdateInputSerializer(InputModelSerializer):
        aspects = _aspects_field(required=False, validators=[validate_aspects])
        step_pattern = _step_pattern_field()

        class Meta:
            model = Campaign
            fields = list(CAMPAIGN_FIELDS)
            extra_kwargs = {
                "title": {"required": False},
                "guidelines": {"max_length": MAX_GUIDELINES},
            }

    @extend_schema(
        request=CampaignUpdateInputSerializer,
        responses={200: CampaignOutputSerializer},
    )
    def patch(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        serializer = self.CampaignUpdateInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            campaign_update(campaign=campaign, **serializer.validated_data)
        except CampaignError as exc:
            return _error(exc)
        return Response(CampaignOutputSerializer(campaigns_with_counts().get(pk=campaign.pk)).data)


class CampaignStatusApi(APIView):
    class CampaignStatusInputSerializer(InputSerializer):
        action = serializers.ChoiceField(choices=["open", "pause", "close"])

    class CampaignStatusOutputSerializer(serializers.Serializer):
        status = serializers.CharField()
        pairs_created = serializers.IntegerField(allow_null=True)
        notes = serializers.ListField(child=serializers.CharField())

    @extend_schema(
        request=CampaignStatusInputSerializer,
        responses={200: CampaignStatusOutputSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        serializer = self.CampaignStatusInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            report = campaign_set_status(
                campaign=campaign, action=serializer.validated_data["action"]
            )
        except CampaignError as exc:
            return _error(exc)
        return Response(
            {
                "status": campaign.status,
                "pairs_created": report.created if report else None,
                "notes": report.notes if report else [],
            }
        )


class PairsBuildApi(APIView):
    class PairsBuildOutputSerializer(serializers.Serializer):
        created = serializers.IntegerField()
        flagged = serializers.IntegerField()
        duplicates = serializers.IntegerField()
        strategy = serializers.CharField()
        notes = serializers.ListField(child=serializers.CharField())

    @extend_schema(request=None, responses=PairsBuildOutputSerializer)
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        NoInputSerializer(data=request.data).is_valid(raise_exception=True)
        report = protocol_for(campaign).units_build(campaign=campaign)
        return Response(
            {
                "created": report.created,
                "flagged": report.flagged,
                "duplicates": report.duplicates,
                "strategy": report.strategy,
                "notes": report.notes,
            }
        )


# --- generators and generation -------------------------------------------------------------------


class GeneratorOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Generator
        fields = [
            "id", "name", "provider", "model", "endpoint", "base_url", "params",
            "system_prompt", "samples_per_prompt", "created_at",
        ]  # fmt: skip


class GeneratorCreateApi(APIView):
    class GeneratorCreateInputSerializer(InputSerializer):
        provider = serializers.ChoiceField(
            choices=[c for c in Generator.Provider.values if c != Generator.Provider.IMPORTED]
        )
        model = serializers.CharField(max_length=200, validators=[validate_one_line])
        name = serializers.CharField(
            max_length=100,
            required=False,
            default="",
            allow_blank=True,
            validators=[validate_one_line],
            help_text="Defaults to the model.",
        )
        endpoint = serializers.CharField(
            max_length=100,
            required=False,
            default="",
            allow_blank=True,
            validators=[validate_one_line],
            help_text="An endpoint the operator configured (PROVIDER_ENDPOINTS; `anthropic` always "
            "exists); its key goes only to its base URL.",
        )
        base_url = base_url_field(
            required=False,
            default="",
            allow_blank=True,
            help_text="A server that needs no key (no key is sent).",
        )
        params = serializers.DictField(required=False, default=dict)
        system_prompt = serializers.CharField(
            required=False, default="", allow_blank=True, max_length=MAX_TEXT
        )
        samples_per_prompt = serializers.IntegerField(min_value=1, max_value=32, default=1)

    @extend_schema(
        request=ShapesProxySerializer(
            component_name="GeneratorCreateInput",
            serializers=lambda: target_shapes(
                GeneratorCreateApi.GeneratorCreateInputSerializer, "Generator"
            ),
            resource_type_field_name=None,
        ),
        responses={201: GeneratorOutputSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        serializer = self.GeneratorCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            generator = generator_create(campaign=campaign, **serializer.validated_data)
        except CampaignError as exc:
            return _error(exc)
        return Response(GeneratorOutputSerializer(generator).data, status=201)


class GeneratorDeleteApi(APIView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, slug: str, generator_id: int) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        NoInputSerializer(data=request.data).is_valid(raise_exception=True)
        generator = get_object_or_404(campaign.generators, pk=generator_id)
        try:
            generator_delete(generator=generator)
        except CampaignError as exc:
            return _error(exc)
        return Response(status=204)


class GenerationStartApi(APIView):
    class GenerationStartInputSerializer(InputSerializer):
        mode = serializers.ChoiceField(choices=["fast", "cheap"], default="fast")

    class GenerationStartOutputSerializer(serializers.Serializer):
        job_id = serializers.IntegerField()
        status = serializers.CharField()
        mode = serializers.CharField()
        total = serializers.IntegerField()

    @extend_schema(
        request=GenerationStartInputSerializer,
        responses={202: GenerationStartOutputSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        from annotate.services.generation import generation_start

        campaign = campaign_for_admin(request.user, slug)
        serializer = self.GenerationStartInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not campaign.prompts.exists():
            return _error(CampaignError("Import prompts before starting generation."))  # 409
        try:
            job = generation_start(
                campaign=campaign, actor=request.user, mode=serializer.validated_data["mode"]
            )
        except (ValueError, CampaignError) as exc:
            return _error(exc)
        body = {"job_id": job.id, "status": job.status, "mode": job.mode, "total": job.total}
        return Response(body, status=202)


# --- raters --------------------------------------------------------------------------------------


class EnrollmentOutputSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="rater.username")

    class Meta:
        model = Enrollment
        fields = ["username", "paused", "paused_reason", "created_at"]


class EnrollmentListApi(APIView):
    @extend_schema(responses=EnrollmentOutputSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_researcher(request.user, slug)
        enrollments = campaign_enrollments(campaign=campaign)
        return Response(EnrollmentOutputSerializer(enrollments, many=True).data)


class EnrollmentAddApi(APIView):
    class EnrollmentAddInputSerializer(InputSerializer):
        usernames = serializers.ListField(
            child=serializers.CharField(max_length=150), min_length=1, max_length=1000
        )

    @extend_schema(
        request=EnrollmentAddInputSerializer,
        responses={200: EnrollmentOutputSerializer(many=True)},
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        serializer = self.EnrollmentAddInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            enrollments = enrollment_add(
                campaign=campaign, usernames=serializer.validated_data["usernames"]
            )
        except CampaignError as exc:
            return _error(exc)
        return Response(EnrollmentOutputSerializer(enrollments, many=True).data)


class EnrollmentRemoveApi(APIView):
    class EnrollmentRemoveInputSerializer(InputSerializer):
        username = serializers.CharField(max_length=150)

    @extend_schema(request=EnrollmentRemoveInputSerializer, responses={204: None})
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        serializer = self.EnrollmentRemoveInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            enrollment_remove(campaign=campaign, username=serializer.validated_data["username"])
        except CampaignError as exc:
            return _error(exc)
        return Response(status=204)


class RaterCreateApi(APIView):
    class RaterCreateInputSerializer(InputSerializer):
        # Django's username rule (UnicodeUsernameValidator), untrimmed: " bob" is not a username.
        username = serializers.RegexField(r"^[\w.@+-]+$", max_length=150, trim_whitespace=False)
        # Django's password rules, as far as a pattern can say them: not only digits, no NUL.
        password = serializers.RegexField(
            r"^[^\x00]*[^\d\x00][^\x00]*$",
            write_only=True,
            min_length=8,
            max_length=128,
            trim_whitespace=False,
        )
        role = serializers.ChoiceField(choices=User.Role.values, default=User.Role.RATER)

    class RaterCreateOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        role = serializers.CharField()

    @extend_schema(
        request=RaterCreateInputSerializer,
        responses={201: RaterCreateOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        require_admin(request.user)
        serializer = self.RaterCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user = rater_create(**serializer.validated_data)
        except CampaignError as exc:
            return _error(exc)
        return Response({"id": user.id, "username": user.username, "role": user.role}, status=201)
