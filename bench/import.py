"""Benchmark: import N prompts (default 1,000,000 lines of JSONL) beside a raw load of the same rows.

    .venv/bin/python bench/import.py [--lines 1000000] [--skip-sqlite] [--responses 100000] [--keep]

It writes a realistic prompt file (mixed lengths, a tenth multi-turn ``messages`` with a system
prompt now and then, markdown and fenced code, metadata, ids), the same file with two bad lines near
the end (one malformed, one repeating line 1's conversation), and the rows those lines become, as
the prompt table's COPY text. Then, on PostgreSQL (its own database ``annotate_bench_import`` on the
server of $BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432) and on SQLite (a file in
a temporary folder), each step in a fresh subprocess so its memory is its own:

  floor    PostgreSQL: COPY of the rows file into the prompt table, in one transaction.
           SQLite: executemany of the same rows, in one transaction.
  import   services.prompts.prompts_import(...) on the JSONL file, read from disk as an upload is:
           the real path, every rule of annotate.validation on every line.
  bad      the same on the file with the two bad lines: what is reported, and that nothing is stored.
  render   the markdown of the imported prompts, as the background render does it (--render-procs
           processes side by side, each taking chunks).

and prints seconds and peak RSS growth (VmHWM after the step minus VmRSS before it, the peak reset
just before with /proc/self/clear_refs). Targets: import ≤ 3x the floor, RSS growth < 100 MiB, the
bad lines reported by number with nothing imported. ``--responses N`` also imports N nested
response lines (two models each) into PostgreSQL, a secondary figure. The PostgreSQL database is
dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "annotate_bench_import"
SERVER = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
CAMPAIGNS = ("bench-floor", "bench-import", "bench-bad", "bench-responses")


def _django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    os.environ.setdefault("DATA_DIR", str(ROOT / "data" / "bench"))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _status(key: str) -> float:
    """A VmRSS / VmHWM figure of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


class _Measure:
    """Seconds and peak RSS growth of the block: VmHWM after minus VmRSS before."""

    def __enter__(self):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        self.rss_before = _status("VmRSS")
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        self.growth_mib = _status("VmHWM") - self.rss_before

    def figures(self, **more) -> dict:
        return {"seconds": self.seconds, "rss_growth_mib": self.growth_mib, **more}


# --- the file ------------------------------------------------------------------------------------

TOPICS = ["networking", "databases", "cooking", "history", "physics", "writing", "finance",
          "biology", "law", "travel", "music", "python", "rust", "statistics", "gardening"]  # fmt: skip
SUBJECTS = ["DNS", "TCP slow start", "a B-tree", "sourdough starter", "the Treaty of Westphalia",
            "Rayleigh scattering", "a haiku about rain", "compound interest", "CRISPR", "adverse possession",
            "a week in Lisbon", "the circle of fifths", "list comprehensions", "the borrow checker",
            "p-values", "tomato blight", "photosynthesis", "a cover letter", "index fund fees",
            "garbage collection"]  # fmt: skip
ASKS = ["Explain {s} in two sentences.", "What is {s}, and why does it matter?",
        "Write a short paragraph about {s} for a curious twelve-year-old.",
        "Give me three common misconceptions about {s}.",
        "Compare {s} with the closest alternative you know, briefly.",
        "I keep getting confused by {s}. Can you walk me through it step by step?"]  # fmt: skip
WORDS = ("the of and to in is that for it as with was on be at by this had not are but from or have "
         "an they which one you were all we her she there would their will when who him been has more "
         "if no out so said what up its about into than them can only other new some could time these "
         "two may then do first any my now such like our over man me even most made after also did "
         "many before must through back years where much your way well down should because each just "
         "those people how too little state good very make world still own see men work long get here "
         "between both life being under never day same another know while last might us great old year "
         "off come since against go came right used take three").split()  # fmt: skip
CODE = '''```python
def {name}(items):
    """Return the {what} of items."""
    total = 0
    for i, item in enumerate(items):
        if item is None:
            continue
        total += item * {k}
    return total / max(len(items), 1)
```'''


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def _paragraphs(rng: random.Random, chars: int) -> str:
    """Sentences up to about ``chars`` characters, a paragraph break every few."""
    out, size = [], 0
    while size < chars:
        out.append(_sentence(rng, rng.randint(6, 18)))
        size += len(out[-1])
        if rng.random() < 0.25:
            out.append("\n\n")
    return " ".join(out).replace(" \n\n ", "\n\n").strip()


