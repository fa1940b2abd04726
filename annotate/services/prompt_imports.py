"""Prompt imports in the background: a large file is saved, a worker imports it, the page follows.

    queued --claim--> running --(every line good) INSERT + done, one transaction--> done (created)
                         |     --(a bad line)------------------------------------> done (errors)
                         +-- worker killed: the claim is abandoned, the sweep sends it again; the
                             import starts from the top (nothing of it was committed), up to
                             max_attempts, then failed

The row is a kind of claimable work (annotate/work): claim, heartbeat, resend and give-up are the
work module's. The import itself is ``prompts_import``, the same as inline: the row's progress
(lines read, bad lines so far) is written as the file is read, and its result is written inside
the import's own transaction, so prompts and "done" are committed together or not at all: a worker
killed after the commit leaves a finished import, never one that a second run would refuse as
duplicates.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from annotate.models import Campaign, PromptImport, User
from annotate.services.import_uploads import upload_delete, upload_open, upload_save
from annotate.services.prompts import ImportResult, prompts_import
from annotate.work import claims
from annotate.work.kinds import Kind

log = logging.getLogger(__name__)


def _send(ids: list[int]) -> None:
    from annotate.tasks import prompt_import_task

    for import_id in ids:
        transaction.on_commit(lambda i=import_id: prompt_import_task.delay(import_id=i))


def _time_limit() -> float:
    from annotate.tasks import prompt_import_task

    return float(prompt_import_task.time_limit)


PROMPT_IMPORTS = Kind(
    name="prompt-import",
    noun="imports",
    model=PromptImport,
    send=lambda job, ids: _send(ids),
    pending=PromptImport.Status.QUEUED,
    max_attempts=3,
    time_limit=_time_limit,
)


class _ClaimLost(Exception):
    """Another worker took the import over: this one's transaction must not commit."""


def prompt_import_start(
    *, campaign: Campaign, actor: User | None, upload, file_name: str, skip_existing: bool = False
) -> PromptImport:
    """Save the file and queue its import; the worker's task is sent once this commits."""
    name = upload_save(source=upload, file_name=file_name)
    size = getattr(upload, "size", None)
    job = PromptImport.objects.create(
        campaign=campaign,
        created_by=actor,
        file_name=file_name[-255:],
        upload=name,
        size=size or 0,
        skip_existing=skip_existing,
    )
    _send([job.id])
    return job


def prompt_import_run(*, import_id: int) -> None:
    """The task's body: claim the import, import the file, record the outcome under the claim."""
    token = claims.claim(PROMPT_IMPORTS, import_id)
    if token is None:
        return  # done, failed, or a live worker has it
    job = PromptImport.objects.select_related("campaign").get(id=import_id)
    held = claims.held(PROMPT_IMPORTS, import_id, token)
    held.update(lines_read=0, bad_lines=0)

    def progress(lines: int, bad: int) -> None:
        held.update(lines_read=lines, bad_lines=bad)

    def commit_with_the_prompts(result: ImportResult) -> None:
        if not held.update(**_outcome(result)):
            raise _ClaimLost

    try:
        with upload_open(job.upload) as source:
            result = prompts_import(
                campaign=job.campaign,
                file_name=job.file_name,
                data=source,
                skip_existing=job.skip_existing,
                progress=progress,
                before_commit=commit_with_the_prompts,
            )
    except _ClaimLost:
        log.warning("prompt import %s: taken over by another worker", import_id)
        return
    except Exception as exc:  # a bug or a vanished file: bounded retries, then a visible failure
        log.exception("prompt import %s failed", import_id)
        claims.record_exception(PROMPT_IMPORTS, import_id, token, exc, job_id=None)
        return
    if not result.created:  # refused (or everything skipped): nothing was committed with it
        held.update(**_outcome(result))
    upload_delete(job.upload)
    PromptImport.objects.filter(id=import_id, status=PromptImport.Status.DONE).update(upload="")


def _outcome(result: ImportResult) -> dict:
    return {
        "status": PromptImport.Status.DONE,
        "created": result.created,
        "skipped": result.skipped,
        "errors": [{"line": e.line, "reason": e.reason} for e in result.errors],
        "bad_lines": result.bad_lines,
        "finished_at": timezone.now(),
    }
