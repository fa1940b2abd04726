"""Live conversations: a rater chats with two anonymous models; each turn becomes a pair.

A conversation (``LiveConversation``) holds two generators drawn when it starts. Each rater message
makes one turn of ordinary pairwise rows, in one transaction:

    Prompt (the shared history through the message, metadata {"live": {conversation, turn}})
    two Candidates (one per generator, PENDING)  ->  Pair (needed 1)  ->  the rater's Assignment
    (left_is_a drawn per turn)  ->  LiveTurn

and, on commit, one ``live_reply_stream`` task per reply (queue "live"). A reply is a kind of
claimable work (``LIVE_REPLIES``, annotate/work):

    pending --claim--> running --stream: a "delta" per chunk to the relay, the text so far saved
       ^                  |      every SAVE_EVERY seconds, a stop request read between chunks-->
       |                  +--> done (Completion: usage, cost, latency, ttft, stop reason; or
       |                  |         stopped by the rater: stop_reason "stopped_by_rater")
       |                  +--> failed (provider error: an "error" event; the page offers retry)
       +-- its worker died (the sweep): claimed again from the start, after a "reset" event;
           failed after ``max_attempts`` (an "error" event: the page offers retry). A half
           reply is never "done".

A done reply is scanned for self-identification (annotate/selfid.py); the campaign's policy
generates it again once ("regenerate"), or keeps it and marks the pair ``excluded`` so the
leaderboard and the exports leave it out ("exclude").

The vote goes through the pairwise vote path (services/judgments.py: same rules, same row), then
names what the conversation continues with: the chosen reply, or for a tie or "both bad" the reply
(or the rewrite) the rater picks. After the last turn's vote the conversation ends; arena mode then
reveals the two model names, and never before.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import regex
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext

from annotate.endpoints import generator_provider_config
from annotate.live import relay, streamer
from annotate.markdown import render_markdown
from annotate.models import (
    Assignment,
    Campaign,
    Candidate,
    Enrollment,
    Generator,
    Judgment,
    LiveConversation,
    LiveReply,
    LiveSettings,
    LiveTurn,
    Pair,
    Prompt,
    User,
)
from annotate.models.live import MAX_BLOCK_ENTRY, MAX_BLOCKLIST
from annotate.providers.base import Completion, ProviderError, provider_for
from annotate.reading import reading_length
from annotate.selfid import self_identifies
from annotate.services import pricing, ratelimit
from annotate.services.generation import request_for
from annotate.services.judgments import VoteRefused, judgment_record
from annotate.services.prompts import conversation_hash, rendered_turns
from annotate.sides import to_stored
from annotate.validation import text_check
from annotate.work import Kind, Outcome, claims

log = logging.getLogger(__name__)

# Seconds between saves of the text so far. A reload replays the reply from the relay, not from
# the row, so the row needs the text only for readers outside the page (and a failed reply's
# part); at 0.5 s, 200 replies streaming at once cost PostgreSQL 0.7 of this machine's 2 cores in
# row rewrites (bench/live.py --source real --battles 100: the added p50 went from 1.4 s to 68 ms
# at 2 s).
SAVE_EVERY = 2.0
STOPPED = "stopped_by_rater"
BLOCK_TIMEOUT = 0.05  # seconds one blocklist pattern may spend on one message
LEASE = timedelta(days=30)  # a turn's lease: the rater's conversation waits for them


# A reply's start (the claim, its reads, the rate limit) and its end (rendering, the
# self-identification scan, the writes): milliseconds of Python each, done by one task thread of
# the process at a time. The process's streaming loop (live/streamer.py) needs the interpreter lock
# for every delta of every reply; when a hundred replies started or ended together it waited its
# turn behind every one of their threads, and the deltas still streaming fell behind by as much.
# Queued here, the starts and ends take turns with the loop alone. They cost the same CPU either
# way (one interpreter lock), so in sum they take about as long.
_one_at_a_time = threading.Lock()


def hand_back_connection() -> None:
    """A reply streams for seconds to minutes with one write every SAVE_EVERY. With psycopg's
    pool (``DB_POOL``, or under ASGI) this thread's connection goes back to the pool in between,
    so a live worker's many threads share a few connections instead of holding one each (without
    a pool the connection stays open: reconnecting at every save would cost more)."""
    if connection.settings_dict.get("OPTIONS", {}).get("pool") and not connection.in_atomic_block:
        connection.close()


def _send(_job, ids: list[int]) -> None:
    """Queue the replies' streams once the current transaction commits (queue "live")."""
    from annotate import tasks

    ids = list(ids)
    transaction.on_commit(lambda: [tasks.live_reply_stream.delay(candidate_id=i) for i in ids])