def _prompt_text(rng: random.Random, i: int) -> str:
    subject = rng.choice(SUBJECTS)
    ask = rng.choice(ASKS).format(s=subject)
    kind = rng.random()
    if kind < 0.80:  # a short question
        return f"{ask} (case {i})"
    if kind < 0.88:  # markdown: a list, bold, inline code
        items = "\n".join(f"- **{rng.choice(WORDS)}**: {_sentence(rng, 6)}" for _ in range(2))
        return f"{ask}\n\nConsider these points (case {i}):\n\n{items}\n\nUse `{subject}` as the heading."
    if kind < 0.94:  # fenced code
        code = CODE.format(name=f"mean_{i}", what=rng.choice(["mean", "weighted mean"]), k=i % 97)
        return f"Why does this return the wrong value for an empty list? (case {i})\n\n{code}"
    if kind < 0.995:  # a paragraph or two
        return f"{_paragraphs(rng, rng.randint(150, 400))}\n\n{ask} (case {i})"
    return f"Summarise this text (case {i}):\n\n{_paragraphs(rng, rng.randint(1500, 3000))}"


def prompt_row(rng: random.Random, i: int) -> dict:
    row: dict = {}
    if rng.random() < 0.9:
        row["id"] = f"p{i:07d}"
    if rng.random() < 0.08:  # a conversation
        turns = [{"role": "user", "content": _prompt_text(rng, i)}]
        for _ in range(rng.choice([1, 1, 2])):
            turns.append({"role": "assistant", "content": _paragraphs(rng, rng.randint(30, 150))})
            turns.append({"role": "user", "content": f"{_sentence(rng, 9)} (turn of case {i})"})
        row["messages"] = turns
        if rng.random() < 0.4:
            row["system"] = "You are a patient teacher. Answer in plain language."
    else:
        row["prompt"] = _prompt_text(rng, i)
        if rng.random() < 0.08:
            row["system"] = "Be concise."
    if rng.random() < 0.7:
        row["metadata"] = {
            "topic": rng.choice(TOPICS),
            "source": rng.choice(["forum", "support-tickets", "synthetic", "survey-2025"]),
            "difficulty": rng.randint(1, 5),
            "tags": rng.sample(TOPICS, rng.randint(0, 3)),
        }
    return row


