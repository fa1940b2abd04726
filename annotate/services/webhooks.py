"""Webhooks: a campaign's events (an export done or failed, the campaign complete) POSTed as signed
JSON to the URLs its admins named, by the workers, with retries.

Delivery is at least once: a receiver may see an event twice (a worker killed after the POST and
before recording it), so every request names its delivery (``X-Annotate-Delivery``) for the
receiver to drop repeats. The body is signed with HMAC-SHA256 under ``WEBHOOK_SECRET`` (from the
environment, shared with the receivers; never stored or logged):

    X-Annotate-Signature: t=<unix seconds>,v1=<hex of HMAC(secret, f"{t}.{body}")>

so a receiver checks the signature over the raw body and refuses an old ``t`` (replays). A 2xx
answer delivers; 408, 429, 5xx and network errors are tried again after 10 s, 20 s, 40 s … (at most
an hour apart) up to ``MAX_ATTEMPTS``; any other answer fails at once (the receiver refused it), as
does a redirect (not followed: the admin named this URL). Each try is recorded on its
``WebhookDelivery`` row, which the campaign's webhook list shows. A message lost with a worker is
sent again by ``deliveries_resend_lost`` (the workers' periodic keeper), as is "campaign.complete",
found there once every unit of an open campaign has its votes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from annotate.models import (
    Campaign,
    CandidateSet,
    Export,
    Pair,
    User,
    Webhook,
    WebhookDelivery,
)
from annotate.models.webhooks import EVENTS

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
TIMEOUT_SECONDS = 10.0
CLAIM_STALE = timedelta(seconds=60)  # a try that has not been recorded by then was lost
MAX_WEBHOOKS = 10  # per campaign
RETRY_STATUS = {408, 429}


class WebhookRefused(Exception):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def _secret() -> str:
    return getattr(settings, "WEBHOOK_SECRET", "") or ""


def signature(body: bytes, *, timestamp: int, secret: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def signature_valid(body: bytes, header: str, *, secret: str, tolerance: int = 300) -> bool:
    """What a receiver does (documented, and used by the tests): the header's MAC over the raw body
    under the shared secret, and a timestamp within ``tolerance`` seconds."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = signature(body, timestamp=timestamp, secret=secret)
    return hmac.compare_digest(expected, header)


# --- the admin's settings -------------------------------------------------------------------------


def webhook_create(*, campaign: Campaign, actor: User | None, url: str, events: list) -> Webhook:
    errors: dict[str, str] = {}
    if not _secret():
        errors["url"] = (
            "Set WEBHOOK_SECRET in the environment of the web server and the workers first: "
            "every payload is signed with it."
        )
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
        if len(url) > 500:
            raise ValidationError("too long")
        if urlsplit(url).username or urlsplit(url).password:
            errors["url"] = "Put no user name or password in the URL (they would be stored)."
    except ValidationError:
        errors["url"] = "An http or https URL of at most 500 characters."
    if (
        not isinstance(events, list)
        or not events
        or not all(isinstance(e, str) and e in EVENTS for e in events)
    ):
        errors["events"] = f"One or more of: {', '.join(EVENTS)}."
    if not errors and campaign.webhooks.count() >= MAX_WEBHOOKS:
        errors["url"] = f"A campaign has at most {MAX_WEBHOOKS} webhooks."
    if errors:
        raise WebhookRefused(errors)
    try:
        with transaction.atomic():
            return Webhook.objects.create(
                campaign=campaign, url=url, events=sorted(set(events)), created_by=actor
            )
    except IntegrityError:
        raise WebhookRefused({"url": "This campaign already sends to this URL."}) from None


def webhook_delete(*, campaign: Campaign, webhook_id: int) -> bool:
    return bool(Webhook.objects.filter(campaign=campaign, id=webhook_id).delete()[0])


# --- events ---------------------------------------------------------------------------------------


def _payload(delivery_id: int, event: str, campaign: Campaign, data: dict) -> dict:
    return {
        "id": delivery_id,
        "event": event,
        "campaign": campaign.slug,
        "created_at": timezone.now().isoformat(),
        "data": data,
    }


def webhooks_emit(*, campaign: Campaign, event: str, data: dict) -> list[int]:
    """Record one delivery per webhook of the campaign that wants ``event`` and send them once the
    caller's transaction commits. Returns the delivery ids."""
    ids = []
    for hook in Webhook.objects.filter(campaign=campaign):
        if event not in hook.events:
            continue
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(webhook=hook, event=event, payload={})
                delivery.payload = _payload(delivery.id, event, campaign, data)
                delivery.save(update_fields=["payload"])
        except IntegrityError:  # campaign.complete, already recorded
            continue
        ids.append(delivery.id)
    if ids:
        from annotate.tasks import webhook_deliver_task

        transaction.on_commit(lambda: [webhook_deliver_task.delay(delivery_id=i) for i in ids])
    return ids


