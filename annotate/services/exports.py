"""Exports: create the row and enqueue (page, API), run it in a worker, or build straight to a folder
(management command). Rows stream from the database into the pure pipeline in annotate/exports/.

An export row is a kind of claimable work and its own job (``EXPORTS``; the protocol is
annotate/work's):

    queued --claim--> running --zip published to storage, DONE written under the claim--> done
       ^                 |
       |                 +--an error (a bad filter, a bug, the soft time limit)--> failed
       +-- its worker died (kill -9, out of memory, the hard time limit): the sweep sends it again,
           and another worker rebuilds it from scratch; after ``max_attempts`` builds, failed.

Each build writes into a folder of its own on the worker's disk (export_files.export_build_folder)
and publishes one zip (an atomic save); the row names the file only once it is saved, and only
under the build's claim. A rebuild first removes what a killed build left on this disk.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import operator
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from annotate import export_files
from annotate.analytics.crowd_models import MODEL_METHODS
from annotate.exports.aggregate import counted_votes
from annotate.exports.card import CardContext
from annotate.exports.options import ExportOptions, ExportOptionsError, parse_options
from annotate.exports.pipeline import ExportFailed, ExportSummary, write_export
from annotate.models import Campaign, Export, JudgeConfig, Judgment, User
from annotate.protocols import protocol_for
from annotate.selectors import analytics as analytics_reads
from annotate.selectors import campaigns as campaign_reads
from annotate.selectors import exports as export_reads
from annotate.services import export_parts, webhooks
from annotate.work import Kind, claims
from annotate.work.kinds import send_each_on_commit

logger = logging.getLogger(__name__)


def _send(export_ids: list[int]) -> None:
    """One task message per export, once the current transaction commits."""
    send_each_on_commit("export_run_task", "export_id", export_ids)


def _task_time_limit() -> float:
    from annotate.tasks import export_run_task

    return float(export_run_task.time_limit)


EXPORTS = Kind(
    name="export",
    noun="export",
    model=Export,
    send=lambda job, ids: _send(ids),
    pending=Export.Status.QUEUED,
    max_attempts=3,  # builds; one that kills its worker each time fails after three
    time_limit=_task_time_limit,
)

__all__ = [
    "ExportFailed",
    "ExportOptionsError",
    "export_build",
    "export_create",
    "export_run",
    "export_lost_work",
]

# Progress is written every this many pairs (one small UPDATE on its own connection).
PROGRESS_EVERY = 5000


def rater_pseudonym(*, campaign_id: int, rater_id: int | None) -> str:
    """A stable pseudonymous rater id: HMAC of the campaign and user id with the server secret."""
    if rater_id is None:
        return ""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{campaign_id}:{rater_id}".encode(), hashlib.sha256
    )
    return f"rater-{digest.hexdigest()[:10]}"


def participant_export_names(*, campaign: Campaign, raw_ids: bool) -> dict[int, str]:
    """rater (user) id -> the name a crowd participant carries in exports."""
    from annotate.selectors.participants import participant_names

    return participant_names(campaign=campaign, raw_ids=raw_ids)


def excluded_raters(*, campaign: Campaign, options: ExportOptions) -> frozenset[int]:
    """Raters whose gold accuracy is below the export's threshold (only raters who answered gold)."""
    if options.min_gold_accuracy <= 0:
        return frozenset()
    if campaign.is_ranking:
        from annotate.services.sets import ranking_gold_accuracy

        accuracy = ranking_gold_accuracy(campaign=campaign)
    elif campaign.is_rating:
        from annotate.services.sets import rating_gold_accuracy

        accuracy = rating_gold_accuracy(campaign=campaign)
    elif campaign.is_steps:
        from annotate.services.steps import step_gold_accuracy

        accuracy = step_gold_accuracy(campaign=campaign)
    else:
        accuracy = campaign_reads.rater_gold_accuracy(campaign_id=campaign.id)
    return frozenset(
        rater_id
        for rater_id, (correct, answered) in accuracy.items()
        if answered and correct / answered < options.min_gold_accuracy
    )