def _copy_text(value: str) -> str:
    """A value in PostgreSQL COPY text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def files_write(work: Path, lines: int, campaign_id: int) -> dict:
    """prompts.jsonl, prompts-bad.jsonl and the rows they become (rows.copy), with their sizes."""
    _django(f"sqlite:///{work / 'unused.sqlite3'}")  # only to import the project's hashing
    from annotate.services.prompts import conversation_parse

    rng = random.Random(20260101)
    bad_malformed, bad_duplicate = lines - 7, lines - 3
    first = None
    with (
        open(work / "prompts.jsonl", "w", encoding="utf-8") as good,
        open(work / "prompts-bad.jsonl", "w", encoding="utf-8") as bad,
        open(work / "rows.copy", "w", encoding="utf-8") as rows,
    ):
        for i in range(1, lines + 1):
            row = prompt_row(rng, i)
            text = json.dumps(row, ensure_ascii=False)
            good.write(text + "\n")
            first = first or text
            if i == bad_malformed:
                bad.write(text[: len(text) // 2] + "\n")
            elif i == bad_duplicate:
                bad.write(first + "\n")
            else:
                bad.write(text + "\n")
            conversation = conversation_parse(row, from_csv=False)
            fields = [
                str(campaign_id),
                str(row.get("id", "")),
                json.dumps(conversation.messages, ensure_ascii=False),
                conversation.system,
                json.dumps(row.get("metadata", {}), ensure_ascii=False),
                conversation.content_hash,
                "[]",
                "2026-01-01 00:00:00+00",
            ]
            rows.write("\t".join(_copy_text(f) for f in fields) + "\n")
    return {
        "bytes": (work / "prompts.jsonl").stat().st_size,
        "bad_lines": [bad_malformed, bad_duplicate],
    }


def responses_write(path: Path, lines: int) -> int:
    rng = random.Random(7)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(1, lines + 1):
            row = {
                "id": f"r{i:07d}",
                "prompt": _prompt_text(rng, i),
                "responses": [
                    {"model": model, "text": _paragraphs(rng, rng.randint(200, 900))}
                    for model in ("model-a", "model-b")
                ],
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path.stat().st_size


# --- the steps (each in its own process) ---------------------------------------------------------

COLUMNS = "campaign_id, external_id, messages, system, metadata, content_hash, rendered, created_at"


def _campaign(slug: str):
    from annotate.models import Campaign

    return Campaign.objects.get(slug=slug)


def _prompts_of(slug: str) -> int:
    from annotate.models import Prompt

    return Prompt.objects.filter(campaign__slug=slug).count()


def step_floor(db_url: str, work: Path) -> dict:
    _django(db_url)
    from django.db import connection, transaction

    from annotate.models import Prompt

    table = Prompt._meta.db_table
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        with _Measure() as m, transaction.atomic(), connection.cursor() as cursor:
            with (
                cursor.cursor.copy(f"COPY {table} ({COLUMNS}) FROM STDIN") as copy,
                open(work / "rows.copy", "rb") as fh,
            ):
                while block := fh.read(1 << 20):
                    copy.write(block)
    else:
        sql = f"INSERT INTO {table} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        with _Measure() as m, transaction.atomic(), connection.cursor() as cursor:
            raw = cursor.cursor
            with open(work / "rows.copy", encoding="utf-8") as fh:
                batch = []
                for line in fh:
                    batch.append(tuple(_uncopy(f) for f in line.rstrip("\n").split("\t")))
                    if len(batch) == 5000:
                        raw.executemany(sql, batch)
                        batch = []
                raw.executemany(sql, batch)
    return m.figures(stored=_prompts_of("bench-floor"))


def _uncopy(value: str) -> str:
    if "\\" not in value:
        return value
    return (
        value.replace("\\\\", "\x00")
        .replace("\\t", "\t")
        .replace("\\n", "\n")
        .replace("\\r", "\r")
        .replace("\x00", "\\")
    )


def step_import(db_url: str, path: Path, slug: str) -> dict:
    _django(db_url)
    from django.db import connection

    from annotate.services.prompts import prompts_import

    campaign = _campaign(slug)
    connection.ensure_connection()
    with _Measure() as m, open(path, "rb") as fh:
        result = prompts_import(campaign=campaign, file_name=path.name, data=fh)
    return m.figures(
        created=result.created,
        errors=[str(e) for e in result.errors],
        stored=_prompts_of(slug),
    )


def step_render(db_url: str, slug: str, procs: int) -> dict:
    """The background render: every unrendered prompt of the campaign, in chunks, ``procs`` at once."""
    _django(db_url)
    from concurrent.futures import ProcessPoolExecutor

    from django.db import connections

    from annotate.models import Prompt
    from annotate.services.prompts import RENDER_CHUNK

    ids = list(
        Prompt.objects.filter(campaign__slug=slug).order_by("id").values_list("id", flat=True)
    )
    chunks = [
        (ids[i], ids[min(i + RENDER_CHUNK, len(ids)) - 1]) for i in range(0, len(ids), RENDER_CHUNK)
    ]
    connections.close_all()
    started = time.perf_counter()
    with ProcessPoolExecutor(procs, initializer=_django, initargs=(db_url,)) as pool:
        rendered = sum(pool.map(_render_chunk, chunks))
    seconds = time.perf_counter() - started
    left = Prompt.objects.filter(campaign__slug=slug, rendered=[]).count()
    return {"seconds": seconds, "rendered": rendered, "left": left, "procs": procs}


def _render_chunk(bounds: tuple[int, int]) -> int:
    from annotate.services.prompts import prompts_render

    return prompts_render(first_id=bounds[0], last_id=bounds[1])


def step_responses(db_url: str, path: Path) -> dict:
    _django(db_url)
    from django.db import connection

    from annotate.services.responses import responses_import

    campaign = _campaign("bench-responses")
    connection.ensure_connection()
    with _Measure() as m, open(path, "rb") as fh:
        result = responses_import(campaign=campaign, file_name=path.name, data=fh)
    return m.figures(created=result.created, errors=[str(e) for e in result.errors])


# --- running it ----------------------------------------------------------------------------------


def setup(db_url: str) -> list[int]:
    """A migrated database with the bench campaigns; their ids."""
    _django(db_url)
    from django.core.management import call_command
    from django.db import connections

    from annotate.models import Campaign

    call_command("migrate", verbosity=0)
    ids = [Campaign.objects.create(title=slug, slug=slug).id for slug in CAMPAIGNS]
    connections.close_all()
    return ids


def _clear(db_url: str) -> None:
    """Empty the prompt table between steps, so each starts from the same state."""
    if db_url.startswith("postgres"):
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("TRUNCATE annotate_prompt CASCADE")
            conn.execute("VACUUM ANALYZE annotate_prompt")
    else:
        import sqlite3

        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            conn.execute("DELETE FROM annotate_prompt")
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            conn.execute("VACUUM")


def _run(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"step {args} failed:\n{done.stderr[-5000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _backend(name: str, db_url: str, work: Path, args, file_info: dict) -> None:
    steps = {}
    _clear(db_url)
    steps["floor"] = _run("--step", "floor", "--db", db_url, "--work", str(work))
    _clear(db_url)
    steps["import"] = _run(
        "--step", "import", "--db", db_url, "--path", str(work / "prompts.jsonl"),
        "--slug", "bench-import",
    )  # fmt: skip
    if not args.skip_render:
        steps["render"] = _run(
            "--step", "render", "--db", db_url, "--slug", "bench-import",
            "--render-procs", str(args.render_procs),
        )  # fmt: skip
    steps["bad"] = _run(
        "--step", "bad", "--db", db_url, "--path", str(work / "prompts-bad.jsonl"),
        "--slug", "bench-bad",
    )  # fmt: skip
    floor, imp, bad = steps["floor"], steps["import"], steps["bad"]
    ratio = imp["seconds"] / floor["seconds"]
    floor_name = "COPY" if name == "PostgreSQL" else "executemany"
    print(f"\n{name}: {args.lines:,} lines, {file_info['bytes'] / 2**20:.0f} MiB of JSONL")
    print(f"{'':14}{'seconds':>10}{'rows/s':>12}{'RSS growth MiB':>17}{'stored':>12}")
    for label, r in ((floor_name, floor), ("import", imp)):
        rate = args.lines / r["seconds"]
        print(
            f"{label:14}{r['seconds']:>10.2f}{rate:>12,.0f}{r['rss_growth_mib']:>17.1f}"
            f"{r['stored']:>12,}"
        )
    print(
        f"import / {floor_name} = {ratio:.2f}x (target <= 3x); import RSS growth "
        f"{imp['rss_growth_mib']:.0f} MiB (target < 100 MiB)"
    )
    if "render" in steps:
        r = steps["render"]
        print(
            f"background render: {r['rendered']:,} prompts in {r['seconds']:.1f} s with "
            f"{r['procs']} processes ({r['rendered'] / max(r['seconds'], 1e-9):,.0f}/s), "
            f"{r['left']:,} left unrendered"
        )
    print(
        f"bad file (bad lines {file_info['bad_lines']}): {bad['seconds']:.2f} s, RSS growth "
        f"{bad['rss_growth_mib']:.0f} MiB, {bad['stored']:,} prompts stored; reported:"
    )
    for error in bad["errors"]:
        print(f"    {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-render", action="store_true")
    parser.add_argument("--render-procs", type=int, default=2)
    parser.add_argument("--responses", type=int, default=0, help="nested response lines to import")
    parser.add_argument("--keep", action="store_true", help="keep the bench database and files")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--slug", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.step:
        if args.step == "files":
            out = files_write(args.work, args.lines, campaign_id=1)
        elif args.step == "setup":
            out = {"ids": setup(args.db)}
        elif args.step == "floor":
            out = step_floor(args.db, args.work)
        elif args.step in ("import", "bad"):
            out = step_import(args.db, args.path, args.slug)
        elif args.step == "render":
            out = step_render(args.db, args.slug, args.render_procs)
        else:
            out = step_responses(args.db, args.path)
        print(json.dumps(out))
        return

    import psycopg

    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    pg_url = f"{SERVER}/{DB_NAME}"
    sqlite_url = f"sqlite:///{work / 'bench.sqlite3'}"
    backends = []
    if not args.skip_postgres:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DB_NAME}")
        backends.append(("PostgreSQL", pg_url))
    if not args.skip_sqlite:
        backends.append(("SQLite", sqlite_url))
    try:
        for _, url in backends:
            ids = _run("--step", "setup", "--db", url)["ids"]
            if ids[0] != 1:
                sys.exit(f"expected a fresh database, got campaign ids {ids}")
        started = time.perf_counter()
        file_info = _run("--step", "files", "--work", str(work), "--lines", str(args.lines))
        print(
            f"wrote {args.lines:,} lines ({file_info['bytes'] / 2**20:.0f} MiB) in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        for name, url in backends:
            _backend(name, url, work, args, file_info)
        if args.responses and not args.skip_postgres:
            size = responses_write(work / "responses.jsonl", args.responses)
            r = _run("--step", "responses", "--db", pg_url, "--path", str(work / "responses.jsonl"))
            print(
                f"\nresponses (PostgreSQL): {args.responses:,} lines ({size / 2**20:.0f} MiB): "
                f"{r['created']:,} responses in {r['seconds']:.2f} s, RSS growth "
                f"{r['rss_growth_mib']:.0f} MiB"
            )
            for error in r["errors"][:5]:
                print(f"    {error}")
    finally:
        if args.keep:
            print(f"kept {work} and {DB_NAME}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            if not args.skip_postgres:
                with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
                    conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