def export_finished(export: Export) -> None:
    """An export's event (done or failed), for the campaign's webhooks; never raises."""
    try:
        export.refresh_from_db()
        if export.status not in (Export.Status.DONE, Export.Status.FAILED):
            return  # taken over by another build, which will say how it ended
        event = "export.done" if export.status == Export.Status.DONE else "export.failed"
        webhooks_emit(
            campaign=export.campaign,
            event=event,
            data={
                "export": export.id,
                "format": export.format,
                "status": export.status,
                "row_count": export.row_count,
                "sha256": export.sha256,
                "error": export.error,
                "download": f"/api/exports/{export.id}/download/"
                if export.status == Export.Status.DONE
                else None,
            },
        )
    except Exception:  # a webhook must never break an export
        log.exception("webhooks for export %s", export.id)


# --- sending --------------------------------------------------------------------------------------


def _claim(delivery_id: int) -> WebhookDelivery | None:
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_STALE),
        id=delivery_id,
        status=WebhookDelivery.Status.PENDING,
    ).update(claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("webhook").get(id=delivery_id)


def _backoff(attempts: int) -> float:
    return min(10.0 * 2 ** (attempts - 1), 3600.0)


def delivery_send(*, delivery_id: int, client: httpx.Client | None = None) -> float | None:
    """One try. Returns the seconds until the next try, or None when there is none (delivered,
    failed, or not ours to send)."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    secret = _secret()
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    status, error, retry = None, "", False
    if not secret:
        error = "WEBHOOK_SECRET is not set in this worker's environment."
    else:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "annotate-webhooks/1",
            "X-Annotate-Event": delivery.event,
            "X-Annotate-Delivery": str(delivery.id),
            "X-Annotate-Signature": signature(body, timestamp=int(time.time()), secret=secret),
        }
        own = client is None
        client = client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
        try:
            response = client.post(delivery.webhook.url, content=body, headers=headers)
            status = response.status_code
            retry = status in RETRY_STATUS or status >= 500
            if not 200 <= status < 300:
                error = f"The receiver answered {status}."
        except httpx.HTTPError as exc:
            error, retry = f"Could not reach the receiver: {type(exc).__name__}.", True
        finally:
            if own:
                client.close()
    now = timezone.now()
    fields = {"claimed_at": None, "response_status": status, "error": error[:500]}
    if status is not None and 200 <= status < 300:
        fields.update(status=WebhookDelivery.Status.DONE, delivered_at=now)
        wait = None
    elif retry and delivery.attempts < MAX_ATTEMPTS:
        wait = _backoff(delivery.attempts)
        fields.update(next_at=now + timedelta(seconds=wait))
    else:
        fields.update(status=WebhookDelivery.Status.FAILED)
        wait = None
    WebhookDelivery.objects.filter(id=delivery.id, status=WebhookDelivery.Status.PENDING).update(
        **fields
    )
    return wait


def deliveries_resend_lost(*, now=None) -> int:
    """Send again the pending deliveries whose try is overdue by a minute (their message went with
    a killed worker or a restarted broker). Returns how many."""
    now = now or timezone.now()
    lost = list(
        WebhookDelivery.objects.filter(
            Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_STALE),
            status=WebhookDelivery.Status.PENDING,
            next_at__lt=now - CLAIM_STALE,
        ).values_list("id", flat=True)[:1000]
    )
    if lost:
        from annotate.tasks import webhook_deliver_task

        for delivery_id in lost:
            webhook_deliver_task.delay(delivery_id=delivery_id)
    return len(lost)


def campaigns_complete_emit() -> int:
    """ "campaign.complete" for every open campaign with a webhook that wants it whose units (pairs,
    or candidate sets) all have their votes, sent once per webhook. Returns how many were found."""
    wanting = Campaign.objects.filter(
        status=Campaign.Status.OPEN,
        webhooks__isnull=False,
        protocol__in=[
            Campaign.Protocol.PAIRWISE,
            Campaign.Protocol.RANKING,
            Campaign.Protocol.RATING,
            Campaign.Protocol.STEPS,
        ],
    ).distinct()
    found = 0
    for campaign in wanting:
        units = (CandidateSet if campaign.uses_sets else Pair).objects.filter(campaign=campaign)
        if not units.exists() or units.filter(completed__lt=F("needed")).exists():
            continue
        if all(
            "campaign.complete" not in hook.events
            or hook.deliveries.filter(event="campaign.complete").exists()
            for hook in campaign.webhooks.all()
        ):
            continue
        found += 1
        webhooks_emit(
            campaign=campaign,
            event="campaign.complete",
            data={"protocol": campaign.protocol, "units": units.count()},
        )
    return found