def _given_up(ids: list[int], message: str) -> None:
    """The sweep gave these replies up (their worker died on each try): the panes reading their
    streams show the failure and the retry, as after a provider error."""
    for reply_id in ids:
        relay.publish(channel(reply_id), "error", {"message": message[:500]})


LIVE_REPLIES = Kind(
    name="live_reply",
    noun="live replies",
    model=LiveReply,
    send=_send,
    created_field="prompt__created_at",  # LiveReply.created_at
    max_attempts=3,
    on_given_up=_given_up,
)


class LiveRefused(ValidationError):
    """What the rater asked cannot be done; ``message`` says why, in their language."""

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message, code=code)
        self.code = code


class BlocklistError(ValueError):
    pass


def channel(candidate_id: int) -> str:
    return f"candidate:{candidate_id}"


# --- settings and the blocklist ------------------------------------------------------------------


def live_settings(*, campaign: Campaign) -> LiveSettings:
    found = LiveSettings.objects.filter(campaign=campaign).first()
    return found or LiveSettings.objects.get_or_create(campaign=campaign)[0]


def blocklist_compile(entries) -> list:
    """The blocklist's patterns: a plain entry is a word or phrase matched whole, in any case; an
    entry written /like this/ is a regular expression (the ``regex`` package: every match runs
    under a time limit, so no pattern can hang a request)."""
    if not isinstance(entries, list):
        raise BlocklistError("The blocklist is a list of words or /patterns/.")
    if len(entries) > MAX_BLOCKLIST:
        raise BlocklistError(f"The blocklist holds at most {MAX_BLOCKLIST} entries.")
    compiled = []
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, str) or not entry.strip():
            raise BlocklistError(f"Entry {i} of the blocklist is empty or not text.")
        entry = entry.strip()
        if len(entry) > MAX_BLOCK_ENTRY:
            raise BlocklistError(f"Entry {i} is longer than {MAX_BLOCK_ENTRY} characters.")
        if len(entry) > 2 and entry.startswith("/") and entry.endswith("/"):
            source = entry[1:-1]
        else:
            source = r"(?<!\w)" + regex.escape(entry) + r"(?!\w)"
        try:
            compiled.append(regex.compile(source, regex.IGNORECASE | regex.V0))
        except regex.error as exc:
            raise BlocklistError(f"Entry {i} ({entry}) is not a valid pattern: {exc}.") from None
    return compiled


def live_settings_save(*, campaign: Campaign, **values) -> LiveSettings:
    """Set a live campaign's settings (the campaign form's live part; validated by the model)."""
    settings = live_settings(campaign=campaign)
    for name, value in values.items():
        setattr(settings, name, value)
    settings.full_clean(exclude=["campaign"])
    settings.save()
    return settings


def blocklist_parse(text: str) -> list[str]:
    """One entry per line (the campaign form's text area)."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _blocked(patterns: list, text: str) -> bool:
    for pattern in patterns:
        try:
            if pattern.search(text, timeout=BLOCK_TIMEOUT):
                return True
        except TimeoutError:
            return True  # a pattern too slow to say no does not let the message through
    return False


# --- reads ---------------------------------------------------------------------------------------


def conversation_for(*, campaign: Campaign, rater: User, conversation_id: int) -> LiveConversation:
    """The rater's own conversation (an admin may read anyone's); LiveConversation.DoesNotExist
    otherwise, which views turn into 404."""
    found = LiveConversation.objects.select_related("generator_a", "generator_b", "campaign")
    found = found.filter(id=conversation_id, campaign=campaign)
    if not rater.is_campaign_admin:
        found = found.filter(rater=rater)
    return found.get()


def reply_for(*, rater: User, candidate_id: int) -> LiveReply:
    """A live reply of one of the rater's conversations (admins: any); DoesNotExist otherwise."""
    found = LiveReply.objects.filter(id=candidate_id)
    if not rater.is_campaign_admin:
        found = found.filter(prompt__live_turn__conversation__rater=rater)
    return found.get()


def active_conversation(*, campaign: Campaign, rater: User) -> LiveConversation | None:
    return (
        LiveConversation.objects.select_related("generator_a", "generator_b")
        .filter(campaign=campaign, rater=rater, status=LiveConversation.Status.ACTIVE)
        .first()
    )


def _usage(replies) -> tuple[int, Decimal]:
    got = replies.aggregate(i=Sum("input_tokens"), o=Sum("output_tokens"), c=Sum("cost_usd"))
    return (got["i"] or 0) + (got["o"] or 0), got["c"] or Decimal("0")


