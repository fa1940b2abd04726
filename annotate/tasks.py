"""Celery tasks: ids in, one service call (imported inside the body), nothing else.

Every task here is idempotent by data (it claims its row with a conditional UPDATE, annotate/work),
so the project runs them with acks_late and reject_on_worker_lost (settings.CELERY_*). Retries are
owned by the services (attempts are counted in the rows, where a redelivered message cannot reset
them, and the backoff honours retry-after); a task only re-schedules itself when told to, hence
``max_retries=None``. Work whose message is lost (a killed worker, an emptied broker) is sent again
by the sweep that the workers themselves run (annotate/work/sweep.py); no beat process is needed.
"""

from __future__ import annotations

from celery import shared_task

# --- generation ---


@shared_task(bind=True, max_retries=None)
def generation_candidate_task(self, *, candidate_id: int) -> None:
    from annotate.services.generation import candidate_generate

    outcome = candidate_generate(candidate_id=candidate_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@shared_task(bind=True, max_retries=None)
def generation_group_task(self, *, candidate_ids: list[int]) -> None:
    from annotate.services.generation import candidates_generate_n

    outcome = candidates_generate_n(candidate_ids=candidate_ids)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@shared_task(bind=True, max_retries=None)
def generation_batch_submit_task(self, *, job_id: int) -> None:
    from annotate.services.generation_batches import batches_submit

    submitted = batches_submit(job_id=job_id)
    if submitted.retry_in is not None:
        raise self.retry(countdown=submitted.retry_in)


@shared_task(bind=True, max_retries=None)
def generation_batch_poll_task(self, *, job_id: int, batch_id: str) -> None:
    from annotate.services.generation_batches import batch_poll

    again_in = batch_poll(job_id=job_id, batch_id=batch_id)
    if again_in is not None:
        raise self.retry(countdown=again_in)


@shared_task
def generation_batch_cancel_task(*, job_id: int, batch_id: str) -> None:
    from annotate.services.generation_batches import batch_cancel

    batch_cancel(job_id=job_id, batch_id=batch_id)


@shared_task
def generation_batch_recover_task(*, job_id: int) -> None:
    from annotate.services.generation_batches import batches_recover

    batches_recover(job_id=job_id)


# --- live conversations ---


# Queue "live" (settings.CELERY_TASK_ROUTES): a threads-pool worker holds many streams at once.
@shared_task(bind=True, max_retries=None)
def live_reply_stream(self, *, candidate_id: int) -> None:
    from annotate.services.live import reply_stream

    outcome = reply_stream(candidate_id=candidate_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


# --- exports ---


# A million-pair export takes minutes; the default 5-minute limit is for provider calls. The export
# kind's stale window is read from this limit (services/exports.py).
@shared_task(soft_time_limit=3600, time_limit=3660)
def export_run_task(*, export_id: int) -> None:
    from annotate.services.exports import export_run

    export_run(export_id=export_id)


# --- analytics ---


# A run over a million votes takes tens of seconds; a claim older than the hard limit is free.
@shared_task(bind=True, soft_time_limit=600, time_limit=660)
def campaign_stats_task(self, *, campaign_id: int) -> None:
    from annotate.services.campaign_stats import stats_refresh

    stats_refresh(campaign_id=campaign_id, claim=self.request.id or "")


# --- AI judge ---


@shared_task(bind=True, max_retries=None)
def judge_verdict_task(self, *, verdict_id: int) -> None:
    from annotate.services.judging import judge_pair_run

    outcome = judge_pair_run(verdict_id=verdict_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@shared_task(bind=True, max_retries=None)
def judge_batch_submit_task(self, *, job_id: int) -> None:
    from annotate.services.judging_batch import judge_batch_submit

    submitted = judge_batch_submit(job_id=job_id)
    if submitted.retry_in is not None:
        raise self.retry(countdown=submitted.retry_in)


@shared_task(bind=True, max_retries=None)
def judge_batch_poll_task(self, *, job_id: int, batch_id: str) -> None:
    from annotate.services.judging_batch import judge_batch_poll

    again_in = judge_batch_poll(job_id=job_id, batch_id=batch_id)
    if again_in is not None:
        raise self.retry(countdown=again_in)


@shared_task
def judge_batch_recover_task(*, job_id: int) -> None:
    from annotate.services.judging_batch import judge_batch_recover

    judge_batch_recover(job_id=job_id)


@shared_task(bind=True, max_retries=None)
def judge_steps_task(self, *, judgement_id: int) -> None:
    from annotate.services.judging_steps import step_judge_run

    outcome = step_judge_run(judgement_id=judgement_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@shared_task(bind=True, max_retries=None)
def judge_ratings_task(self, *, judgement_id: int) -> None:
    from annotate.services.judging_ratings import rating_judge_run

    outcome = rating_judge_run(judgement_id=judgement_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


@shared_task(bind=True, max_retries=None)
def ttc_review_task(self, *, review_id: int) -> None:
    from annotate.services.ttc_reviews import review_run

    outcome = review_run(review_id=review_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)


# --- prompt import ---


@shared_task
def prompts_render_task(*, first_id: int, last_id: int) -> None:
    from annotate.services.prompts import prompts_render

    prompts_render(first_id=first_id, last_id=last_id)


# A million-line file takes about a minute; the default limit is for provider calls.
@shared_task(soft_time_limit=3600, time_limit=3660)
def prompt_import_task(*, import_id: int) -> None:
    from annotate.services.prompt_imports import prompt_import_run

    prompt_import_run(import_id=import_id)


# --- crowd platforms ---


@shared_task
def prolific_poll_task() -> None:
    from annotate.services.prolific_poll import prolific_poll

    prolific_poll()


# --- the "active" ordering ---


@shared_task
def priorities_refresh_task(*, campaign_id: int | None = None) -> None:
    from annotate.models import Campaign
    from annotate.services.priorities import priorities_refresh, priorities_refresh_due

    if campaign_id is None:
        priorities_refresh_due()
        return
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is not None and campaign.ordering == Campaign.Ordering.ACTIVE:
        priorities_refresh(campaign=campaign)


# --- webhooks ---


@shared_task(bind=True, max_retries=None)
def webhook_deliver_task(self, *, delivery_id: int) -> None:
    from annotate.services.webhooks import delivery_send

    wait = delivery_send(delivery_id=delivery_id)
    if wait is not None:
        raise self.retry(countdown=wait)


@shared_task
def webhooks_sweep_task() -> None:
    from annotate.services.webhooks import campaigns_complete_emit, deliveries_resend_lost

    campaigns_complete_emit()
    deliveries_resend_lost()
