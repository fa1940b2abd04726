"""Webhooks (annotate/services/webhooks.py, annotate/api/webhooks.py): admins add them; export and
campaign events are POSTed signed to a real receiver on 127.0.0.1, retried on 5xx and network
errors, failed at once on other refusals, sent again when a worker lost them; a real worker too."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from annotate.models import Export, Webhook, WebhookDelivery
from annotate.services import webhooks as service
from annotate.services.exports import export_create
from tests import factories
from tests.api.test_campaign_api import _api
from tests.exports.builders import campaign_with_votes
from tests.fakes.receiver import receiver_start

SECRET = "whsec-tests-only"


@pytest.fixture
def receiver():
    receiver, server = receiver_start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def secret(settings):
    settings.WEBHOOK_SECRET = SECRET


def _url(campaign) -> str:
    return f"/api/campaigns/{campaign.slug}/webhooks/"


def _hook(campaign, receiver, events=("export.done", "export.failed", "campaign.complete")):
    return Webhook.objects.create(campaign=campaign, url=receiver.url, events=list(events))


def test_an_admin_adds_lists_and_removes_a_webhook(campaign, admin_user):
    api = _api(admin_user)
    made = api.post(
        _url(campaign),
        {"url": "https://hooks.example.org/annotate", "events": ["export.done"]},
        format="json",
    )
    assert made.status_code == 201, made.json()
    listed = api.get(_url(campaign)).json()
    assert [(h["url"], h["events"], h["deliveries"]) for h in listed] == [
        ("https://hooks.example.org/annotate", ["export.done"], [])
    ]
    gone = api.delete(f"{_url(campaign)}{made.json()['id']}/")
    assert gone.status_code == 204 and not Webhook.objects.exists()
    assert api.delete(f"{_url(campaign)}{made.json()['id']}/").status_code == 404


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"url": "ftp://example.org/x", "events": ["export.done"]}, "http or https"),
        ({"url": "https://user:pw@example.org/x", "events": ["export.done"]}, "password"),
        ({"url": "not a url", "events": ["export.done"]}, "http or https"),
        ({"url": "https://example.org/x", "events": ["export.maybe"]}, "events"),
        ({"url": "https://example.org/x", "events": []}, "events"),
        ({"url": "https://example.org/x", "events": ["export.done"], "secret": "s"}, "secret"),
        ({"url": "https://example.org/" + "x" * 600, "events": ["export.done"]}, "url"),
        ({"url": "https://example.org/\x00", "events": ["export.done"]}, "url"),
    ],
)
def test_what_it_refuses(campaign, admin_user, body, says):
    response = _api(admin_user).post(_url(campaign), body, format="json")
    assert response.status_code == 400 and says in response.content.decode()
    assert not Webhook.objects.exists()


def test_no_webhook_without_a_secret_to_sign_with(campaign, admin_user, settings):
    settings.WEBHOOK_SECRET = ""
    body = {"url": "https://example.org/x", "events": ["export.done"]}
    response = _api(admin_user).post(_url(campaign), body, format="json")
    assert response.status_code == 400 and "WEBHOOK_SECRET" in response.content.decode()


def test_the_same_url_twice_is_refused(campaign, admin_user):
    body = {"url": "https://example.org/x", "events": ["export.done"]}
    api = _api(admin_user)
    assert api.post(_url(campaign), body, format="json").status_code == 201
    again = api.post(_url(campaign), body, format="json")
    assert again.status_code == 400 and "already" in again.content.decode()


def test_only_admins_of_the_campaign_manage_webhooks(campaign, researcher, rater, outsider):
    body = {"url": "https://example.org/x", "events": ["export.done"]}
    assert _api(researcher).post(_url(campaign), body, format="json").status_code == 403
    assert _api(researcher).get(_url(campaign)).status_code == 403
    assert _api(rater).get(_url(campaign)).status_code == 403
    assert _api(outsider).get(_url(campaign)).status_code in (403, 404)
    assert _api().get(_url(campaign)).status_code == 401


def test_a_finished_export_is_posted_signed_to_the_receiver(
    campaign, researcher, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    from annotate import tasks
    from annotate.services.exports import export_run

    campaign_with_votes(campaign)
    hook = _hook(campaign, receiver)
    sent = []
    monkeypatch.setattr(tasks.webhook_deliver_task, "delay", lambda **kw: sent.append(kw))
    export = export_create(campaign=campaign, actor=researcher, format="raw-jsonl", filters={})
    with django_capture_on_commit_callbacks(execute=True):
        export_run(export_id=export.pk)
    export.refresh_from_db()
    assert export.status == "done"
    (delivery,) = WebhookDelivery.objects.filter(webhook=hook)
    assert sent == [{"delivery_id": delivery.id}] and delivery.event == "export.done"
    assert service.delivery_send(delivery_id=delivery.id) is None
    (got,) = receiver.received
    assert got.headers["x-annotate-event"] == "export.done"
    assert got.headers["x-annotate-delivery"] == str(delivery.id)
    assert service.signature_valid(got.body, got.headers["x-annotate-signature"], secret=SECRET)
    assert not service.signature_valid(got.body, got.headers["x-annotate-signature"], secret="x")
    assert not service.signature_valid(
        got.body + b" ", got.headers["x-annotate-signature"], secret=SECRET
    )
    payload = json.loads(got.body)
    assert (payload["id"], payload["campaign"], payload["data"]["export"]) == (
        delivery.id, campaign.slug, export.id,
    )  # fmt: skip
    assert payload["data"]["row_count"] == export.row_count > 0
    assert payload["data"]["download"] == f"/api/exports/{export.id}/download/"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_status, delivery.attempts) == ("done", 200, 1)


def _delivery(campaign, receiver, event="export.done"):
    hook = _hook(campaign, receiver)
    return WebhookDelivery.objects.create(
        webhook=hook, event=event, payload={"id": 1, "event": event}
    )


def test_a_5xx_is_tried_again_later_and_then_delivered(campaign, receiver):
    receiver.statuses = [503, 502]
    delivery = _delivery(campaign, receiver)
    assert service.delivery_send(delivery_id=delivery.id) == 10.0
    assert service.delivery_send(delivery_id=delivery.id) == 20.0
    assert service.delivery_send(delivery_id=delivery.id) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(receiver.received)) == ("done", 3, 3)


def test_a_refusal_or_a_redirect_fails_at_once(campaign, receiver):
    receiver.statuses = [404]
    delivery = _delivery(campaign, receiver)
    assert service.delivery_send(delivery_id=delivery.id) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_status) == ("failed", 404)
    assert "answered 404" in delivery.error
    receiver.statuses = [302]
    other = WebhookDelivery.objects.create(
        webhook=delivery.webhook, event="export.done", payload={}
    )
    service.delivery_send(delivery_id=other.id)
    other.refresh_from_db()
    assert (other.status, other.response_status, len(receiver.received)) == ("failed", 302, 2)


def test_an_unreachable_receiver_is_tried_up_to_the_limit(campaign, receiver, monkeypatch):
    delivery = _delivery(campaign, receiver)
    Webhook.objects.filter(pk=delivery.webhook_id).update(url="http://127.0.0.1:9/closed")
    waits = [service.delivery_send(delivery_id=delivery.id) for _ in range(service.MAX_ATTEMPTS)]
    assert waits[:3] == [10.0, 20.0, 40.0] and waits[-1] is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", service.MAX_ATTEMPTS)
    assert "Could not reach" in delivery.error


def test_a_delivery_lost_with_a_killed_worker_is_sent_again(campaign, receiver, monkeypatch):
    delivery = _delivery(campaign, receiver)
    # Claimed by a worker that died before recording the try.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        claimed_at=timezone.now() - timedelta(minutes=5),
        next_at=timezone.now() - timedelta(minutes=5),
        attempts=1,
    )
    sent = []
    from annotate import tasks

    monkeypatch.setattr(tasks.webhook_deliver_task, "delay", lambda **kw: sent.append(kw))
    assert service.deliveries_resend_lost() == 1 and sent == [{"delivery_id": delivery.pk}]
    assert service.delivery_send(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("done", 2)
    # A try in progress (claimed a moment ago) is left to its worker.
    fresh = WebhookDelivery.objects.create(
        webhook=delivery.webhook,
        event="export.failed",
        payload={},
        claimed_at=timezone.now(),
        next_at=timezone.now() - timedelta(minutes=5),
    )
    assert service.deliveries_resend_lost() == 0
    assert service.delivery_send(delivery_id=fresh.pk) is None  # not ours: claimed elsewhere
    assert len(receiver.received) == 1


def test_campaign_complete_is_sent_once(campaign, receiver, monkeypatch):
    from annotate import tasks

    monkeypatch.setattr(tasks.webhook_deliver_task, "delay", lambda **kw: None)
    pair = factories.PairFactory(campaign=campaign)
    hook = _hook(campaign, receiver, events=["campaign.complete"])
    assert service.campaigns_complete_emit() == 0  # the pair wants votes
    type(pair).objects.filter(pk=pair.pk).update(completed=pair.needed, assigned=pair.needed)
    assert service.campaigns_complete_emit() == 1
    assert service.campaigns_complete_emit() == 0
    (delivery,) = hook.deliveries.all()
    assert delivery.payload["data"] == {"protocol": "pairwise", "units": 1}


@pytest.mark.slow
def test_a_real_worker_delivers_an_export_event(
    transactional_db, redis_app, campaign, researcher, receiver
):
    campaign_with_votes(campaign)
    _hook(campaign, receiver, events=["export.done"])
    with start_worker(redis_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        export = export_create(
            campaign=campaign, actor=researcher, format="trl-dpo-conversational", filters={}
        )
        assert receiver.arrived.wait(60), "no webhook arrived"
    (got,) = receiver.received
    payload = json.loads(got.body)
    assert payload["event"] == "export.done" and payload["data"]["export"] == export.pk
    assert payload["data"]["row_count"] == Export.objects.get(pk=export.pk).row_count > 0
    assert service.signature_valid(got.body, got.headers["x-annotate-signature"], secret=SECRET)
    deadline = time.monotonic() + 10
    while WebhookDelivery.objects.get().status != "done" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert WebhookDelivery.objects.get().status == "done"