def usage_of_rater(*, campaign: Campaign, rater: User) -> tuple[int, Decimal]:
    return _usage(
        LiveReply.objects.filter(
            prompt__campaign=campaign, prompt__live_turn__conversation__rater=rater
        )
    )


def usage_of_campaign(*, campaign: Campaign) -> tuple[int, Decimal]:
    return _usage(LiveReply.objects.filter(prompt__campaign=campaign))


# --- starting a conversation ---------------------------------------------------------------------


def live_generators(*, campaign: Campaign) -> list[Generator]:
    """The generators that can stream a reply (an imported one has no model to ask)."""
    return list(campaign.generators.exclude(provider=Generator.Provider.IMPORTED).order_by("id"))


def _interval_widths(*, campaign: Campaign, names: list[str]) -> dict[str, float]:
    """Each generator's leaderboard interval width (annotate/analytics/ranking.py over the
    campaign's votes); a generator not on the board yet gets the widest width seen (or 1)."""
    from annotate.analytics.ranking import bradley_terry
    from annotate.selectors.analytics import analytics_vote_rows

    board = bradley_terry(analytics_vote_rows(campaign_id=campaign.id), n_boot=50)
    widths = {row["name"]: max(row["high"] - row["low"], 1e-6) for row in board}
    widest = max(widths.values(), default=1.0)
    return {name: widths.get(name, widest) for name in names}


def generators_draw(*, campaign: Campaign, settings: LiveSettings, rng=random) -> tuple:
    """Two different generators, in a random a/b order: uniformly over the pairs, or with each
    pair weighted by the sum of its two leaderboard interval widths (the public arena's rule: the
    battles that narrow the leaderboard most are drawn most)."""
    gens = live_generators(campaign=campaign)
    if len(gens) < 2:
        raise LiveRefused(
            gettext("This campaign needs two generators before conversations can start."),
            code="generators",
        )
    pairs = [(a, b) for i, a in enumerate(gens) for b in gens[i + 1 :]]
    if settings.draw == LiveSettings.Draw.WIDEST_INTERVALS:
        widths = _interval_widths(campaign=campaign, names=[g.name for g in gens])
        weights = [widths[a.name] + widths[b.name] for a, b in pairs]
        first, second = rng.choices(pairs, weights=weights, k=1)[0]
    else:
        first, second = rng.choice(pairs)
    return (first, second) if rng.random() < 0.5 else (second, first)


def _enrollment_check(*, campaign: Campaign, rater: User) -> None:
    if campaign.status != Campaign.Status.OPEN:
        raise LiveRefused(gettext("This campaign is not open."), code="closed")
    enrollment = Enrollment.objects.filter(campaign=campaign, rater=rater).first()
    if enrollment is None:
        raise LiveRefused(gettext("You are not enrolled in this campaign."), code="enrollment")
    if enrollment.paused:
        raise LiveRefused(gettext("Your rating in this campaign is paused."), code="paused")


def seed_prompts(*, campaign: Campaign):
    """The campaign's own prompts (imported), not the turns its conversations made."""
    return campaign.prompts.filter(live_turn__isnull=True)


def conversation_start(
    *, campaign: Campaign, rater: User, rng=random
) -> tuple[LiveConversation, bool]:
    """The rater's open conversation, or a new one with two generators drawn (and a seed prompt
    when the campaign starts from its prompts). Returns (conversation, created)."""
    if not campaign.is_live:
        raise LiveRefused(gettext("This campaign does not hold live conversations."))
    _enrollment_check(campaign=campaign, rater=rater)
    existing = active_conversation(campaign=campaign, rater=rater)
    if existing is not None:
        return existing, False
    settings = live_settings(campaign=campaign)
    generator_a, generator_b = generators_draw(campaign=campaign, settings=settings, rng=rng)
    seed = None
    if settings.start != LiveSettings.Start.RATER_WRITES:
        ids = list(seed_prompts(campaign=campaign).values_list("id", flat=True))
        if ids:
            seed = Prompt.objects.get(id=rng.choice(ids))
        elif settings.start == LiveSettings.Start.SEED_PROMPT:
            raise LiveRefused(
                gettext("This campaign has no seed prompts yet."), code="seed_prompts"
            )
    try:
        with transaction.atomic():
            conversation = LiveConversation.objects.create(
                campaign=campaign,
                rater=rater,
                generator_a=generator_a,
                generator_b=generator_b,
                seed=seed,
            )
    except Exception:
        # Two tabs starting at once: the one-open-conversation key lets one in; join it.
        existing = active_conversation(campaign=campaign, rater=rater)
        if existing is None:
            raise
        return existing, False
    log.info("live conversation %s: %s vs %s", conversation.id, generator_a, generator_b)
    return conversation, True


