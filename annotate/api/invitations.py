"""Bulk invitations through the API (the page's rules: services/invitations.py): a CSV of names
and emails, or a count of anonymous accounts; each answer lists the new one-time links, and the
links CSV lists every open one. Admins only: the links sign people in."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_admin
from annotate.api.serializers import InputSerializer
from annotate.models import Invitation
from annotate.selectors.invitations import invitation_links_csv, invitation_rows, invitations_open
from annotate.services.invitations import (
    MAX_INVITE_CSV_CHARS,
    MAX_INVITES,
    InviteError,
    invitations_anonymous_create,
    invitations_csv_create,
)


class InvitationOutputSerializer(serializers.Serializer):
    username = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)
    kind = serializers.ChoiceField(choices=Invitation.Kind.choices)
    link = serializers.CharField(help_text="Works once, until expires_at.")
    expires_at = serializers.CharField()


def _answer(request: Request, made: list[Invitation]) -> Response:
    rows = invitation_rows(made, absolute=request.build_absolute_uri)
    return Response(InvitationOutputSerializer(rows, many=True).data, status=201)


class InvitationCsvCreateApi(APIView):
    class InvitationCsvInputSerializer(InputSerializer):
        csv = serializers.CharField(
            max_length=MAX_INVITE_CSV_CHARS,
            trim_whitespace=False,
            help_text="A header row (name,email; email required), then one rater a line.",
        )

    @extend_schema(
        request=InvitationCsvInputSerializer,
        # A refused CSV is the usual 400 body, its messages under "csv": every bad line by its
        # number (nothing is stored then).
        responses={201: InvitationOutputSerializer(many=True)},
        operation_id="invitations_csv_create",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        body = self.InvitationCsvInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            made = invitations_csv_create(
                campaign=campaign, text=body.validated_data["csv"], created_by=request.user
            )
        except InviteError as exc:
            return Response({"csv": exc.problems}, status=400)
        return _answer(request, made)


class InvitationAnonymousCreateApi(APIView):
    class InvitationAnonymousInputSerializer(InputSerializer):
        count = serializers.IntegerField(min_value=1, max_value=MAX_INVITES)

    @extend_schema(
        request=InvitationAnonymousInputSerializer,
        responses={201: InvitationOutputSerializer(many=True)},
        operation_id="invitations_anonymous_create",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        body = self.InvitationAnonymousInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            made = invitations_anonymous_create(
                campaign=campaign, count=body.validated_data["count"], created_by=request.user
            )
        except InviteError as exc:
            return Response({"count": exc.problems}, status=400)
        return _answer(request, made)


class InvitationLinksCsvApi(APIView):
    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="Every open invitation's link, one row each."
            )
        },
        operation_id="invitations_links_csv",
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        campaign = campaign_for_admin(request.user, slug)
        rows = invitation_rows(
            invitations_open(campaign=campaign), absolute=request.build_absolute_uri
        )
        response = HttpResponse(invitation_links_csv(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{slug}-invitations.csv"'
        response["Cache-Control"] = "no-store"
        return response
