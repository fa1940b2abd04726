"""A campaign's webhooks through the API (the rules: annotate/services/webhooks.py): list them with
their latest deliveries, add one, remove one. Admins only: they decide where a campaign's events go."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_admin
from annotate.api.serializers import InputSerializer, NoInputSerializer
from annotate.models import WebhookDelivery
from annotate.models.webhooks import EVENTS
from annotate.selectors.browse import MAX_ID
from annotate.services.webhooks import WebhookRefused, webhook_create, webhook_delete

RECENT = 20


class _DeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event = serializers.CharField()
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attempts = serializers.IntegerField()
    response_status = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    next_at = serializers.DateTimeField()


class WebhookOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    deliveries = serializers.SerializerMethodField()

    def get_deliveries(self, hook) -> list[dict]:
        """The latest deliveries, newest first."""
        rows = hook.deliveries.order_by("-id")[:RECENT]
        return _DeliverySerializer(rows, many=True).data


class WebhookListApi(APIView):
    class WebhookInputSerializer(InputSerializer):
        url = serializers.CharField(max_length=500, help_text="http or https; no credentials.")
        events = serializers.ListField(
            child=serializers.ChoiceField(choices=list(EVENTS)), min_length=1, max_length=10
        )

    @extend_schema(
        responses={200: WebhookOutputSerializer(many=True)}, operation_id="webhooks_list"
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        return Response(WebhookOutputSerializer(campaign.webhooks.all(), many=True).data)

    @extend_schema(
        request=WebhookInputSerializer,
        responses={201: WebhookOutputSerializer},
        operation_id="webhooks_create",
    )
    def post(self, request: Request, slug: str) -> Response:
        """Send the campaign's chosen events to this URL, signed with WEBHOOK_SECRET."""
        campaign = campaign_for_admin(request.user, slug)
        body = self.WebhookInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            hook = webhook_create(
                campaign=campaign,
                actor=request.user,
                url=body.validated_data["url"],
                events=body.validated_data["events"],
            )
        except WebhookRefused as exc:
            return Response(exc.errors, status=400)
        return Response(WebhookOutputSerializer(hook).data, status=201)


class WebhookDeleteApi(APIView):
    @extend_schema(request=None, responses={204: None}, operation_id="webhooks_delete")
    def delete(self, request: Request, slug: str, webhook_id: int) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        NoInputSerializer(data=request.data).is_valid(raise_exception=True)
        if not (
            0 < webhook_id <= MAX_ID and webhook_delete(campaign=campaign, webhook_id=webhook_id)
        ):
            raise Http404("No such webhook")
        return Response(status=204)