# --- sending a message ---------------------------------------------------------------------------


def _history(conversation: LiveConversation) -> tuple[list[dict], str]:
    """The messages so far (through the last turn's continuation) and the system prompt."""
    last = conversation.turn_rows.select_related("prompt").order_by("-index").first()
    if last is None:
        return [], ""
    return [
        *last.prompt.messages,
        {"role": "assistant", "content": last.continuation},
    ], last.prompt.system


def _budget_check(*, campaign: Campaign, rater: User, settings: LiveSettings) -> None:
    if settings.rater_token_budget or settings.rater_usd_budget:
        tokens, usd = usage_of_rater(campaign=campaign, rater=rater)
        if settings.rater_token_budget and tokens >= settings.rater_token_budget:
            raise LiveRefused(
                gettext(
                    "You have used your budget for this campaign (%(used)s of %(budget)s tokens)."
                )
                % {"used": tokens, "budget": settings.rater_token_budget},
                code="budget",
            )
        if settings.rater_usd_budget and usd >= settings.rater_usd_budget:
            raise LiveRefused(
                gettext("You have used your budget for this campaign ($%(used)s of $%(budget)s).")
                % {"used": f"{usd:.2f}", "budget": f"{settings.rater_usd_budget:.2f}"},
                code="budget",
            )
    if settings.campaign_token_budget or settings.campaign_usd_budget:
        tokens, usd = usage_of_campaign(campaign=campaign)
        if (settings.campaign_token_budget and tokens >= settings.campaign_token_budget) or (
            settings.campaign_usd_budget and usd >= settings.campaign_usd_budget
        ):
            raise LiveRefused(
                gettext("This campaign has used its budget; no new messages can be sent."),
                code="budget",
            )


def message_check(*, settings: LiveSettings, text: str) -> str:
    """The message as it will be stored, or LiveRefused saying what is wrong with it."""
    try:
        text = text_check(text, field=gettext("Your message"), max_length=10**6)
    except ValidationError as exc:
        raise LiveRefused(exc.messages[0], code="message") from None
    text = text.strip()
    if not text:
        raise LiveRefused(gettext("Write a message first."), code="message")
    if len(text) > settings.max_message_chars:
        raise LiveRefused(
            gettext("Your message is %(length)s characters long; the limit is %(limit)s.")
            % {"length": len(text), "limit": settings.max_message_chars},
            code="length",
        )
    if _blocked(blocklist_compile(settings.blocklist), text):
        raise LiveRefused(
            gettext("Your message contains a word or phrase this campaign does not allow."),
            code="blocklist",
        )
    return text


def message_send(
    *,
    conversation: LiveConversation,
    rater: User,
    text: str = "",
    use_seed: bool = False,
    rng=random,
) -> LiveTurn:
    """Validate the rater's message (length, blocklist, budgets), create the turn's rows and queue
    both replies. The first message of a conversation with a seed may be the seed itself."""
    campaign = conversation.campaign
    if conversation.rater_id != rater.pk:
        raise LiveRefused(gettext("This is not your conversation."), code="owner")
    if conversation.status != LiveConversation.Status.ACTIVE:
        raise LiveRefused(gettext("This conversation has ended."), code="ended")
    _enrollment_check(campaign=campaign, rater=rater)
    settings = live_settings(campaign=campaign)
    if conversation.turns >= settings.max_turns:
        raise LiveRefused(
            gettext("This conversation has reached its %(n)s turns.") % {"n": settings.max_turns},
            code="turns",
        )
    last = conversation.turn_rows.order_by("-index").first()
    if last is not None and last.voted_at is None:
        raise LiveRefused(
            gettext("Vote on the two replies before writing the next message."), code="vote_first"
        )
    seeded = use_seed and last is None and conversation.seed_id is not None
    if use_seed and not seeded:
        raise LiveRefused(gettext("There is no seed prompt to start from."), code="seed")
    if last is None and settings.start == LiveSettings.Start.SEED_PROMPT and not seeded:
        raise LiveRefused(gettext("This conversation starts from its seed prompt."), code="seed")
    _budget_check(campaign=campaign, rater=rater, settings=settings)
    if seeded:
        seed = conversation.seed
        messages, system = list(seed.messages), seed.system
        text = seed.last_user_text
    else:
        text = message_check(settings=settings, text=text)
        history, system = _history(conversation)
        messages = [*history, {"role": "user", "content": text}]
    index = conversation.turns + 1
    with transaction.atomic():
        locked = LiveConversation.objects.select_for_update().get(id=conversation.id)
        if locked.turns != conversation.turns or locked.status != LiveConversation.Status.ACTIVE:
            raise LiveRefused(gettext("This conversation changed; reload the page."), code="stale")
        digest = hashlib.sha256(
            f"live:{conversation.id}:{index}:"
            f"{conversation_hash(system=system, messages=messages)}".encode()
        ).hexdigest()
        prompt = Prompt.objects.create(
            campaign=campaign,
            messages=messages,
            system=system,
            metadata={"live": {"conversation": conversation.id, "turn": index}},
            content_hash=digest,
            rendered=rendered_turns(messages),
        )
        # generator_a's reply first, so it has the lower id: the pair's candidate_a.
        reply_a = Candidate.objects.create(prompt=prompt, generator=conversation.generator_a)
        reply_b = Candidate.objects.create(prompt=prompt, generator=conversation.generator_b)
        now = timezone.now()
        pair = Pair.objects.create(
            campaign=campaign,
            prompt=prompt,
            candidate_a=reply_a,
            candidate_b=reply_b,
            strategy=Campaign.Pairing.CROSS_GENERATOR,
            needed=1,
            assigned=1,  # the rater's lease, created here: never handed to anyone else
            random_key=rng.random(),
        )
        left_is_a = rng.random() < 0.5
        Assignment.objects.create(
            campaign=campaign,
            pair=pair,
            rater=rater,
            left_is_a=left_is_a,
            created_at=now,
            expires_at=now + LEASE,
        )
        turn = LiveTurn.objects.create(
            conversation=conversation,
            index=index,
            user_message=text,
            prompt=prompt,
            pair=pair,
            reply_a=reply_a,
            reply_b=reply_b,
            left_is_a=left_is_a,
        )
        LiveConversation.objects.filter(id=conversation.id).update(turns=index)
        conversation.turns = index
        _send(None, [reply_a.id, reply_b.id])
    return turn


