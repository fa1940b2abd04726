"""Export a campaign's votes as a dataset folder (and optionally a zip), streamed from the database.

    python manage.py export_dataset <campaign-slug> --out <dir> [--format trl-dpo-conversational]
        [--method majority|mean_strength] [--tie-policy drop|keep|split]
        [--both-bad-policy drop|rewrite] [--source human|judge|all] [--include-gold]
        [--min-gold-accuracy 0.8] [--min-votes 1] [--test-fraction 0.1] [--seed 0]
        [--kto-threshold 0.75] [--kto-contested drop|desirable|undesirable] [--zip]

The folder holds README.md (dataset card), data/train.<ext> (+ data/test.<ext>) and SHA256SUMS; the
same options on the same data write the same bytes. Run ``--list-formats`` to see every format.
It prints what was read and what each filter left out. An export that would hold no row, or a row
that breaks its format's rules, writes nothing and exits non-zero with the reason.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotate.exports.options import FORMATS, ExportOptionsError, parse_options
from annotate.exports.summary import funnel
from annotate.exports.writers import sha256_file, zip_folder
from annotate.models import Campaign
from annotate.services.exports import ExportFailed, export_build, export_pairs_to_read


class Command(BaseCommand):
    help = (
        "Export a campaign's preference data (TRL DPO/reward/KTO, SFT, HH-RLHF, OpenAI, raw votes)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", nargs="?", help="campaign slug")
        parser.add_argument("--out", type=Path, help="output folder (created; must be empty)")
        parser.add_argument("--format", default="trl-dpo-conversational", help="see --list-formats")
        parser.add_argument("--list-formats", action="store_true", help="list formats and exit")
        parser.add_argument(
            "--method",
            help="aggregation: majority (default), mean_strength, dawid_skene or mace",
        )
        parser.add_argument("--tie-policy", help="drop (default), keep or split")
        parser.add_argument("--both-bad-policy", help="drop (default) or rewrite")
        parser.add_argument("--source", help="human (default), judge, or all (raw formats)")
        parser.add_argument("--include-gold", action="store_true", help="keep gold pairs")
        parser.add_argument("--min-gold-accuracy", help="leave out raters below this gold accuracy")
        parser.add_argument("--min-votes", help="leave out pairs with fewer counted votes")
        parser.add_argument("--test-fraction", help="share of prompts in the test split")
        parser.add_argument("--seed", help="seed of the prompt split")
        parser.add_argument(
            "--kto-threshold", help="KTO: win share for desirable (1 - it: undesirable); 0.75"
        )
        parser.add_argument(
            "--kto-contested",
            help="KTO: contested completions: drop (default), desirable, undesirable",
        )
        parser.add_argument(
            "--ranking-pairs",
            help="ranking campaigns: pairs from each ranking, all (default) or best_vs_rest",
        )
        parser.add_argument(
            "--view",
            help="only the pairs of a browse view: the Pairs page's query string, e.g. 'q=sql&contested=on'",
        )
        parser.add_argument(
            "--adjudicated",
            help="human-source exports: prefer (default) an adjudicated pair's final label, or ignore it",
        )
        parser.add_argument(
            "--rating-pairs",
            help="rating campaigns: best_vs_each (default) or best_vs_random (seeded)",
        )
        parser.add_argument(
            "--rating-min-gap", help="rating campaigns: least score gap of a pair (default 1)"
        )
        parser.add_argument(
            "--raw-participant-ids",
            action="store_true",
            help="crowd participants' platform ids in the rater column (default: a pseudonym)",
        )
        parser.add_argument("--zip", action="store_true", help="also write <out>.zip")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **opts) -> None:
        if opts["list_formats"]:
            for name, description in FORMATS.items():
                self.stdout.write(f"{name:24} {description}")
            return
        if not opts["campaign"] or not opts["out"]:
            raise CommandError("give a campaign slug and --out <dir> (or --list-formats)")
        try:
            campaign = Campaign.objects.get(slug=opts["campaign"])
        except Campaign.DoesNotExist:
            raise CommandError(f"no campaign with slug {opts['campaign']!r}") from None

        keys = ("method", "tie_policy", "both_bad_policy", "source", "min_gold_accuracy")
        keys += ("min_votes", "test_fraction", "seed", "kto_threshold", "kto_contested")
        keys += ("ranking_pairs", "adjudicated", "view", "rating_pairs", "rating_min_gap")
        filters = {k: opts[k] for k in keys if opts[k] is not None}
        if opts["include_gold"]:
            filters["include_gold"] = True
        if opts["raw_participant_ids"]:
            filters["raw_participant_ids"] = True
        try:
            options = parse_options(opts["format"], filters)
        except ExportOptionsError as exc:
            raise CommandError(f"bad export options: {exc}") from None

        out: Path = opts["out"]
        total = export_pairs_to_read(campaign=campaign)
        bar = tqdm(total=total, unit="pair", disable=opts["no_progress"], file=sys.stderr)

        def progress(pairs_seen: int) -> None:
            bar.update(pairs_seen - bar.n)

        started = time.perf_counter()
        try:
            summary = export_build(
                campaign=campaign, options=options, out_dir=out, progress=progress
            )
        except ExportOptionsError as exc:
            raise CommandError(str(exc)) from None
        except ExportFailed as exc:
            if exc.summary is not None:
                self.stdout.write("\n".join(funnel(exc.summary, options)))
            raise CommandError(f"{exc} Nothing was written to {out}.") from None
        finally:
            bar.close()
        elapsed = time.perf_counter() - started

        self.stdout.write(
            f"{options.format}: {summary.row_count:,} rows from {summary.pairs_exported:,} of "
            f"{summary.pairs_seen:,} pairs ({summary.votes_counted:,} votes counted) in {elapsed:.1f}s"
        )
        for split, n in summary.rows.items():
            self.stdout.write(f"  {split}: {n:,} rows")
        self.stdout.write("\n".join(funnel(summary, options)))
        self.stdout.write(f"  folder: {out}")
        if opts["zip"]:
            archive = zip_folder(out, out.with_suffix(".zip"), root=out.name)
            self.stdout.write(f"  zip: {archive} sha256 {sha256_file(archive)}")
