"""The live conversation page: the rater chats with two anonymous models, both replies stream in
side by side, the rater votes and the conversation continues (annotate/services/live.py).

GET shows the rater's open conversation (or a button to start one: no GET changes anything). The
actions are plain form POSTs that redirect back (start, send, vote, retry, end; stop also answers
a fetch with 204). Each streaming reply's pane reads ``…/live/replies/<id>/events/``, an async view
that returns the relay's Server-Sent Events (annotate/live/relay.py): a reload replays the reply
from its first token and keeps streaming. Every view opens with ``campaign_for_rater`` and then
reads only the asker's own conversation (admins: any); model names reach the page only after the
reveal.
"""

from __future__ import annotations

import uuid

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from annotate.access import campaign_for_rater
from annotate.live import relay
from annotate.models import Assignment, Campaign, LiveConversation, LiveReply, LiveTurn
from annotate.services import live
from annotate.validation import id_parse
from annotate.views.rate_support import parse_vote
from annotate.views.scale_keys import aspect_keys, scale_verdicts

TEMPLATE = "annotate/live.html"
JS_STRINGS = {
    "waiting": gettext_lazy("Waiting for a worker…"),
    "writing": gettext_lazy("Writing…"),
    "stopped": gettext_lazy("Stopped"),
    "failed": gettext_lazy("This reply failed"),
    "lost": gettext_lazy("The connection was lost; reconnecting…"),
}


def _live_campaign(request: HttpRequest, slug: str) -> Campaign:
    campaign = campaign_for_rater(request.user, slug)
    if not campaign.is_live:
        raise Http404("Not a live campaign")
    return campaign


def _conversation(request: HttpRequest, campaign: Campaign) -> LiveConversation:
    conversation_id = id_parse(request.POST.get("conversation", ""))
    if not conversation_id:
        raise Http404("No such conversation")
    try:
        return live.conversation_for(
            campaign=campaign, rater=request.user, conversation_id=conversation_id
        )
    except LiveConversation.DoesNotExist:
        raise Http404("No such conversation") from None


def _back(request: HttpRequest, campaign: Campaign, error: str = "") -> HttpResponse:
    if error:
        messages.error(request, error)
    return redirect("annotate:live", slug=campaign.slug)