# --- streaming a reply (the task body) -----------------------------------------------------------


def _conversation_context(candidate: Candidate) -> str:
    prompt = candidate.prompt
    turns = " ".join(m.get("content", "") for m in prompt.messages)
    return f"{prompt.system} {turns} {candidate.generator.system_prompt}"


def _start(candidate_id: int):
    """Claim the reply and take its rate-limit budget: (token, candidate, request, provider,
    budget), or the Outcome that ends the task here."""
    token = claims.claim(LIVE_REPLIES, candidate_id)
    if token is None:
        return Outcome("skipped")
    candidate = Candidate.objects.select_related("prompt", "generator").get(id=candidate_id)
    name = channel(candidate_id)
    if candidate.attempts > 1 or candidate.text:
        # Sent again (its worker died, or it is generated anew): the page starts the pane over.
        claims.held(LIVE_REPLIES, candidate_id, token).update(text="", html="", read_length=0)
        relay.publish(name, "reset", {})
    request = request_for(candidate)
    try:
        config = generator_provider_config(candidate.generator)
        provider = provider_for(config)
    except ProviderError as exc:
        return _failed(candidate_id, token, exc)
    budget = ratelimit.ratelimit_take(
        config=config,
        params=request["params"],
        calls=[(request["messages"], request["system"])],
        requests=1,
    )
    if budget.wait:
        claims.release(LIVE_REPLIES, candidate_id, token)
        return Outcome("retry", retry_in=budget.wait)
    return token, candidate, request, provider, budget


def reply_stream(*, candidate_id: int, clock=time.monotonic) -> Outcome:
    """Claim the reply, stream it from the provider outside any transaction (every chunk to the
    relay, the text so far to the row every SAVE_EVERY seconds, a stop request read between
    chunks), and write the end under the claim."""
    with _one_at_a_time:
        begun = _start(candidate_id)
    if isinstance(begun, Outcome):
        return begun
    token, candidate, request, provider, budget = begun
    name = channel(candidate_id)
    started = clock()
    ttft_ms = None
    end = None
    hand_back_connection()  # the provider's first token can take seconds
    try:
        # Read on the process's streaming loop (live/streamer.py); each delta is published as it
        # comes, and this thread wakes for what it writes: the first token, the text so far, the end.
        reply = streamer.events(provider, request, name, save_every=SAVE_EVERY, clock=clock)
        with contextlib.closing(reply):
            for event in reply:
                if event.kind == "first":
                    ttft_ms = int((event.at - started) * 1000)
                elif event.kind == "save":
                    saved = claims.held(LIVE_REPLIES, candidate_id, token).update(
                        text=event.text, read_length=reading_length(event.text)
                    )
                    if not saved:
                        return Outcome("skipped")  # taken over (our worker was thought dead)
                    hand_back_connection()
                else:
                    end = event
    except Exception as exc:
        budget.settle(used=0)
        return _failed(candidate_id, token, exc)
    # The events end with "end" (or the provider's error, raised above).
    text, completion, stopped = end.text, end.completion, end.stopped
    latency_ms = int((clock() - started) * 1000)
    if completion is None and not stopped:
        budget.settle(used=0)
        return _failed(
            candidate_id, token, ProviderError("The stream ended without a final message.")
        )
    if stopped:
        # What the provider would have billed is unknown: count the words as tokens, roughly.
        completion = Completion(
            text=text,
            stop_reason=STOPPED,
            input_tokens=sum(len(m["content"].split()) for m in request["messages"]),
            output_tokens=len(text.split()),
            latency_ms=latency_ms,
            model=request["model"],
        )
    else:
        text = completion.text or text
    budget.settle(used=completion.input_tokens + completion.output_tokens)
    with _one_at_a_time:
        return _finish(
            candidate, token, completion, text=text, ttft_ms=ttft_ms, latency_ms=latency_ms
        )