def card_alpha(*, campaign: Campaign) -> dict:
    """α for the dataset card, over every human vote: the research page's cached figures when they
    cover every vote, else computed now from the counts per pair × score (memory flat). Both give
    the same numbers (the same bootstrap draws), so the card's bytes do not depend on the cache."""
    fresh = analytics_reads.campaign_stats(campaign=campaign)
    cached = (fresh.stats.figures or {}).get("alpha") if fresh.computed else None
    if cached and not fresh.new_votes:
        return {
            "alpha": cached["alpha"],
            "alpha_low": cached["low"],
            "alpha_high": cached["high"],
            "alpha_votes": fresh.stats.votes_seen,
        }
    now = analytics_reads.campaign_alpha(campaign_id=campaign.id, n_boot=200)
    return {
        "alpha": now["alpha"],
        "alpha_low": now["low"],
        "alpha_high": now["high"],
        "alpha_votes": analytics_reads.human_votes(campaign_id=campaign.id).count(),
    }


def _card_context(*, campaign: Campaign, voters: list[dict], excluded: frozenset) -> CardContext:
    alpha = card_alpha(campaign=campaign)
    judge = JudgeConfig.objects.filter(campaign=campaign).first()
    return CardContext(
        judge_model=f"{judge.provider}/{judge.model}" if judge else "",
        campaign_title=campaign.title,
        campaign_slug=campaign.slug,
        guidelines=campaign.guidelines,
        scale=campaign.scale,
        aspects=list(campaign.aspects or []),
        overlap=campaign.overlap,
        judge_mode=campaign.judge_mode,
        generators=[
            {"name": g.name, "provider": g.provider, "model": g.model}
            for g in campaign.generators.order_by("name")
        ],
        raters=len(voters),
        excluded_raters=len(excluded),
        **alpha,
        protocol=campaign.protocol,
        ranking_k=campaign.ranking_k,
        **export_reads.campaign_costs(campaign_id=campaign.id),
        rating_k=campaign.rating_k,
        rating_scale=(campaign.rating_min, campaign.rating_max),
    )


