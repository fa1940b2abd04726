"""Live conversations through the API: start, send a message, vote, stop, retry, end, read. The
same services as the live page (annotate/views/live.py, annotate/services/live.py), the same rules.

Every operation opens with ``campaign_for_rater`` (enrolled raters; admins may preview) and then
reads only the asker's own conversation (an admin may read any): anyone else gets 404. A campaign
of another protocol answers 409. Replies are given as the rater sees them (left, right), without
model names until the arena reveal; the text streams from the page's event URL
(``/campaigns/<slug>/live/replies/<id>/events/``), and ``text`` here is what is saved so far.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_rater
from annotate.api.ranking import DetailSerializer, wrong_protocol
from annotate.api.serializers import InputSerializer, NoInputSerializer
from annotate.models import Campaign, LiveConversation, LiveReply
from annotate.services import live
from annotate.validation import (
    MAX_ASPECT_NAME,
    MAX_ASPECTS,
    MAX_ID,
    MAX_KEY,
    MAX_RATIONALE,
    MAX_REWRITE,
)


class _ReplySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField(help_text="pending, running, done or failed")
    text = serializers.CharField(
        allow_blank=True, help_text="The text so far (saved every 2 seconds while it streams)."
    )
    stop_reason = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)
    model = serializers.CharField(required=False, help_text="Only after the arena reveal.")


class _TurnSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    user_message = serializers.CharField()
    left = _ReplySerializer()
    right = _ReplySerializer()
    voted = serializers.BooleanField()
    choice = serializers.CharField(allow_blank=True, help_text="left, right, tie or both_bad")
    continued_with = serializers.CharField(allow_blank=True, help_text="left, right or rewrite")
    continuation = serializers.CharField(allow_blank=True)


class ConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    turns = _TurnSerializer(many=True)
    max_turns = serializers.IntegerField()
    can_send = serializers.BooleanField()
    seed = serializers.CharField(allow_blank=True, help_text="The seed prompt to start from.")
    start = serializers.CharField()
    revealed = serializers.BooleanField()


def _body(conversation: LiveConversation) -> dict:
    view = live.conversation_view(conversation=conversation)
    for turn in view["turns"]:
        for side in ("left", "right"):
            turn[side].pop("html", None)
    return view


def _refused(refused: live.LiveRefused) -> Response:
    code = status.HTTP_409_CONFLICT if refused.code in ("ended", "voted", "closed") else 400
    return Response({"detail": refused.messages[0], "code": refused.code}, status=code)


def _not_found() -> Response:
    return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)


def _live(request: Request, slug: str) -> Campaign:
    return campaign_for_rater(request.user, slug)


def _conversation(request: Request, campaign: Campaign, conversation_id: int):
    if not 0 < conversation_id <= MAX_ID:
        return None
    try:
        return live.conversation_for(
            campaign=campaign, rater=request.user, conversation_id=conversation_id
        )
    except LiveConversation.DoesNotExist:
        return None


# 400 is the schema's shared one (annotate/api/schema.py): refused fields, or a refusal's detail.
_RESPONSES = {200: ConversationSerializer, 404: DetailSerializer}


class LiveStartApi(APIView):
    """Start a conversation (two generators drawn), or return the rater's open one."""

    @extend_schema(
        request=NoInputSerializer,
        responses={**_RESPONSES, 201: ConversationSerializer, 409: DetailSerializer},
        operation_id="live_start",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = _live(request, slug)
        NoInputSerializer(data=request.data).is_valid(raise_exception=True)
        if not campaign.is_live:
            return wrong_protocol("hold live conversations")
        try:
            conversation, created = live.conversation_start(campaign=campaign, rater=request.user)
        except live.LiveRefused as refused:
            return _refused(refused)
        return Response(_body(conversation), status=201 if created else 200)


class LiveConversationApi(APIView):
    """A conversation as its rater sees it."""

    @extend_schema(
        responses={200: ConversationSerializer, 404: DetailSerializer, 409: DetailSerializer},
        operation_id="live_conversation",
    )
    def get(self, request: Request, slug: str, conversation_id: int) -> Response:
        campaign = _live(request, slug)
        if not campaign.is_live:
            return wrong_protocol("hold live conversations")
        conversation = _conversation(request, campaign, conversation_id)
        if conversation is None:
            return _not_found()
        return Response(_body(conversation))


class LiveMessageApi(APIView):
    """Send the next message: both replies start streaming (in workers)."""

    class LiveMessageInputSerializer(InputSerializer):
        message = serializers.CharField(
            required=False, allow_blank=True, max_length=200_000, trim_whitespace=False
        )
        use_seed = serializers.BooleanField(
            required=False, default=False, help_text="Open with the conversation's seed prompt."
        )

    @extend_schema(
        request=LiveMessageInputSerializer,
        responses={**_RESPONSES, 201: ConversationSerializer, 409: DetailSerializer},
        operation_id="live_message",
    )
    def post(self, request: Request, slug: str, conversation_id: int) -> Response:
        campaign = _live(request, slug)
        serializer = self.LiveMessageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not campaign.is_live:
            return wrong_protocol("hold live conversations")
        conversation = _conversation(request, campaign, conversation_id)
        if conversation is None:
            return _not_found()
        data = serializer.validated_data
        try:
            live.message_send(
                conversation=conversation,
                rater=request.user,
                text=data.get("message", ""),
                use_seed=data["use_seed"],
            )
        except live.LiveRefused as refused:
            return _refused(refused)
        conversation.refresh_from_db()
        return Response(_body(conversation), status=201)


class LiveVoteApi(APIView):
    """Vote on the open turn (in shown terms: left / right) and say what the conversation
    continues with; a tie or "both bad" needs ``continue_with`` (except on the last turn)."""

    class LiveVoteInputSerializer(InputSerializer):
        turn = serializers.IntegerField(min_value=1, max_value=20)
        choice = serializers.ChoiceField(choices=["left", "right", "tie", "both_bad"])
        strength = serializers.IntegerField(
            required=False, allow_null=True, min_value=0, max_value=3
        )
        aspects = serializers.DictField(
            child=serializers.ChoiceField(choices=["left", "right", "tie"]), required=False
        )
        rationale = serializers.CharField(
            required=False, allow_blank=True, max_length=MAX_RATIONALE
        )
        rewrite = serializers.CharField(required=False, allow_blank=True, max_length=MAX_REWRITE)
        key = serializers.CharField(max_length=MAX_KEY, help_text="An idempotency key.")
        continue_with = serializers.ChoiceField(
            choices=["", "left", "right", "rewrite"], required=False, default=""
        )

        def validate_aspects(self, value: dict) -> dict:
            if len(value) > MAX_ASPECTS or any(len(k) > MAX_ASPECT_NAME for k in value):
                raise serializers.ValidationError("Not one of this campaign's aspects.")
            return value

    @extend_schema(
        request=LiveVoteInputSerializer,
        responses={**_RESPONSES, 409: DetailSerializer},
        operation_id="live_vote",
    )
    def post(self, request: Request, slug: str, conversation_id: int) -> Response:
        campaign = _live(request, slug)
        serializer = self.LiveVoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not campaign.is_live:
            return wrong_protocol("hold live conversations")
        conversation = _conversation(request, campaign, conversation_id)
        if conversation is None:
            return _not_found()
        data = serializer.validated_data
        turn = conversation.turn_rows.filter(index=data["turn"]).first()
        if turn is None:
            return _not_found()
        turn.conversation = conversation
        vote = live.Vote(
            choice=data["choice"],
            strength=data.get("strength"),
            aspects=data.get("aspects") or {},
            rationale=data.get("rationale", ""),
            rewrite=data.get("rewrite", ""),
            key=data["key"],
            continue_with=data["continue_with"],
        )
        try:
            live.turn_vote(turn=turn, rater=request.user, vote=vote)
        except live.LiveRefused as refused:
            return _refused(refused)
        conversation.refresh_from_db()
        return Response(_body(conversation))


class LiveEndApi(APIView):
    """End the conversation (a turn without a vote gives its lease up)."""

    @extend_schema(
        request=NoInputSerializer,
        responses={**_RESPONSES, 409: DetailSerializer},
        operation_id="live_end",
    )
    def post(self, request: Request, slug: str, conversation_id: int) -> Response:
        campaign = _live(request, slug)
        NoInputSerializer(data=request.data).is_valid(raise_exception=True)
        if not campaign.is_live:
            return wrong_protocol("hold live conversations")
        conversation = _conversation(request, campaign, conversation_id)
        if conversation is None:
            return _not_found()
        try:
            live.conversation_end(conversation=conversation, rater=request.user)
        except live.LiveRefused as refused:
            return _refused(refused)
        conversation.refresh_from_db()
        return Response(_body(conversation))


class _ReplyActionApi(APIView):
    action_name = ""

    def _act(self, request: Request, slug: str, reply_id: int) -> Response:
        campaign = _live(request, slug)
        NoInputSerializer(data=request.data).is_valid(raise_exception=True)
        if not campaign.is_live:
            return wrong_protocol("hold live conversations")
        if not 0 < reply_id <= MAX_ID:
            return _not_found()
        try:
            action = live.reply_stop if self.action_name == "stop" else live.reply_retry
            reply = action(rater=request.user, candidate_id=reply_id)
        except LiveReply.DoesNotExist:
            return _not_found()
        except live.LiveRefused as refused:
            return _refused(refused)
        return Response({"id": reply.id, "status": reply.status}, status=202)


class _ReplyStateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()


class LiveStopApi(_ReplyActionApi):
    """Ask the worker to stop a reply: it ends as done, stop_reason "stopped_by_rater"."""

    action_name = "stop"

    @extend_schema(
        request=NoInputSerializer,
        responses={
            202: _ReplyStateSerializer,
            404: DetailSerializer,
            409: DetailSerializer,
        },
        operation_id="live_stop",
    )
    def post(self, request: Request, slug: str, reply_id: int) -> Response:
        return self._act(request, slug, reply_id)


class LiveRetryApi(_ReplyActionApi):
    """Generate a failed reply again from the start."""

    action_name = "retry"

    @extend_schema(
        request=NoInputSerializer,
        responses={
            202: _ReplyStateSerializer,
            404: DetailSerializer,
            409: DetailSerializer,
        },
        operation_id="live_retry",
    )
    def post(self, request: Request, slug: str, reply_id: int) -> Response:
        return self._act(request, slug, reply_id)