def _failed(candidate_id: int, token, exc: Exception) -> Outcome:
    if isinstance(exc, ProviderError):
        message = exc.message
    else:
        log.error("live reply %s: unexpected error", candidate_id, exc_info=exc)
        message = f"Unexpected error: {type(exc).__name__}"
    claims.fail(LIVE_REPLIES, candidate_id, token, message, job_id=None)
    relay.publish(channel(candidate_id), "error", {"message": message[:500]})
    return Outcome("failed")


def _finish(candidate, token, completion: Completion, *, text, ttft_ms, latency_ms) -> Outcome:
    generator = candidate.generator
    price = pricing.price_for(
        provider=generator.provider,
        model=completion.model or generator.model,
        cached_for=("generator", generator.id),
    )
    cost = pricing.cost_usd(
        price=price,
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
        cache_read_tokens=completion.cache_read_tokens,
        cache_write_tokens=completion.cache_write_tokens,
    )
    flagged = self_identifies(text, context=_conversation_context(candidate))
    turn = LiveTurn.objects.select_related("conversation__campaign__live").get(
        prompt_id=candidate.prompt_id
    )
    campaign = turn.conversation.campaign
    policy = (getattr(campaign, "live", None) or live_settings(campaign=campaign)).self_id_policy
    once = "regenerated_a" if candidate.id == turn.reply_a_id else "regenerated_b"
    if flagged and policy == LiveSettings.SelfId.REGENERATE and not getattr(turn, once):
        # Generated again, once: the row goes back to PENDING (its attempt not counted) and the
        # page's pane starts over when the new stream begins.
        with transaction.atomic():
            again = claims.held(LIVE_REPLIES, candidate.id, token).update(
                status=Candidate.Status.PENDING,
                text="",
                html="",
                read_length=0,
                attempts=0,
                claimed_at=None,
            )
            if again:
                LiveTurn.objects.filter(id=turn.id).update(**{once: True})
                _send(None, [candidate.id])
        if again:
            relay.publish(channel(candidate.id), "reset", {})
            log.info("live reply %s named its model; generated again", candidate.id)
            return Outcome("skipped")
        return Outcome("skipped")
    with transaction.atomic():
        written = claims.held(LIVE_REPLIES, candidate.id, token).update(
            status=Candidate.Status.DONE,
            text=text,
            html=render_markdown(text),
            read_length=reading_length(text),
            stop_reason=(completion.stop_reason or "")[:40],
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            cache_read_tokens=completion.cache_read_tokens,
            cache_write_tokens=completion.cache_write_tokens,
            cost_usd=cost,
            latency_ms=completion.latency_ms or latency_ms,
            ttft_ms=ttft_ms,
            request_id=(completion.request_id or "")[:200],
            self_identifies=flagged,
            error="",
            finished_at=timezone.now(),
        )
        if written and flagged:
            # Kept (policy "exclude", or already generated again once): the vote stays, out of
            # the leaderboard and every export.
            Pair.objects.filter(id=turn.pair_id).update(excluded=True)
    if not written:
        return Outcome("skipped")
    relay.publish(
        channel(candidate.id), "end", {"status": "done", "stop_reason": completion.stop_reason}
    )
    return Outcome("done")


# --- the rater's controls on a reply -------------------------------------------------------------


def reply_stop(*, rater: User, candidate_id: int) -> LiveReply:
    """Ask the worker to stop this reply (it is then done, votable, stop_reason
    ``stopped_by_rater``). A reply not started yet stops as soon as it starts."""
    reply = reply_for(rater=rater, candidate_id=candidate_id)
    relay.request_stop(channel(reply.id))
    return reply