def export_build(
    *,
    campaign: Campaign,
    options: ExportOptions,
    out_dir: Path,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = 5000,
    progress_every: int | None = None,
) -> ExportSummary:
    """Stream the campaign's votes into an export folder at ``out_dir`` (created; must be empty).

    Raises ExportFailed (EmptyExport: no row is left, and why; InvalidExport: a row broke its
    format's rules) and then leaves ``out_dir`` as it found it: no half dataset stays behind.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ExportOptionsError({"out": f"{out_dir} exists and is not empty"})
    existed = out_dir.exists()
    try:
        return _build(
            campaign=campaign,
            options=options,
            out_dir=out_dir,
            progress=progress,
            chunk_size=chunk_size,
            progress_every=progress_every,
        )
    except ExportFailed:
        if existed:
            for child in out_dir.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        else:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise


def view_pairs(*, campaign: Campaign, options: ExportOptions):
    """The pairs of the browse view the export is limited to (its ``view`` filter), or None for
    every pair; ExportOptionsError when the view does not fit the campaign."""
    if not options.view:
        return None
    if campaign.uses_sets:
        raise ExportOptionsError(
            {"view": f"browse views list pairs; a {campaign.protocol} campaign's units are sets"}
        )
    from annotate.selectors.browse import filtered_pairs, view_filters

    try:
        filters = view_filters(campaign, options.view)
    except ValueError as exc:
        raise ExportOptionsError({"view": str(exc)}) from None
    return filtered_pairs(campaign, filters)


def _build(*, campaign, options, out_dir, progress, chunk_size, progress_every) -> ExportSummary:
    pairs_in = view_pairs(campaign=campaign, options=options)
    excluded = excluded_raters(campaign=campaign, options=options)
    if campaign.is_ranking:
        from annotate.selectors.sets import ranking_voters

        voters = ranking_voters(campaign_id=campaign.id)
    elif campaign.is_rating:
        from annotate.selectors.ratings import rating_voters

        voters = rating_voters(campaign_id=campaign.id)
    elif campaign.is_steps:
        from annotate.selectors.steps import step_voters

        voters = step_voters(campaign_id=campaign.id)
    else:
        voters = campaign_reads.campaign_voters(campaign_id=campaign.id)
    names = {
        v["rater_id"]: rater_pseudonym(campaign_id=campaign.id, rater_id=v["rater_id"])
        for v in voters
    }
    # Crowd participants: a salted pseudonym of the platform id, or the id itself when asked.
    names.update(participant_export_names(campaign=campaign, raw_ids=options.raw_participant_ids))
    context = _card_context(campaign=campaign, voters=voters, excluded=excluded)
    if options.is_best_of_n:
        from annotate.exports.best_of_n import write_best_of_n_export
        from annotate.selectors.ttc import bon_choice_rows

        rows = bon_choice_rows(campaign=campaign, method=options.bon_method)
        return write_best_of_n_export(rows, options=options, out_dir=out_dir, context=context)
    _format_fits(campaign=campaign, options=options)
    if campaign.is_steps:
        from annotate.exports.steps import write_steps_export

        with export_reads.export_read_transaction():
            return write_steps_export(
                protocol_for(campaign).export_rows(campaign_id=campaign.id),
                options=options,
                out_dir=out_dir,
                context=context,
                rater_names=names,
                excluded_raters=excluded,
            )
    if campaign.is_ranking and options.source != "human":
        from annotate.services.sets import judge_set_rankings_record

        judge_set_rankings_record(campaign=campaign)  # the judge's rankings, once fully judged
    # A big JSON Lines export of vote rows: one process per range of prompts, on one snapshot.
    ranges = export_parts.export_ranges(campaign=campaign, options=options, pairs_in=pairs_in)
    with export_reads.export_read_transaction(shared=bool(ranges)):
        if options.is_conversations:
            from annotate.exports.conversations import write_conversations_export
            from annotate.selectors.live import conversation_rows

            return write_conversations_export(
                conversation_rows(campaign_id=campaign.id),
                options=options,
                out_dir=out_dir,
                context=context,
                rater_names=names,
            )
        if options.is_ranking:
            from annotate.exports.rankings import write_ranking_export
            from annotate.selectors.sets import ranking_rows_for_raw

            return write_ranking_export(
                ranking_rows_for_raw(campaign_id=campaign.id),
                options=options,
                out_dir=out_dir,
                context=context,
                rater_names=names,
                excluded_raters=excluded,
            )
        if options.is_rating or (campaign.is_rating and options.format == "trl-kto"):
            from annotate.exports.ratings import write_rating_export
            from annotate.selectors.ratings import rating_rows_for_raw

            return write_rating_export(
                rating_rows_for_raw(campaign_id=campaign.id),
                options=options,
                out_dir=out_dir,
                context=context,
                rater_names=names,
                excluded_raters=excluded,
            )
        # The campaign's protocol turns its votes into pairwise vote rows (a ranking campaign
        # derives them from each ranking, annotate/selectors/sets.py).
        how = {
            "chunk_size": chunk_size,
            "ranking_pairs": options.ranking_pairs,
            **({"pairs_in": pairs_in} if pairs_in is not None else {}),
            **_rating_kwargs(campaign=campaign, options=options, excluded=excluded),
        }

        def read(prompts=None):
            rows = protocol_for(campaign).export_rows(
                campaign_id=campaign.id,
                lean=not options.is_raw,
                reasoning=options.include_reasoning,
                **how,
                **({"prompts": prompts} if prompts is not None else {}),
            )
            return _with_reasoning(rows) if options.include_reasoning else rows

        fitted = None
        if options.method in MODEL_METHODS and not options.is_raw:  # raw rows aggregate nothing
            # A model method is fitted to every counted vote before the first row is written:
            # one more pass over the same rows, in the same read transaction.
            fitted = _fit(
                protocol_for(campaign).export_rows(campaign_id=campaign.id, lean=True, **how),
                options=options,
                excluded=excluded,
            )
        write = {
            "options": options,
            "out_dir": out_dir,
            "context": context,
            "rater_names": names,
            "excluded_raters": excluded,
            "progress": progress,
            "progress_every": progress_every or PROGRESS_EVERY,
            "fitted": fitted,
            "generators": export_reads.generator_provenance(campaign_id=campaign.id),
        }
        if ranges:
            return export_parts.write_export_parts(read, ranges, **write)
        return write_export(read(), **write)


def _fit(rows, *, options: ExportOptions, excluded: frozenset):
    """The model method's labels, from the votes that count (latest per rater, excluded raters
    and gold pairs left out unless include_gold), as the pipeline counts them. With source=judge
    the judge is the one voice, so the model gives back the judge's labels."""
    from annotate.analytics.crowd_models import fit_labels

    counted = []
    for _, group in itertools.groupby(rows, key=operator.itemgetter("pair_id")):
        votes = list(group)
        if votes[0]["gold_answer"] and not options.include_gold:
            continue
        counted += counted_votes(votes, source=options.source, excluded_raters=excluded)
    return fit_labels(counted, method=options.method, seed=options.seed)


