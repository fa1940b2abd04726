"""Exports: create the row and enqueue (page, API), run it in a worker, or build straight to a folder
(management command). Rows stream from the database into the pure pipeline in annotate/exports/.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from annotate import export_files, selectors
from annotate.exports.card import CardContext
from annotate.exports.options import ExportOptions, ExportOptionsError, parse_options
from annotate.exports.pipeline import ExportFailed, ExportSummary, write_export
from annotate.models import Campaign, Export, JudgeConfig, Judgment, User

logger = logging.getLogger(__name__)

__all__ = [
    "ExportFailed",
    "ExportOptionsError",
    "export_build",
    "export_create",
    "export_run",
]

# Progress is written every this many pairs (one small UPDATE on its own connection).
PROGRESS_EVERY = 5000
# Krippendorff's α needs every vote in memory; above this many votes the card leaves it out.
CARD_ALPHA_MAX_VOTES = 50_000  # keeps an export's memory flat; the research page shows α


def rater_pseudonym(*, campaign_id: int, rater_id: int | None) -> str:
    """A stable pseudonymous rater id: HMAC of the campaign and user id with the server secret."""
    if rater_id is None:
        return ""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{campaign_id}:{rater_id}".encode(), hashlib.sha256
    )
    return f"rater-{digest.hexdigest()[:10]}"


def excluded_raters(*, campaign: Campaign, options: ExportOptions) -> frozenset[int]:
    """Raters whose gold accuracy is below the export's threshold (only raters who answered gold)."""
    if options.min_gold_accuracy <= 0:
        return frozenset()
    accuracy = selectors.rater_gold_accuracy(campaign_id=campaign.id)
    return frozenset(
        rater_id
        for rater_id, (correct, answered) in accuracy.items()
        if answered and correct / answered < options.min_gold_accuracy
    )


def _card_context(*, campaign: Campaign, voters: list[dict], excluded: frozenset) -> CardContext:
    from annotate.analytics.agreement import krippendorff_alpha

    alpha = None
    if sum(v["votes"] for v in voters) <= CARD_ALPHA_MAX_VOTES:
        rows = selectors.analytics_vote_rows(campaign_id=campaign.id)
        alpha = krippendorff_alpha(rows)
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
        alpha=alpha,
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


def _build(*, campaign, options, out_dir, progress, chunk_size, progress_every) -> ExportSummary:
    excluded = excluded_raters(campaign=campaign, options=options)
    voters = selectors.campaign_voters(campaign_id=campaign.id)
    names = {
        v["rater_id"]: rater_pseudonym(campaign_id=campaign.id, rater_id=v["rater_id"])
        for v in voters
    }
    context = _card_context(campaign=campaign, voters=voters, excluded=excluded)
    with selectors.export_read_transaction():
        rows = selectors.export_vote_rows(
            campaign_id=campaign.id, lean=not options.is_raw, chunk_size=chunk_size
        )
        return write_export(
            rows,
            options=options,
            out_dir=out_dir,
            context=context,
            rater_names=names,
            excluded_raters=excluded,
            progress=progress,
            progress_every=progress_every or PROGRESS_EVERY,
        )


def export_pairs_to_read(*, campaign: Campaign) -> int:
    return Judgment.objects.filter(campaign=campaign).values("pair_id").distinct().count()


def export_create(
    *, campaign: Campaign, actor: User | None, format: str, filters: dict | None = None
) -> Export:
    """Validate (ExportOptionsError on a bad format/filter), save a QUEUED Export, run it in a worker."""
    options = parse_options(format, filters)
    export = Export.objects.create(
        campaign=campaign, format=options.format, filters=options.filters(), created_by=actor
    )
    from annotate.tasks import export_run_task

    transaction.on_commit(lambda: export_run_task.delay(export_id=export.id))
    return export


@contextmanager
def _progress_connection():
    """A second connection to the default database, outside the export's read transaction."""
    conn = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        yield conn
    finally:
        conn.close()


def export_run(*, export_id: int) -> None:
    """Claim a QUEUED export, build its folder and zip, record row count, sha256 and the file.

    The claim is a conditional UPDATE, so a redelivered task finds nothing to do. Files are built in
    a local temporary folder and the zip is then published to storage (annotate/export_files.py),
    so a crash never leaves a half export behind a DONE row.
    """
    claimed = Export.objects.filter(id=export_id, status=Export.Status.QUEUED).update(
        status=Export.Status.RUNNING, progress=0
    )
    if claimed != 1:
        return
    export = Export.objects.select_related("campaign").get(id=export_id)
    tmp = None
    try:
        tmp = export_files.export_build_folder(export)
        options = parse_options(export.format, export.filters)
        total = max(1, export_pairs_to_read(campaign=export.campaign))

        with _progress_connection() as progress_db:

            def report(pairs_seen: int) -> None:
                # The rows are read in one long transaction; progress goes through its own
                # autocommit connection so the page sees it while the export runs.
                percent = min(99, pairs_seen * 100 // total)
                with progress_db.cursor() as cursor:
                    cursor.execute(
                        "UPDATE annotate_export SET progress = %s WHERE id = %s",
                        [percent, export_id],
                    )

            summary = export_build(
                campaign=export.campaign, options=options, out_dir=tmp, progress=report
            )
        published = export_files.export_file_publish(export=export, folder=tmp)
        Export.objects.filter(id=export_id).update(
            status=Export.Status.DONE,
            progress=100,
            row_count=summary.row_count,
            path=published.name,
            sha256=published.sha256,
            finished_at=timezone.now(),
        )
    except Exception as exc:  # any failure must show on the page, never leave it RUNNING
        if isinstance(exc, ExportFailed):  # empty or invalid: the message says why
            logger.warning("export %s failed: %s", export_id, exc)
        else:
            logger.exception("export %s failed", export_id)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        Export.objects.filter(id=export_id).update(
            status=Export.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