def reply_retry(*, rater: User, candidate_id: int) -> LiveReply:
    """A failed reply is generated again from the start (the page offers this beside the error)."""
    reply = reply_for(rater=rater, candidate_id=candidate_id)
    if reply.status != Candidate.Status.FAILED:
        raise LiveRefused(gettext("Only a failed reply can be tried again."), code="retry")
    turn = LiveTurn.objects.select_related("conversation").get(prompt_id=reply.prompt_id)
    if turn.conversation.status != LiveConversation.Status.ACTIVE or turn.voted_at:
        raise LiveRefused(gettext("This turn is over."), code="retry")
    with transaction.atomic():
        LiveReply.objects.filter(id=reply.id, status=Candidate.Status.FAILED).update(
            status=Candidate.Status.PENDING,
            error="",
            text="",
            html="",
            read_length=0,
            attempts=0,
            claimed_at=None,
            claimed_by=None,
            finished_at=None,
        )
        relay.clear(channel(reply.id))
        _send(None, [reply.id])
    reply.refresh_from_db()
    return reply


# --- voting and continuing -----------------------------------------------------------------------


@dataclass(frozen=True)
class Vote:
    choice: str  # shown terms: left | right | tie | both_bad
    strength: int | None = None
    aspects: dict | None = None  # shown terms
    rationale: str = ""
    rewrite: str = ""
    key: str = ""
    continue_with: str = ""  # left | right | rewrite ("" = the chosen reply)


CONTINUE_WITH = ("left", "right", "rewrite")


def _continuation(turn: LiveTurn, vote: Vote, *, final: bool) -> tuple[str, str]:
    """(continued_with in canonical terms a | b | rewrite, the text the conversation continues
    with), or LiveRefused. The last turn continues nowhere: a tie there needs no answer."""
    rewrite = (vote.rewrite or "").strip()
    wanted = vote.continue_with
    if wanted and wanted not in CONTINUE_WITH:
        raise LiveRefused(gettext("Continue with the left reply, the right one or your rewrite."))
    if not wanted:
        if vote.choice in ("left", "right"):
            wanted = vote.choice
        elif final:
            return "", ""
        else:
            raise LiveRefused(
                gettext(
                    "Say which reply the conversation continues from (or your rewrite): "
                    "neither is better."
                ),
                code="continue_with",
            )
    if wanted == "rewrite":
        if not rewrite:
            raise LiveRefused(
                gettext("Write the rewrite to continue from it."), code="continue_with"
            )
        return LiveTurn.Continued.REWRITE, rewrite
    side = to_stored(wanted, left_is_a=turn.left_is_a)
    reply = turn.reply_a if side == "a" else turn.reply_b
    return side, reply.text


def turn_vote(*, turn: LiveTurn, rater: User, vote: Vote) -> Judgment:
    """The rater's vote on the turn's two replies (the pairwise vote path: the campaign's scale,
    aspects, rationale and rewrite rules), and what the conversation continues with. After the
    last turn the conversation ends (and arena mode reveals the names)."""
    conversation = turn.conversation
    campaign = conversation.campaign
    if conversation.rater_id != rater.pk:
        raise LiveRefused(gettext("This is not your conversation."), code="owner")
    if turn.voted_at is not None:
        raise LiveRefused(gettext("This turn already has your vote."), code="voted")
    settings = live_settings(campaign=campaign)
    replies = {c.id: c for c in Candidate.objects.filter(id__in=(turn.reply_a_id, turn.reply_b_id))}
    if any(r.status != Candidate.Status.DONE for r in replies.values()):
        raise LiveRefused(
            gettext("Wait until both replies are finished (or stop them), then vote."),
            code="not_done",
        )
    turn.reply_a, turn.reply_b = replies[turn.reply_a_id], replies[turn.reply_b_id]
    final = turn.index >= settings.max_turns
    continued_with, continuation = _continuation(turn, vote, final=final)
    assignment = Assignment.objects.filter(pair_id=turn.pair_id, rater=rater).first()
    if assignment is None:
        raise LiveRefused(gettext("This turn has no lease; reload the page."))
    now = timezone.now()
    try:
        with transaction.atomic():
            judgment = judgment_record(
                assignment=assignment.id,
                rater=rater,
                campaign=campaign,
                choice=vote.choice,
                strength=vote.strength,
                aspects=vote.aspects,
                rationale=vote.rationale,
                rewrite=vote.rewrite,
                idempotency_key=vote.key,
                in_shown_terms=True,
            )
            updated = LiveTurn.objects.filter(id=turn.id, voted_at__isnull=True).update(
                choice=judgment.choice,
                continued_with=continued_with,
                continuation=continuation,
                voted_at=now,
            )
            if not updated:
                raise LiveRefused(gettext("This turn already has your vote."), code="voted")
            if final:
                _end(conversation, settings=settings, now=now)
    except VoteRefused as refused:
        raise LiveRefused(refused.messages[0], code=refused.code) from None
    turn.refresh_from_db()
    conversation.refresh_from_db()
    return judgment


