"""Undo the last vote through the API, for the set protocols (ranking, rating, step labels): the
same rules as the pages (services/set_corrections.py).

* ``POST …/rank/undo/`` (``rating/undo/``, ``steps/undo/``): the unit of the rater's last vote,
  numbered as they saw it, with that vote in the shape it was sent (``previous``), the first
  vote's id to correct (``vote``), the row the correction replaces (``prior``) and the seconds
  left. 409 with no vote to undo or after the window.
* ``POST …/rank/correct/`` (``rating/correct/``, ``steps/correct/``): the vote's fields as for
  ``…/vote/``, with ``vote`` (and optionally ``prior``) instead of ``lease``. 201 with the new
  row's id; 404 when ``vote`` is not a first vote of this rater in this campaign; 409 after the
  window (plus a lease) or when it is not the rater's last vote (or was corrected since
  ``prior``); 400 for a vote that breaks the protocol's rules.

Every operation opens with ``campaign_for_rater`` (anyone else: 404); a campaign of another
protocol answers 409.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_rater
from annotate.api.ranking import DetailSerializer, RankVoteApi, lease_body, wrong_protocol
from annotate.api.rating import RateVoteApi
from annotate.api.serializers import NoInputSerializer
from annotate.api.steps import StepsVoteApi
from annotate.models import SetAssignment
from annotate.services.corrections import undo_seconds
from annotate.services.judgments import VoteRefused
from annotate.services.set_corrections import set_vote_correct, set_vote_shown, set_vote_undoable
from annotate.validation import MAX_ID

_NOT_FOUND = frozenset({"missing"})
_CONFLICT = frozenset({"nothing", "too_late", "not_last", "gone"})


def _refused(refused: VoteRefused) -> Response:
    code = status.HTTP_400_BAD_REQUEST
    if refused.code in _NOT_FOUND:
        code = status.HTTP_404_NOT_FOUND
    elif refused.code in _CONFLICT:
        code = status.HTTP_409_CONFLICT
    return Response({"detail": refused.messages[0], "code": refused.code}, status=code)


class UndoOutputSerializer(serializers.Serializer):
    vote = serializers.IntegerField(help_text="The first vote on the unit: correct this one.")
    prior = serializers.IntegerField(help_text="The row a correction replaces (the latest).")
    seconds_left = serializers.IntegerField(help_text="Undo closes after these seconds.")
    lease = serializers.IntegerField()
    system = serializers.CharField(allow_blank=True)
    messages = serializers.ListField(child=serializers.DictField())
    responses = serializers.ListField(child=serializers.DictField())
    previous = serializers.DictField(
        help_text="The vote as it was sent, in the unit's shown numbers (fill the form from it)."
    )


class CorrectOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    revises = serializers.IntegerField()


class _SetUndoBase(APIView):
    protocol = ""
    doing = ""

    def _campaign(self, request: Request, slug: str):
        campaign = campaign_for_rater(request.user, slug)
        return campaign, (
            None if campaign.protocol == self.protocol else wrong_protocol(self.doing)
        )


class _UndoApi(_SetUndoBase):
    def post(self, request: Request, slug: str) -> Response:
        campaign, wrong = self._campaign(request, slug)
        NoInputSerializer(data=request.data).is_valid(raise_exception=True)
        if wrong is not None:
            return wrong
        now = timezone.now()
        try:
            first, last = set_vote_undoable(campaign=campaign, rater=request.user, now=now)
        except VoteRefused as refused:
            return _refused(refused)
        lease = (
            SetAssignment.objects.select_related("candidate_set__prompt")
            .filter(pk=first.lease_id or 0)
            .first()
        )
        if lease is None:
            return _refused(VoteRefused("This unit is no longer there to correct.", code="gone"))
        left = undo_seconds() - (now - first.created_at).total_seconds()
        body = {
            **lease_body(lease),
            "vote": first.pk,
            "prior": last.pk,
            "seconds_left": max(0, int(left)),
            "previous": set_vote_shown(last, campaign=campaign),
        }
        return Response(UndoOutputSerializer(body).data)


class _CorrectApi(_SetUndoBase):
    vote_serializer: type[serializers.Serializer]

    def post(self, request: Request, slug: str) -> Response:
        campaign, _ = self._campaign(request, slug)
        serializer = self.vote_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if campaign.protocol != self.protocol:
            return wrong_protocol(self.doing)
        data = dict(serializer.validated_data)
        vote_id, prior = data.pop("vote"), data.pop("prior", None)
        try:
            row = set_vote_correct(
                campaign=campaign, rater=request.user, vote_id=vote_id, vote=data, prior_id=prior
            )
        except VoteRefused as refused:
            return _refused(refused)
        return Response({"id": row.pk, "revises": vote_id}, status=status.HTTP_201_CREATED)


def _correct_input(vote_input: type[serializers.Serializer], name: str):
    """The vote's own input serializer with ``vote`` / ``prior`` in place of ``lease`` (and no
    ``next``: a correction hands out no unit)."""
    return type(
        name,
        (vote_input,),
        {
            "lease": None,
            "next": None,
            "vote": serializers.IntegerField(
                min_value=1, max_value=MAX_ID, help_text="The first vote, as the undo named it."
            ),
            "prior": serializers.IntegerField(
                min_value=1,
                max_value=MAX_ID,
                required=False,
                help_text="The row the undo filled the form from; a correction made since is "
                "not overwritten (409).",
            ),
        },
    )


def _undo_schema(operation: str):
    return extend_schema(
        request=NoInputSerializer,
        responses={200: UndoOutputSerializer, 404: DetailSerializer, 409: DetailSerializer},
        operation_id=operation,
    )


def _correct_schema(operation: str, request_serializer):
    return extend_schema(
        request=request_serializer,
        # 400 is left undocumented, as on …/vote/: it is the vote's field errors or its rules'.
        responses={201: CorrectOutputSerializer, 404: DetailSerializer, 409: DetailSerializer},
        operation_id=operation,
    )


RankCorrectInput = _correct_input(RankVoteApi.RankVoteInputSerializer, "RankCorrectInput")
RateCorrectInput = _correct_input(RateVoteApi.RateVoteInputSerializer, "RatingCorrectInput")
StepsCorrectInput = _correct_input(StepsVoteApi.StepsVoteInputSerializer, "StepsCorrectInput")


class RankUndoApi(_UndoApi):
    """Take back your last ranking: its set again, your ranking in it (409 after the window)."""

    protocol, doing = "ranking", "rank sets of responses"

    @_undo_schema("rank_undo")
    def post(self, request: Request, slug: str) -> Response:
        return super().post(request, slug)


class RankCorrectApi(_CorrectApi):
    """Correct your last ranking: a new vote pointing at the first (votes are never updated)."""

    protocol, doing, vote_serializer = "ranking", "rank sets of responses", RankCorrectInput

    @_correct_schema("rank_correct", RankCorrectInput)
    def post(self, request: Request, slug: str) -> Response:
        return super().post(request, slug)


class RateUndoApi(_UndoApi):
    """Take back your last rating: its unit again, your scores in it (409 after the window)."""

    protocol, doing = "rating", "rate responses"

    @_undo_schema("rating_undo")
    def post(self, request: Request, slug: str) -> Response:
        return super().post(request, slug)


class RateCorrectApi(_CorrectApi):
    """Correct your last rating: new score rows pointing at the first vote."""

    protocol, doing, vote_serializer = "rating", "rate responses", RateCorrectInput

    @_correct_schema("rating_correct", RateCorrectInput)
    def post(self, request: Request, slug: str) -> Response:
        return super().post(request, slug)


class StepsUndoApi(_UndoApi):
    """Take back your last step labels: the trace again, your labels in it (409 after the
    window)."""

    protocol, doing = "steps", "label steps"

    @_undo_schema("steps_undo")
    def post(self, request: Request, slug: str) -> Response:
        return super().post(request, slug)


class StepsCorrectApi(_CorrectApi):
    """Correct your last step labels: a new vote pointing at the first."""

    protocol, doing, vote_serializer = "steps", "label steps", StepsCorrectInput

    @_correct_schema("steps_correct", StepsCorrectInput)
    def post(self, request: Request, slug: str) -> Response:
        return super().post(request, slug)
