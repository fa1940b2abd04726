"""An export built by several processes over ranges of the prompts, on one snapshot
(annotate/services/export_parts.py): the same bytes as one process, the rows of the snapshot and
no other, a part's failure reported and cleaned up, and no part left behind a killed worker."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, transaction

from annotate.exports.options import parse_options
from annotate.exports.summary import ExportSummary, InvalidExport
from annotate.exports.validate import InvalidRow
from annotate.models import Judgment
from annotate.selectors import exports as export_reads
from annotate.services import export_parts
from annotate.services.exports import export_build
from tests import factories
from tests.exports.builders import campaign_with_votes
from tests.services.test_import_killed import database_url

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork"), reason="parts are forked processes (POSIX)"
)
CHILD = Path(__file__).with_name("export_parts_child.py")
JSONL_FORMATS = [
    "trl-dpo-conversational",
    "trl-dpo-standard",
    "trl-reward",
    "trl-kto",
    "sft-messages",
    "hh-rlhf",
    "openai-dpo",
    "raw-jsonl",
]


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def postgres(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("parts read one exported PostgreSQL snapshot")


@pytest.fixture
def parts(settings, monkeypatch):
    """Every export in parts, with how many ranges each was built in."""
    settings.EXPORT_PROCESSES, settings.EXPORT_PARALLEL_MIN_PAIRS = 3, 1
    built: list[int] = []
    real = export_parts.write_export_parts

    def counting(read, ranges, **kwargs):
        built.append(len(ranges))
        return real(read, ranges, **kwargs)

    monkeypatch.setattr(export_parts, "write_export_parts", counting)
    return built


def _one_process(settings, **build):
    settings.EXPORT_PROCESSES = 1
    try:
        return export_build(**build)
    finally:
        settings.EXPORT_PROCESSES = 3


@pytest.mark.parametrize("fmt", JSONL_FORMATS)
def test_parts_write_the_bytes_one_process_writes(
    postgres, parts, settings, campaign, tmp_path, fmt
):
    campaign_with_votes(campaign, pairs=24)
    options = parse_options(fmt, {"test_fraction": 0.4, "seed": 7})
    summary = export_build(campaign=campaign, options=options, out_dir=tmp_path / "parts")
    alone = _one_process(settings, campaign=campaign, options=options, out_dir=tmp_path / "one")
    assert parts == [3]
    assert _files(tmp_path / "parts") == _files(tmp_path / "one")
    assert set(summary.rows) == {"train", "test"}, "both splits, so both were joined"
    assert summary == alone
    assert not list((tmp_path / "parts").rglob("*part*")), "no part's file is left"


def test_a_model_method_is_fitted_once_and_built_in_parts(
    postgres, parts, settings, campaign, tmp_path
):
    campaign_with_votes(campaign, pairs=16)
    options = parse_options("trl-dpo-standard", {"method": "dawid_skene", "tie_policy": "keep"})
    export_build(campaign=campaign, options=options, out_dir=tmp_path / "parts")
    _one_process(settings, campaign=campaign, options=options, out_dir=tmp_path / "one")
    assert parts == [3]
    assert _files(tmp_path / "parts") == _files(tmp_path / "one")


def test_the_ranges_hold_every_prompt_once_and_split_the_pairs_evenly(postgres, campaign):
    made = campaign_with_votes(campaign, pairs=30)
    count, ranges = export_reads.export_prompt_ranges(campaign_id=campaign.id, parts=3)
    assert count == 30 and len(ranges) == 3
    assert ranges[0][0] is None and ranges[-1][1] is None
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    prompts = sorted(pair.prompt_id for pair in made["pairs"])

    def inside(prompt_id, start, end):
        return (start is None or prompt_id >= start) and (end is None or prompt_id < end)

    sizes = [sum(inside(p, *r) for p in prompts) for r in ranges]
    assert sum(sizes) == 30 and max(sizes) - min(sizes) <= 2  # a quantile falls on a pair


def test_one_process_builds_what_parts_cannot(postgres, settings, campaign):
    settings.EXPORT_PROCESSES, settings.EXPORT_PARALLEL_MIN_PAIRS = 2, 1
    campaign_with_votes(campaign, pairs=8)

    def ranges(fmt="trl-dpo-conversational"):
        return export_parts.export_ranges(campaign=campaign, options=parse_options(fmt, {}))

    assert len(ranges()) == 2
    assert ranges("raw-csv") == [] and ranges("raw-parquet") == []  # one file, one writer
    with transaction.atomic():
        assert ranges() == [], "uncommitted rows would not be in the other process's snapshot"
    settings.EXPORT_PARALLEL_MIN_PAIRS = 9
    assert ranges() == []
    settings.EXPORT_PARALLEL_MIN_PAIRS, settings.EXPORT_PROCESSES = 1, 1
    assert ranges() == []


def test_a_vote_made_after_the_snapshot_is_in_no_part(
    postgres, parts, campaign, tmp_path, monkeypatch
):
    made = campaign_with_votes(campaign, pairs=12)
    late_rater = factories.UserFactory(username="late")
    factories.EnrollmentFactory(campaign=campaign, rater=late_rater)
    real = export_parts.export_sql.snapshot_export

    def then_a_vote_commits():
        snapshot = real()

        def vote():  # another connection (this thread's), committed before the parts read
            for pair in made["pairs"]:
                Judgment.objects.create(
                    campaign=campaign, pair=pair, rater=late_rater, choice="b", left_is_a=True
                )
            connection.close()

        thread = threading.Thread(target=vote)
        thread.start()
        thread.join()
        return snapshot

    monkeypatch.setattr(export_parts.export_sql, "snapshot_export", then_a_vote_commits)
    options = parse_options("raw-jsonl", {})
    summary = export_build(campaign=campaign, options=options, out_dir=tmp_path / "before")
    assert parts == [3]
    assert Judgment.objects.filter(campaign=campaign).count() == 36 + 12
    assert summary.votes_seen == summary.row_count == 36, "the late votes are in no part"
    monkeypatch.setattr(export_parts.export_sql, "snapshot_export", real)
    after = export_build(campaign=campaign, options=options, out_dir=tmp_path / "after")
    assert after.votes_seen == 48


def _fail_in_a_later_part(monkeypatch, how):
    real = export_reads.export_vote_rows

    def rows(**kwargs):
        prompts = kwargs.get("prompts")
        if prompts is not None and prompts[0] is not None:  # not the lead's range
            how()
        return real(**kwargs)

    monkeypatch.setattr(export_reads, "export_vote_rows", rows)


def test_a_part_that_raises_fails_the_export_and_leaves_nothing(
    postgres, parts, campaign, tmp_path, monkeypatch
):
    campaign_with_votes(campaign, pairs=12)

    def boom():
        raise RuntimeError("the disk is full")

    _fail_in_a_later_part(monkeypatch, boom)
    with pytest.raises(export_parts.ExportPartFailed, match="of 3 of the export failed: Runtime"):
        export_build(campaign=campaign, options=parse_options(None, {}), out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_part_killed_by_a_signal_fails_the_export(
    postgres, parts, campaign, tmp_path, monkeypatch
):
    campaign_with_votes(campaign, pairs=12)
    _fail_in_a_later_part(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGKILL))
    with pytest.raises(export_parts.ExportPartFailed, match="was killed by signal 9"):
        export_build(campaign=campaign, options=parse_options(None, {}), out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not export_parts._INHERITED, "the lead kept its own connection"
    assert Judgment.objects.filter(campaign=campaign).count() == 36  # the lead's connection works


def test_progress_counts_the_pairs_of_every_part(postgres, parts, campaign, tmp_path):
    campaign_with_votes(campaign, pairs=30)
    seen: list[int] = []
    export_build(
        campaign=campaign,
        options=parse_options(None, {}),
        out_dir=tmp_path / "out",
        progress=seen.append,
        progress_every=2,
    )
    assert parts == [3]
    assert seen == sorted(seen) and seen[-1] == 30
    assert any(n > 10 for n in seen[:-1]), "the other parts' pairs count before the end"


def test_a_broken_row_in_a_part_is_numbered_in_the_joined_file():
    earlier = ExportSummary(rows={"train": 40, "test": 7})
    later = ExportSummary(rows={"train": 25, "test": 3})
    outcome = ("invalid", "ignored", "data/test.jsonl", (2, "duplicate", "twice"))
    error = export_parts._failure(2, outcome, {0: earlier, 1: later}, parts=3)
    assert isinstance(error, InvalidExport)
    assert error.broken.row == 12 and error.file == "data/test.jsonl"
    assert str(error) == f"data/test.jsonl {InvalidRow(12, 'duplicate', 'twice')}"


@pytest.mark.slow
def test_no_part_outlives_a_worker_killed_with_minus_9(postgres, campaign, tmp_path):
    campaign_with_votes(campaign, pairs=12)
    child = subprocess.Popen(
        [sys.executable, str(CHILD), campaign.slug, str(tmp_path / "out")],
        env={**os.environ, "DATABASE_URL": database_url()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([child.stdout], [], [], 120)
        said = child.stdout.readline().split() if ready else []
        assert said[:1] == ["paused"], child.stderr.read() if child.poll() is not None else said
        part = int(said[1])
        os.kill(part, 0)  # the part runs, paused inside its snapshot
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    deadline = time.monotonic() + 20
    while _alive(part):
        assert time.monotonic() < deadline, "the part outlived its worker"
        time.sleep(0.05)
    with connection.cursor() as cursor:  # and no snapshot of theirs is held open
        for _ in range(200):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%%'"
            )
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail("a killed export's transaction is still open")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_an_export_of_a_view_reads_its_pairs_in_parts(
    postgres, parts, settings, campaign, tmp_path
):
    campaign_with_votes(campaign, pairs=24)
    options = parse_options("raw-jsonl", {"view": 'q="X answer 1" or Rewrite'})
    summary = export_build(campaign=campaign, options=options, out_dir=tmp_path / "parts")
    _one_process(settings, campaign=campaign, options=options, out_dir=tmp_path / "one")
    assert parts == [3]
    assert _files(tmp_path / "parts") == _files(tmp_path / "one")
    assert summary.pairs_seen == 1 + 6  # "X answer 1", and the six both-bad pairs' rewrites


@pytest.mark.slow
def test_a_real_worker_builds_an_export_in_parts(postgres, parts, redis_app, campaign, researcher):
    from celery.contrib.testing.worker import start_worker

    from annotate.models import Export
    from annotate.services.exports import export_create

    campaign_with_votes(campaign, pairs=24)
    with start_worker(redis_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        export = export_create(campaign=campaign, actor=researcher, format="trl-dpo-standard")
        deadline = time.monotonic() + 60
        while export.status not in ("done", "failed"):
            assert time.monotonic() < deadline, "the worker did not finish the export"
            time.sleep(0.2)
            export.refresh_from_db()
    assert (export.status, export.error, export.row_count) == ("done", "", 12)
    assert parts == [3]
    assert Export.objects.get(id=export.id).progress == 100