def _end(conversation: LiveConversation, *, settings: LiveSettings, now) -> None:
    values = {"status": LiveConversation.Status.ENDED, "ended_at": now}
    if settings.arena_reveal:
        values["revealed_at"] = now
    LiveConversation.objects.filter(id=conversation.id).update(**values)


def conversation_end(*, conversation: LiveConversation, rater: User) -> LiveConversation:
    """The rater ends the conversation. A turn left without a vote gives its lease up (its pair
    keeps no vote); replies still streaming are asked to stop."""
    if conversation.rater_id != rater.pk:
        raise LiveRefused(gettext("This is not your conversation."), code="owner")
    if conversation.status != LiveConversation.Status.ACTIVE:
        return conversation
    settings = live_settings(campaign=conversation.campaign)
    now = timezone.now()
    with transaction.atomic():
        for turn in conversation.turn_rows.filter(voted_at__isnull=True):
            for reply_id in (turn.reply_a_id, turn.reply_b_id):
                relay.request_stop(channel(reply_id))
            left = Assignment.objects.filter(
                pair_id=turn.pair_id, rater=rater, status=Assignment.Status.ACTIVE
            ).update(status=Assignment.Status.SKIPPED, skip_reason="conversation ended")
            if left:
                Pair.objects.filter(id=turn.pair_id, assigned__gt=0).update(
                    assigned=F("assigned") - 1
                )
        _end(conversation, settings=settings, now=now)
    conversation.refresh_from_db()
    return conversation


def conversation_reveal(*, conversation: LiveConversation) -> dict | None:
    """The two models' names ({"a": …, "b": …}, canonical), once revealed; None before."""
    if conversation.revealed_at is None:
        return None
    return {"a": conversation.generator_a.model, "b": conversation.generator_b.model}


# --- what the rater's page and the API show ------------------------------------------------------


def _reply_view(reply: Candidate) -> dict:
    return {
        "id": reply.id,
        "status": reply.status,
        "text": reply.text,
        "html": reply.html if reply.status == Candidate.Status.DONE else "",
        "stop_reason": reply.stop_reason,
        "error": reply.error if reply.status == Candidate.Status.FAILED else "",
    }


def conversation_view(*, conversation: LiveConversation) -> dict:
    """The conversation as its rater sees it: turns with the two replies in shown order (left,
    right), the vote in shown terms, the continuation; the model names only once revealed."""
    settings = live_settings(campaign=conversation.campaign)
    turns = list(conversation.turn_rows.select_related("reply_a", "reply_b").order_by("index"))
    out_turns = []
    for turn in turns:
        left, right = (
            (turn.reply_a, turn.reply_b) if turn.left_is_a else (turn.reply_b, turn.reply_a)
        )
        shown_choice = ""
        if turn.choice:
            from annotate.sides import to_shown

            shown_choice = (
                to_shown(turn.choice, left_is_a=turn.left_is_a)
                if turn.choice in ("a", "b")
                else turn.choice
            )
        continued = turn.continued_with
        if continued in ("a", "b"):
            from annotate.sides import to_shown

            continued = to_shown(continued, left_is_a=turn.left_is_a)
        out_turns.append(
            {
                "index": turn.index,
                "user_message": turn.user_message,
                "left": _reply_view(left),
                "right": _reply_view(right),
                "voted": turn.voted_at is not None,
                "final": turn.index >= settings.max_turns,
                "choice": shown_choice,
                "continued_with": continued,
                "continuation": turn.continuation,
            }
        )
    reveal = conversation_reveal(conversation=conversation)
    if reveal is not None:
        for view, turn in zip(out_turns, turns, strict=True):
            view["left"]["model"] = reveal["a"] if turn.left_is_a else reveal["b"]
            view["right"]["model"] = reveal["b"] if turn.left_is_a else reveal["a"]
    last = out_turns[-1] if out_turns else None
    return {
        "id": conversation.id,
        "status": conversation.status,
        "turns": out_turns,
        "max_turns": settings.max_turns,
        "can_send": conversation.status == LiveConversation.Status.ACTIVE
        and conversation.turns < settings.max_turns
        and (last is None or last["voted"]),
        "seed": (
            conversation.seed.last_user_text if conversation.seed_id and not out_turns else ""
        ),
        "start": settings.start,
        "revealed": reveal is not None,
    }