@login_required
@require_GET
def live_page(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _live_campaign(request, slug)
    settings = live.live_settings(campaign=campaign)
    conversation = live.active_conversation(campaign=campaign, rater=request.user)
    last_ended = None
    if conversation is None:
        last_ended = (
            LiveConversation.objects.select_related("generator_a", "generator_b")
            .filter(campaign=campaign, rater=request.user, status=LiveConversation.Status.ENDED)
            .order_by("-id")
            .first()
        )
    shown = conversation or last_ended
    view = live.conversation_view(conversation=shown) if shown is not None else None
    open_turn = None
    if conversation is not None and view["turns"] and not view["turns"][-1]["voted"]:
        open_turn = view["turns"][-1]
        open_turn["ready"] = all(open_turn[side]["status"] == "done" for side in ("left", "right"))
        open_turn["failed"] = any(
            open_turn[side]["status"] == "failed" for side in ("left", "right")
        )
        open_turn["assignment"] = (
            Assignment.objects.filter(
                pair__live_turn__conversation=conversation,
                pair__live_turn__index=open_turn["index"],
            )
            .values_list("id", flat=True)
            .first()
        )
    ctx = {
        "campaign": campaign,
        "settings": settings,
        "conversation": conversation,
        "view": view,
        "ended": last_ended,
        "open_turn": open_turn,
        "verdicts": scale_verdicts(campaign),
        "aspects": aspect_keys(campaign),
        "idempotency_key": uuid.uuid4().hex,
        "js_strings": JS_STRINGS,
        "draft": request.session.pop("live_draft", ""),
    }
    return render(request, TEMPLATE, ctx)


@login_required
@require_POST
def live_start(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _live_campaign(request, slug)
    try:
        live.conversation_start(campaign=campaign, rater=request.user)
    except live.LiveRefused as refused:
        return _back(request, campaign, refused.messages[0])
    return _back(request, campaign)


@login_required
@require_POST
def live_send(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _live_campaign(request, slug)
    conversation = _conversation(request, campaign)
    try:
        live.message_send(
            conversation=conversation,
            rater=request.user,
            text=request.POST.get("message", ""),
            use_seed=request.POST.get("use_seed") == "1",
        )
    except live.LiveRefused as refused:
        messages.error(request, refused.messages[0])
        request.session["live_draft"] = request.POST.get("message", "")[:20_000]
        return redirect("annotate:live", slug=campaign.slug)
    request.session.pop("live_draft", None)
    return _back(request, campaign)


def _turn(conversation: LiveConversation, request: HttpRequest) -> LiveTurn:
    index = id_parse(request.POST.get("turn", ""))
    turn = conversation.turn_rows.select_related("reply_a", "reply_b").filter(index=index or 0)
    turn = turn.first()
    if turn is None:
        raise Http404("No such turn")
    turn.conversation = conversation
    return turn


def vote_from_form(data, *, campaign: Campaign) -> tuple[live.Vote | None, str]:
    """The vote form (the pairwise page's fields and rules: annotate/views/rate_support.py) plus
    ``continue_with``; (vote, "") or (None, what is wrong)."""
    parsed = parse_vote(data, campaign=campaign)
    if parsed.error:
        return None, parsed.error
    return (
        live.Vote(
            choice=parsed.choice,
            strength=parsed.strength,
            aspects=parsed.aspects,
            rationale=parsed.rationale,
            rewrite=parsed.rewrite,
            key=parsed.key,
            continue_with=data.get("continue_with", ""),
        ),
        "",
    )


@login_required
@require_POST
def live_vote(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _live_campaign(request, slug)
    conversation = _conversation(request, campaign)
    turn = _turn(conversation, request)
    vote, error = vote_from_form(request.POST, campaign=campaign)
    if vote is None:
        return _back(request, campaign, error)
    try:
        live.turn_vote(turn=turn, rater=request.user, vote=vote)
    except live.LiveRefused as refused:
        return _back(request, campaign, refused.messages[0])
    return _back(request, campaign)


def _reply_id(request: HttpRequest) -> int:
    reply_id = id_parse(request.POST.get("reply", ""))
    if not reply_id:
        raise Http404("No such reply")
    return reply_id


@login_required
@require_POST
def live_stop(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _live_campaign(request, slug)
    try:
        live.reply_stop(rater=request.user, candidate_id=_reply_id(request))
    except LiveReply.DoesNotExist:
        raise Http404("No such reply") from None
    if request.headers.get("X-Live-Fetch"):
        return HttpResponse(status=204)
    return _back(request, campaign)


@login_required
@require_POST
def live_retry(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _live_campaign(request, slug)
    try:
        live.reply_retry(rater=request.user, candidate_id=_reply_id(request))
    except LiveReply.DoesNotExist:
        raise Http404("No such reply") from None
    except live.LiveRefused as refused:
        return _back(request, campaign, refused.messages[0])
    return _back(request, campaign)


@login_required
@require_POST
def live_end(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _live_campaign(request, slug)
    conversation = _conversation(request, campaign)
    try:
        live.conversation_end(conversation=conversation, rater=request.user)
    except live.LiveRefused as refused:
        return _back(request, campaign, refused.messages[0])
    return _back(request, campaign)


def _reply_of(user, slug: str, candidate_id: int) -> LiveReply:
    campaign = campaign_for_rater(user, slug)
    if not campaign.is_live or not id_parse(candidate_id):
        raise Http404("Not a live campaign")
    try:
        return live.reply_for(rater=user, candidate_id=candidate_id)
    except LiveReply.DoesNotExist:
        raise Http404("No such reply") from None


@login_required
async def live_events(request: HttpRequest, slug: str, candidate_id: int) -> HttpResponse:
    """The reply's events as Server-Sent Events, from its first (or after ``Last-Event-ID``)."""
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    user = await request.auser()
    reply = await sync_to_async(_reply_of)(user, slug, candidate_id)
    # The relay resumes after the browser's Last-Event-ID, and answers 204 once the reply ended.
    return relay.sse_response(request, live.channel(reply.id))
