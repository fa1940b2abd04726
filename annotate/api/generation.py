"""Generation over the REST API: progress (researchers and admins), cancel and resume (admins).

Starting a job is ``GenerationStartApi`` in annotate/api/campaigns.py. Each view: access helper, one
selector or service call, serialize.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_admin, campaign_for_researcher
from annotate.api.serializers import NoInputSerializer
from annotate.selectors.generation import (
    GenerationProgress,
    generation_progress,
    generation_progress_for_campaign,
)
from annotate.services.generation import generation_cancel, generation_resume


class GenerationProgressOutputSerializer(serializers.Serializer):
    job_id = serializers.IntegerField(source="job.id")
    status = serializers.CharField(source="job.status")
    mode = serializers.CharField(source="job.mode")
    error = serializers.CharField(source="job.error")
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    remaining = serializers.IntegerField()
    retrying = serializers.IntegerField()
    per_minute = serializers.FloatField()
    cost_usd = serializers.DecimalField(max_digits=14, decimal_places=6)
    campaign_cost_usd = serializers.DecimalField(max_digits=14, decimal_places=6)
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    eta_seconds = serializers.FloatField(allow_null=True)
    errors = serializers.SerializerMethodField()
    lost_work = serializers.SerializerMethodField(
        help_text="Set when a worker stopped: how much of its work was (or is being) sent again."
    )

    def get_errors(self, progress: GenerationProgress) -> list[dict]:
        return [{"message": message, "count": count} for message, count in progress.errors]

    def get_lost_work(self, progress: GenerationProgress) -> dict | None:
        lost = progress.lost_work
        if lost is None:
            return None
        return {
            "message": lost.message,
            "at": lost.at.isoformat() if lost.at else None,
            "resent": lost.resent,
            "waiting": lost.waiting,
            "times": lost.times,
        }


def _body(progress: GenerationProgress | None) -> dict | None:
    return GenerationProgressOutputSerializer(progress).data if progress else None


class GenerationProgressApi(APIView):
    @extend_schema(responses={200: GenerationProgressOutputSerializer})
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_researcher(request.user, slug)
        progress = generation_progress_for_campaign(campaign=campaign)
        if progress is None:
            return Response({"detail": "No generation has run for this campaign."}, status=404)
        return Response(_body(progress))


class GenerationCancelApi(APIView):
    @extend_schema(request=None, responses={200: GenerationProgressOutputSerializer})
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        NoInputSerializer(data=request.data).is_valid(raise_exception=True)
        job = generation_cancel(campaign=campaign, actor=request.user)
        if job is None:
            return Response({"detail": "No generation is running."}, status=409)
        return Response(_body(generation_progress(job=job)))


class GenerationResumeApi(APIView):
    @extend_schema(request=None, responses={202: GenerationProgressOutputSerializer})
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        NoInputSerializer(data=request.data).is_valid(raise_exception=True)
        job = generation_resume(campaign=campaign, actor=request.user)
        if job is None:
            return Response({"detail": "Nothing to resume: start a generation first."}, status=409)
        return Response(_body(generation_progress(job=job)), status=202)