def _rating_kwargs(*, campaign: Campaign, options: ExportOptions, excluded: frozenset) -> dict:
    """What a rating campaign's pairs are derived with (annotate/selectors/ratings.py)."""
    if not campaign.is_rating:
        return {}
    return {
        "rating_pairs": options.rating_pairs,
        "min_gap": options.rating_min_gap,
        "seed": options.seed,
        "source": options.source,
        "excluded_raters": excluded,
    }


def _format_fits(*, campaign: Campaign, options: ExportOptions) -> None:
    if problem := format_problem(campaign=campaign, options=options):
        raise ExportOptionsError({"format": problem})


def _with_reasoning(rows):
    """Vote rows whose response texts carry their traces (include_reasoning)."""
    from annotate.exports.best_of_n import with_reasoning

    for row in rows:
        row["a_text"] = with_reasoning(row["a_text"], row.pop("a_reasoning"))
        row["b_text"] = with_reasoning(row["b_text"], row.pop("b_reasoning"))
        yield row


def format_problem(*, campaign: Campaign, options: ExportOptions) -> str:
    """Why the format does not fit the campaign's protocol ("" when it does): the raw formats of
    a protocol's own votes are for campaigns of that protocol, and step labels export as the step
    formats (or best-of-N, which reads no votes) only."""
    if options.is_ranking and not campaign.is_ranking:
        return "the ranking format is for ranking campaigns"
    if options.is_rating and not campaign.is_rating:
        return "the ratings format is for rating campaigns"
    if options.is_conversations and not campaign.is_live:
        return "the conversations format is for live campaigns"
    if options.is_steps and not campaign.is_steps:
        return "the step formats (trl-stepwise, steps) are for step-label campaigns"
    if campaign.is_steps and not (options.is_steps or options.is_best_of_n):
        return "a step-label campaign exports trl-stepwise or steps (or a best-of-N format)"
    return ""


def export_pairs_to_read(*, campaign: Campaign) -> int:
    if campaign.is_steps:  # progress counts traces read
        return campaign.step_votes.values("candidate_set_id").distinct().count()
    if campaign.is_ranking:  # progress counts sets read, roughly (a set gives several pairs)
        return campaign.ranking_votes.values("candidate_set_id").distinct().count()
    if campaign.is_rating:  # prompts read (each gives its pairs)
        return campaign.rating_votes.values("candidate_set__prompt_id").distinct().count()
    return Judgment.objects.filter(campaign=campaign).values("pair_id").distinct().count()


def export_create(
    *, campaign: Campaign, actor: User | None, format: str, filters: dict | None = None
) -> Export:
    """Validate (ExportOptionsError on a bad format/filter), save a QUEUED Export, run it in a worker."""
    options = parse_options(format, filters)
    _format_fits(campaign=campaign, options=options)
    view_pairs(campaign=campaign, options=options)  # a view that does not fit is refused now
    export = Export.objects.create(
        campaign=campaign, format=options.format, filters=options.filters(), created_by=actor
    )
    _send([export.id])
    return export


_PROGRESS_ALIAS = "export-progress"


