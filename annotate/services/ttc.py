"""Test-time compute: the campaign's answer rule, final answers beside each sample, and the
best-of-N choices per prompt (the methods and their rules: annotate/analytics/ttc.py).

* ``ttc_config_update`` — the answer rule, its pattern, the reference key and whether raters may
  open reasoning traces; a changed rule extracts every answer again.
* ``answers_extract`` — samples whose answer was found under another rule (or never) get one now:
  by annotate/answers.py's rule, or, under the judge rule, from the judge's finished reviews
  (services/ttc_reviews.py). Run after each generation job and whenever the rule changes.
* ``best_of_n_select`` — every method's pick (and the sample it likes least) for every
  (prompt, generator), replacing the campaign's previous choices in one transaction.
"""

from __future__ import annotations

import logging
import re

from django.db import transaction
from django.db.models.functions import Length
from django.utils import timezone

from annotate.analytics import ttc
from annotate.answers import PatternError, PatternTimeout, compile_pattern, extract_answer
from annotate.models import BestOfNChoice, Campaign, Candidate, CandidateReview, TTCConfig, User
from annotate.selectors import ttc as ttc_reads

log = logging.getLogger(__name__)

EXTRACT_CHUNK = 2000
_REFERENCE_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class TTCRefused(Exception):
    """A setting or request the campaign cannot take; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def ttc_config_update(
    *,
    campaign: Campaign,
    actor: User | None,
    answer_rule: str,
    answer_pattern: str = "",
    reference_key: str = "",
    reasoning_for_raters: bool | None = None,
) -> TTCConfig:
    """Validate and save the settings, then extract the answers not read under the rule yet."""
    errors: dict[str, str] = {}
    if answer_rule not in TTCConfig.Rule.values:
        errors["answer_rule"] = f"Choose one of: {', '.join(TTCConfig.Rule.values)}."
    answer_pattern = (answer_pattern or "").strip() if answer_rule == "regex" else ""
    if answer_rule == "regex":
        try:
            compile_pattern(answer_pattern)
            _pattern_trial(campaign, answer_pattern)
        except PatternError as exc:
            errors["answer_pattern"] = str(exc)
    reference_key = (reference_key or "").strip() or ttc_reads.DEFAULT_REFERENCE_KEY
    if not _REFERENCE_KEY.match(reference_key):
        errors["reference_key"] = (
            "A metadata key of at most 100 letters, digits, dots, dashes or underscores."
        )
    if errors:
        raise TTCRefused(errors)
    with transaction.atomic():
        config, _ = TTCConfig.objects.select_for_update().get_or_create(campaign=campaign)
        config.answer_rule, config.answer_pattern = answer_rule, answer_pattern
        config.reference_key, config.updated_at = reference_key, timezone.now()
        config.full_clean()
        config.save()
        if reasoning_for_raters is not None and reasoning_for_raters != (
            campaign.reasoning_for_raters
        ):
            campaign.reasoning_for_raters = reasoning_for_raters
            campaign.save(update_fields=["reasoning_for_raters"])
    log.info("ttc settings of %s by %s: %s", campaign.slug, actor, config.rule_key)
    # Only samples not read under this rule are read (all of them when the rule changed).
    answers_extract(campaign=campaign, config=config)
    return config


PATTERN_TRIAL = 200  # responses a new pattern is tried on before it is saved


def _pattern_trial(campaign: Campaign, pattern: str) -> None:
    """Run a new answer pattern on the campaign's longest responses (up to PATTERN_TRIAL) before
    it is saved: one that backtracks past the time limit is refused here, with the reason, rather
    than found out by the extraction that follows."""
    texts = (
        Candidate.objects.filter(prompt__campaign=campaign, status=Candidate.Status.DONE)
        .annotate(size=Length("text"))
        .order_by("-size")
        .values_list("text", flat=True)[:PATTERN_TRIAL]
    )
    for text in texts:
        extract_answer(text, rule="regex", pattern=pattern)


def answers_extract(*, campaign: Campaign, config: TTCConfig | None = None) -> int:
    """Find the final answer of every finished sample not yet extracted under the current rule;
    returns how many were written. Under the judge rule only samples the judge has read change."""
    config = config or ttc_reads.ttc_config(campaign=campaign)
    rule_key = config.rule_key
    stale = Candidate.objects.filter(
        prompt__campaign=campaign, status=Candidate.Status.DONE
    ).exclude(answer_rule=rule_key)
    if config.answer_rule == TTCConfig.Rule.JUDGE:
        read = dict(
            CandidateReview.objects.filter(
                campaign=campaign,
                task=CandidateReview.Task.ANSWER,
                status=CandidateReview.Status.DONE,
            )
            .order_by("id")
            .values_list("candidate_id", "answer")
        )
        # Samples the judge has not read yet keep no answer under this rule.
        stale.exclude(id__in=list(read)).exclude(final_answer="", answer_rule="").update(
            final_answer="", answer_rule=""
        )
        stale = stale.filter(id__in=list(read))
    else:
        read = None
    written = timed_out = 0
    batch: list[Candidate] = []
    for cid, text in stale.values_list("id", "text").iterator(chunk_size=EXTRACT_CHUNK):
        if read is not None:
            answer = read.get(cid) or ""
        else:
            try:
                answer = (
                    extract_answer(text, rule=config.answer_rule, pattern=config.answer_pattern)
                    or ""
                )
            except PatternTimeout:
                # The pattern passed its trial but backtracks on this one: no answer (it then
                # never matches a reference and casts no vote), counted in the log.
                answer, timed_out = "", timed_out + 1
        batch.append(Candidate(id=cid, final_answer=answer, answer_rule=rule_key))
        if len(batch) >= EXTRACT_CHUNK:
            written += _write_answers(batch)
            batch = []
    written += _write_answers(batch)
    if timed_out:
        log.warning(
            "answers_extract on %s: the pattern timed out on %d responses (no answer kept)",
            campaign.slug,
            timed_out,
        )
    return written


def _write_answers(batch: list[Candidate]) -> int:
    if batch:
        Candidate.objects.bulk_update(batch, ["final_answer", "answer_rule"], batch_size=500)
    return len(batch)


def best_of_n_select(*, campaign: Campaign, actor: User | None = None) -> dict[str, int]:
    """Store every method's pick per (prompt, generator); returns picks made per method."""
    config = ttc_reads.ttc_config(campaign=campaign)
    answers_extract(campaign=campaign, config=config)
    groups = ttc_reads.ttc_groups(campaign=campaign, config=config)
    rows: list[BestOfNChoice] = []
    made = dict.fromkeys(ttc.METHODS, 0)
    now = timezone.now()
    for row in groups:
        for method in ttc.METHODS:
            pool = row.group.pool(method)
            if pool is None:
                continue
            best = ttc.pick(row.group, method)
            low = ttc.worst(row.group, method, best)
            answer = row.answers[best] if best is not None else ""
            rows.append(
                BestOfNChoice(
                    campaign=campaign,
                    prompt_id=row.prompt_id,
                    generator_id=row.generator_id,
                    method=method,
                    candidate_id=row.candidate_ids[best] if best is not None else None,
                    worst_id=row.candidate_ids[low] if low is not None else None,
                    pool=len(pool),
                    answer=answer,
                    correct=None
                    if row.reference is None or best is None
                    else bool(row.group.correct[best]),
                    created_at=now,
                )
            )
            made[method] += best is not None
    with transaction.atomic():
        BestOfNChoice.objects.filter(campaign=campaign).delete()
        BestOfNChoice.objects.bulk_create(rows, batch_size=1000)
    log.info("best-of-N for %s by %s: %s", campaign.slug, actor, made)
    return made
