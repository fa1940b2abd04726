"""Exports built from the database: streamed, aggregated, byte-identical on re-export; run as a job."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotate.exports.options import parse_options
from annotate.exports.pipeline import EmptyExport
from annotate.models import Export, JudgeRubric, JudgeVerdict, Judgment
from annotate.services.exports import (
    ExportOptionsError,
    export_build,
    export_create,
    export_run,
)
from tests.exports.builders import campaign_with_three_generators, campaign_with_votes


def _files(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_it_exports_conversational_dpo_from_the_database(campaign, tmp_path):
    made = campaign_with_votes(campaign)
    summary = export_build(
        campaign=campaign, options=parse_options(None, {}), out_dir=tmp_path / "out", chunk_size=2
    )
    lines = [json.loads(x) for x in (tmp_path / "out/data/train.jsonl").read_text().splitlines()]
    # pair 0 unanimous X, pair 1 two-to-one X; the tie and the both-bad pair are left out.
    assert [x["chosen"][0]["content"] for x in lines] == ["X answer 0", "X answer 1"]
    assert lines[0]["prompt"][0] == {"role": "system", "content": "Be concise."}
    assert lines[1]["prompt"] == [{"role": "user", "content": "Prompt 1: explain é and 😀?"}]
    assert summary.pairs_seen == len(made["pairs"])
    assert summary.labels == {"a": 2, "tie": 1, "both_bad": 1}
    card = (tmp_path / "out/README.md").read_text()
    assert "config_name: trl-dpo-conversational" in card
    assert "`gen-x` — demo / `model-x`" in card
    sums = (tmp_path / "out/SHA256SUMS").read_text()
    assert "  data/train.jsonl" in sums and "  README.md" in sums


def test_it_writes_the_same_bytes_for_the_same_data_and_filters(campaign, tmp_path):
    campaign_with_votes(campaign)
    options = parse_options("raw-parquet", {"test_fraction": 0.5, "seed": 1})
    export_build(campaign=campaign, options=options, out_dir=tmp_path / "one", chunk_size=3)
    export_build(campaign=campaign, options=options, out_dir=tmp_path / "two", chunk_size=1000)
    assert _files(tmp_path / "one") == _files(tmp_path / "two")


def test_it_counts_a_revision_instead_of_the_first_vote_and_excludes_gold(campaign, tmp_path):
    made = campaign_with_votes(campaign, raters=1, pairs=2)
    pair0, pair1 = made["pairs"]
    first = Judgment.objects.get(pair=pair0)
    Judgment.objects.create(
        campaign=campaign,
        pair=pair0,
        rater=first.rater,
        choice="b",
        revises=first,
        judge_shown=True,
    )
    pair1.gold_answer = "a"
    pair1.save()
    export_build(
        campaign=campaign, options=parse_options("trl-dpo-standard", {}), out_dir=tmp_path / "o"
    )
    rows = [json.loads(x) for x in (tmp_path / "o/data/train.jsonl").read_text().splitlines()]
    assert rows == [
        {
            "prompt": "System: Be concise.\n\nUser: Prompt 0: explain é and 😀?\n\nAssistant:",
            "chosen": "Y answer 0",
            "rejected": "X answer 0",
        }
    ]
    rubric = JudgeRubric.objects.create(campaign=campaign, version=1, text="Be fair.")
    JudgeVerdict.objects.create(
        campaign=campaign,
        prompt=pair0.prompt,
        pair=pair0,
        candidate_a=pair0.candidate_a,
        candidate_b=pair0.candidate_b,
        rubric=rubric,
        provider="anthropic",
        model="claude-sonnet-4-6",
        status="done",
        choice="b",
    )
    export_build(
        campaign=campaign, options=parse_options("raw-jsonl", {}), out_dir=tmp_path / "raw"
    )
    raw = [json.loads(x) for x in (tmp_path / "raw/data/train.jsonl").read_text().splitlines()]
    assert [(r["choice"], r["is_latest"], r["judge_shown"], r["judge_verdict"]) for r in raw] == [
        ("a", False, False, "b"),
        ("b", True, True, "b"),
    ]
    assert raw[0]["rater"].startswith("rater-") and "rater0" not in json.dumps(raw)


def test_it_leaves_out_raters_below_the_gold_accuracy_threshold(campaign, tmp_path):
    made = campaign_with_votes(campaign, raters=3, pairs=2)
    gold = made["pairs"][0]
    gold.gold_answer = "b"  # every rater said a (in x/y terms); rater 2 is switched to b below
    gold.save()
    Judgment.objects.filter(pair=gold, rater=made["raters"][2]).update(choice="b")
    options = parse_options("raw-jsonl", {"min_gold_accuracy": 0.5, "include_gold": True})
    summary = export_build(campaign=campaign, options=options, out_dir=tmp_path / "o")
    assert summary.votes_counted == 2  # only rater 2 (1/1 on gold) remains, on both pairs
    assert "excluded by the gold-accuracy filter: 2" in (tmp_path / "o/README.md").read_text()


def test_it_runs_a_queued_export_once_and_zips_it(
    campaign, researcher, django_capture_on_commit_callbacks, export_storage
):
    campaign_with_votes(campaign)
    with django_capture_on_commit_callbacks() as callbacks:
        export = export_create(
            campaign=campaign, actor=researcher, format="trl-kto", filters={"test_fraction": "0.5"}
        )
    assert len(callbacks) == 1
    export_run(export_id=export.id)
    export_run(export_id=export.id)  # a redelivered task finds nothing to do
    export.refresh_from_db()
    assert (export.status, export.progress, export.error) == ("done", 100, "")
    assert export.row_count == 4  # two decided pairs, two KTO rows each
    assert export.path == f"helpfulness/export-{export.id}.zip"  # the name in the storage
    archive = export_storage / export.path
    names = zipfile.ZipFile(archive).namelist()
    assert f"helpfulness-export-{export.id}/README.md" in names
    import hashlib

    assert export.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()


def test_it_marks_a_failed_export_with_its_error(campaign):
    export = Export.objects.create(
        campaign=campaign, format="trl-dpo-conversational", filters={"seed": "x"}
    )
    export_run(export_id=export.id)
    export.refresh_from_db()
    assert export.status == "failed" and "seed" in export.error


def test_it_refuses_a_bad_filter_before_saving(campaign):
    with pytest.raises(ExportOptionsError):
        export_create(campaign=campaign, actor=None, format="nope", filters={})
    assert not Export.objects.exists()


def test_the_command_exports_and_prints_a_summary(campaign, tmp_path):
    campaign_with_votes(campaign)
    out = io.StringIO()
    call_command(
        "export_dataset",
        "helpfulness",
        "--out",
        str(tmp_path / "cmd"),
        "--zip",
        "--no-progress",
        stdout=out,
    )
    assert "trl-dpo-conversational: 2 rows from 2 of 4 pairs" in out.getvalue()
    assert (tmp_path / "cmd.zip").exists()
    with pytest.raises(CommandError, match="tie_policy"):
        call_command(
            "export_dataset",
            "helpfulness",
            "--out",
            str(tmp_path / "x"),
            "--tie-policy",
            "sometimes",
        )
    with pytest.raises(CommandError, match="no campaign"):
        call_command("export_dataset", "nope", "--out", str(tmp_path / "y"))


def test_it_exports_judge_labels_as_their_own_source(campaign, tmp_path):
    made = campaign_with_votes(campaign)
    tie_pair = made["pairs"][2]  # humans said tie
    Judgment.objects.create(
        campaign=campaign, pair=tie_pair, rater=None, source="judge", choice="b"
    )
    options = parse_options("trl-dpo-standard", {"source": "judge"})
    summary = export_build(campaign=campaign, options=options, out_dir=tmp_path / "j")
    rows = [json.loads(x) for x in (tmp_path / "j/data/train.jsonl").read_text().splitlines()]
    assert [(r["chosen"], r["rejected"]) for r in rows] == [("Y answer 2", "X answer 2")]
    assert summary.votes_counted == 1  # no human vote leaks into a judge export
    card = (tmp_path / "j/README.md").read_text()
    assert "machine-generated" in card and "the AI judge (RLAIF labels)" in card


# --- an export that cannot be used is never marked done ---------------------------------------


def test_an_export_left_empty_by_its_filters_fails_saying_why(campaign, researcher, export_storage):
    campaign_with_votes(campaign)  # human votes only: no judge label yet
    export = export_create(
        campaign=campaign,
        actor=researcher,
        format="trl-dpo-conversational",
        filters={"source": "judge"},
    )
    export_run(export_id=export.id)
    export.refresh_from_db()
    assert export.status == "failed" and export.row_count == 0
    assert export.error.startswith("No rows to export: no vote comes from the AI judge")
    assert "12 votes read → 0 counted" in export.error
    assert export.path == "" and not list(export_storage.rglob("*.zip"))


@pytest.mark.parametrize(
    ("filters", "reason"),
    [
        ({"min_votes": 4}, "every pair was left out — with fewer than 4 counted votes"),
        ({"min_gold_accuracy": 1.0}, "every rater who voted is below the gold accuracy of 1"),
    ],
)
def test_the_reason_names_the_filter_that_left_nothing(campaign, tmp_path, filters, reason):
    made = campaign_with_votes(campaign, raters=3, pairs=2)
    gold = made["pairs"][0]
    gold.gold_answer = "b"  # every rater answered it wrong
    gold.save()
    with pytest.raises(EmptyExport, match=reason):
        export_build(
            campaign=campaign,
            options=parse_options("trl-dpo-standard", filters),
            out_dir=tmp_path / "o",
        )
    assert not (tmp_path / "o").exists()  # nothing left behind


def test_a_row_that_breaks_its_format_fails_the_export_with_its_row_and_rule(
    campaign, researcher, monkeypatch, export_storage
):
    campaign_with_votes(campaign)
    from annotate.exports import formats

    real = formats.preference_records

    def broken(prompt, found, options):
        for record in real(prompt, found, options):
            if found[0].chosen == "X answer 1":  # the second row written
                record["rejected"] = record["chosen"]
            yield record

    monkeypatch.setattr(formats, "preference_records", broken)
    export = export_create(campaign=campaign, actor=researcher, format="trl-dpo-conversational")
    export_run(export_id=export.id)
    export.refresh_from_db()
    assert export.status == "failed"
    assert export.error.startswith("data/train.jsonl row 2: chosen_is_rejected")
    assert export.path == "" and not list(export_storage.rglob("*.zip"))


def test_the_command_exits_non_zero_with_the_reason_and_writes_nothing(campaign, tmp_path):
    campaign_with_votes(campaign)
    out = io.StringIO()
    with pytest.raises(CommandError, match="No rows to export: no vote comes from the AI judge"):
        call_command(
            "export_dataset",
            "helpfulness",
            "--out",
            str(tmp_path / "empty"),
            "--source",
            "judge",
            "--no-progress",
            stdout=out,
        )
    assert not (tmp_path / "empty").exists()
    assert "−12 votes not from the AI judge (source=judge)" in out.getvalue()


def test_the_command_prints_the_funnel(campaign, tmp_path):
    campaign_with_votes(campaign)
    out = io.StringIO()
    call_command(
        "export_dataset", "helpfulness", "--out", str(tmp_path / "f"), "--no-progress", stdout=out
    )
    printed = out.getvalue()
    assert "- 12 votes read on 4 pairs of 4 prompts" in printed
    assert "−1 pairs tied (tie_policy=drop)" in printed
    assert "−1 pairs both bad (both_bad_policy=drop)" in printed
    assert "- 2 rows written, from 2 pairs" in printed
    card = (tmp_path / "f/README.md").read_text()
    assert "−1 pairs tied (tie_policy=drop)" in card


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--min-gold-accuracy", "nan"),
        ("--test-fraction", "inf"),
        ("--test-fraction", "-inf"),
        ("--kto-threshold", "NaN"),
        ("--seed", "1e999"),
        ("--min-votes", "2.5"),
    ],
)
def test_the_command_refuses_non_finite_numbers_naming_the_option(campaign, tmp_path, flag, value):
    field = flag.removeprefix("--").replace("-", "_")
    with pytest.raises(CommandError, match=f"{field}: expected a"):
        call_command(
            "export_dataset", "helpfulness", "--out", str(tmp_path / "x"), f"{flag}={value}"
        )
    assert not (tmp_path / "x").exists()


def test_kto_from_the_database_writes_each_response_once_with_one_label(campaign, tmp_path):
    campaign_with_three_generators(campaign, prompts=6)
    summary = export_build(
        campaign=campaign,
        options=parse_options("trl-kto", {}),
        out_dir=tmp_path / "k",
        chunk_size=4,
    )
    rows = [json.loads(x) for x in (tmp_path / "k/data/train.jsonl").read_text().splitlines()]
    keys = [(r["prompt"][0]["content"], r["completion"][0]["content"]) for r in rows]
    assert len(keys) == len(set(keys))  # one row per (prompt, completion): one label each
    labels = {k: r["label"] for k, r in zip(keys, rows, strict=True)}
    # Odd prompts: x 2-0 (desirable), y 1-1 (contested, left out), z 0-2 (undesirable).
    assert labels[("Prompt 1?", "gen-x on 1")] is True
    assert labels[("Prompt 1?", "gen-z on 1")] is False
    assert ("Prompt 1?", "gen-y on 1") not in labels
    # Even prompts: y beat x, x beat z, y beat z: y 2-0, x 1-1, z 0-2.
    assert labels[("Prompt 0?", "gen-y on 0")] is True and ("Prompt 0?", "gen-x on 0") not in labels
    assert summary.row_count == 12 and summary.kto["contested"] == 6


def test_the_card_gives_alpha_over_every_vote_cached_or_not(campaign, tmp_path):
    from annotate.models import CampaignStats
    from annotate.services.campaign_stats import stats_refresh
    from tests.analytics.varied import varied_campaign

    varied_campaign(campaign, pairs=12)
    votes = Judgment.objects.filter(campaign=campaign, source="human").count()
    export_build(campaign=campaign, options=parse_options(None, {}), out_dir=tmp_path / "a")
    computed = (tmp_path / "a/README.md").read_text()
    assert f"over all {votes:,} human votes" in computed and "95% bootstrap CI" in computed
    stats_refresh(campaign_id=campaign.id, claim="run")
    CampaignStats.objects.filter(campaign=campaign).update(
        figures={"alpha": {"alpha": 0.123456, "low": 0.1, "high": 0.2, "pairs": 3}}
    )
    export_build(campaign=campaign, options=parse_options(None, {}), out_dir=tmp_path / "b")
    assert "0.123 (95% bootstrap CI 0.100 – 0.200)" in (tmp_path / "b/README.md").read_text()
    # A vote since the figures: the card computes α now again, over every vote.
    pair = campaign.pairs.last()
    Judgment.objects.create(campaign=campaign, pair=pair, choice="a", left_is_a=True)
    export_build(campaign=campaign, options=parse_options(None, {}), out_dir=tmp_path / "c")
    card = (tmp_path / "c/README.md").read_text()
    assert "0.123" not in card and f"over all {votes + 1:,} human votes" in card