@contextmanager
def _progress_connection() -> Iterator[str]:
    """A second connection to the default database, outside the export's read transaction, under
    an alias of this thread's own (for ``.using()``), gone when the block ends."""
    conn = connections.create_connection(DEFAULT_DB_ALIAS)
    connections[_PROGRESS_ALIAS] = conn
    try:
        yield _PROGRESS_ALIAS
    finally:
        del connections[_PROGRESS_ALIAS]
        conn.close()


def export_lost_work(export: Export) -> str:
    """What the export's row says after a worker died while building it (empty if none did)."""
    from annotate.work.progress import lost_work

    active = export.status in EXPORTS.busy
    if export.attempts == 0 or (not active and export.attempts < 2):
        return ""  # never claimed, or built at the first go: nothing to look up
    lost = lost_work(EXPORTS, export.id, active=active)
    if lost is None:
        return ""
    if lost.waiting:
        return "The worker building this export stopped answering; it will be built again."
    attempt = export.attempts + (1 if export.status == Export.Status.QUEUED else 0)
    at = timezone.localtime(lost.at).strftime("%H:%M:%S")
    if active:
        return (
            f"The worker building this export stopped at {at}; it is being built again from "
            f"scratch (attempt {attempt} of {EXPORTS.max_attempts})."
        )
    return f"Built again after the worker building it stopped at {at}."


class _ClaimLost(Exception):
    """Another worker took this build over (this one was taken for dead): publish nothing."""


def export_run(*, export_id: int) -> None:
    """Claim a QUEUED export (or one whose builder died), build its folder, publish its zip, and
    record row count, sha256 and the file under the claim. A redelivered task finds nothing to
    claim."""
    token = claims.claim(EXPORTS, export_id)
    if token is None:
        return
    export = Export.objects.select_related("campaign").get(id=export_id)
    if export.attempts > 1:
        export_files.export_builds_remove(export)  # what a killed build left on this disk
    tmp = None
    try:
        Export.objects.filter(id=export_id).update(progress=0)
        tmp = export_files.export_build_folder(export)
        options = parse_options(export.format, export.filters)
        total = max(1, export_pairs_to_read(campaign=export.campaign))

        with _progress_connection() as progress_db:

            def report(pairs_seen: int) -> None:
                # The rows are read in one long transaction; progress goes through its own
                # autocommit connection so the page sees it while the export runs.
                percent = min(99, pairs_seen * 100 // total)
                Export.objects.using(progress_db).filter(id=export_id).update(progress=percent)

            summary = export_build(
                campaign=export.campaign, options=options, out_dir=tmp, progress=report
            )
        if not claims.held(EXPORTS, export_id, token).exists():
            raise _ClaimLost
        published = export_files.export_file_publish(export=export, folder=tmp)
        written = claims.held(EXPORTS, export_id, token).update(
            status=Export.Status.DONE,
            progress=100,
            row_count=summary.row_count,
            path=published.name,
            sha256=published.sha256,
            error="",
            finished_at=timezone.now(),
        )
        if written:
            webhooks.export_finished(export)
        if not written:
            # Taken over while publishing: the other build publishes the same bytes under the
            # same name (exports are deterministic), so the file is left to it.
            logger.warning(
                "export %s: taken over while publishing; the other build wins", export_id
            )
    except _ClaimLost:
        logger.warning("export %s: taken over by another worker; this build is dropped", export_id)
        shutil.rmtree(tmp, ignore_errors=True)
    except SoftTimeLimitExceeded:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        limit = int(_task_time_limit())
        claims.fail(
            EXPORTS, export_id, token, f"The export took longer than {limit} s.", job_id=None
        )
        webhooks.export_finished(export)
    except Exception as exc:  # any failure must show on the page, never leave it RUNNING
        if isinstance(exc, ExportFailed):  # empty or invalid: the message says why
            logger.warning("export %s failed: %s", export_id, exc)
        else:
            logger.exception("export %s failed", export_id)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        claims.fail(EXPORTS, export_id, token, str(exc) or type(exc).__name__, job_id=None)
        webhooks.export_finished(export)
