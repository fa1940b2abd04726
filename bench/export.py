"""Benchmark: export N pairs (default 1,000,000) from PostgreSQL, beside a raw COPY of the same rows.

    .venv/bin/python bench/export.py [--pairs 1000000] [--format trl-dpo-conversational] [--keep]

It creates its own database (``annotate_bench_export`` on the server of $BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432), migrates it, fills it with SQL ``INSERT … SELECT
generate_series`` (one prompt, two candidates, one pair and one vote per pair), then runs, each in a
fresh subprocess so peak RSS is its own:

  copy    COPY (<the export's SELECT>) TO STDOUT, streamed to a file — the floor for reading the rows
          (the SELECT of the format's columns: the raw formats read every column, the others fewer)
  export  services.exports.export_build(...) — the real streaming export, written to a folder —
          then, timed on its own, the worker's publish (annotate/export_files.py: zip, sha256,
          save to the exports storage; here the local folder, a rename)

(first, unless --cold-stats, the campaign's statistics are computed as the stats worker computes
them once votes arrive, so the export's dataset card reads them instead of computing α itself)
and prints wall time, CPU time (of the process and its parts: steadier than wall time on a busy
machine), the CPU time of PostgreSQL (every server process, read from /proc when the server runs
on this machine: for COPY the server does most of the work), and the peak memory of the phase's
processes (PSS, sampled every 50 ms: a forked part's pages still shared with its lead count once),
then the export / COPY ratios of wall time and of CPU time (the processes alone, and with
PostgreSQL's). --processes 1 2 runs the export once per EXPORT_PROCESSES (services/export_parts.py).
Targets (#16): export ≤ 2× COPY time, < 300 MiB.
With --bucket the export runs once more with the exports storage on an S3-compatible bucket
(moto's server, started on 127.0.0.1 in its own process), and also prints the upload and the time
to stream the zip back through the storage; then a --download-mib object of random bytes is read
back through annotate.bucket_storage (streamed) and through django-storages' stock S3Storage (which
downloads the whole object first), each in its own process: time to first byte and added RSS.
The database (``annotate_bench_export``, or
$BENCH_EXPORT_DB) is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = os.environ.get("BENCH_EXPORT_DB", "annotate_bench_export")
BUCKET = "bench-exports"
DOWNLOAD_NAME = "bench/random.bin"
SERVER = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")


def _django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _cpu_seconds() -> float:
    """This process's CPU time (user + system) and its ended children's (an export's parts):
    steadier than wall time on a busy machine."""
    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def _backend_cpu_seconds() -> float | None:
    """CPU time of every PostgreSQL process on this machine, ended ones included (the
    postmaster's children's time), when /proc shows them (else None): the server's share of the
    work, which the process's own CPU time leaves out (for COPY it is most of the work). Every
    process: a query's parallel workers and each export part's backend do the work too."""
    ticks, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, _, rest = text.partition(" (")[2].rpartition(")")
        if name != "postgres":
            continue
        fields = rest.split()
        # utime, stime, cutime, cstime: fields 14 to 17 of the line, 12 to 15 after the name
        ticks += sum(int(value) for value in fields[11:15])
        found = True
    return ticks / os.sysconf("SC_CLK_TCK") if found else None


def _server_cpu(before: float | None) -> float | None:
    after = _backend_cpu_seconds()
    return None if before is None or after is None else after - before


def _tree_memory_mib(pid: int) -> tuple[float, float, int]:
    """PSS and RSS of a process and all its descendants (an export and its parts), in MiB, and
    how many they are. PSS shares each page among the processes mapping it: a fork's pages that
    both still share count once in all, where RSS counts them in each."""
    pss = rss = 0
    seen = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1])
            seen += 1
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, ValueError):
            continue
        todo += [int(child) for child in children]
    return pss / 1024, rss / 1024, seen


def _peak_rss_mib() -> float:
    """The peak RSS of this process or of its biggest ended child (an export's part)."""
    peaks = (
        resource.getrusage(who).ru_maxrss
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return max(peaks) / 1024  # Linux reports KiB


FILL_SQL = """
SET session_replication_role = replica;  -- skip FK triggers while filling (superuser); reset below
INSERT INTO annotate_user (password, is_superuser, username, first_name, last_name, email,
                           is_staff, is_active, date_joined, role)
SELECT '!', false, 'bench-rater-' || i, '', '', '', false, true, now(), 'rater'
FROM generate_series(1, 20) AS i;

INSERT INTO annotate_generator (campaign_id, name, provider, model, base_url, endpoint, params,
                                system_prompt, samples_per_prompt, created_at)
SELECT c.id, g.name, 'demo', g.name || '-model', '', '', '{}', '', 1, now()
FROM annotate_campaign c, (VALUES ('gen-x'), ('gen-y')) AS g(name) WHERE c.slug = 'bench';

INSERT INTO annotate_prompt (campaign_id, external_id, messages, system, metadata, content_hash,
                             rendered, created_at)
SELECT c.id, 'p' || i,
       jsonb_build_array(jsonb_build_object('role', 'user', 'content',
           'Question ' || i || ': explain why the sky looks blue at noon and red at sunset.')),
       CASE WHEN i % 10 = 0 THEN 'Be concise.' ELSE '' END,
       '{}', md5(i::text), '[]', now()
FROM annotate_campaign c, generate_series(1, {PAIRS}) AS i WHERE c.slug = 'bench';

INSERT INTO annotate_candidate (prompt_id, generator_id, sample_index, status, text, html,
    stop_reason, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd,
    request_id, error, attempts, self_identifies, reasoning, reasoning_html, reasoning_tokens,
    reasoning_cost_usd, final_answer, answer_rule)
SELECT p.id, g.id, 0, 'done',
       g.name || ' answers prompt ' || p.id || ': ' || repeat('Rayleigh scattering favours short wavelengths. ', 4),
       '', 'end_turn', 20, 80, 0, 0, 0, '', '', 1, false, '', '', 0, 0, '', ''
FROM annotate_prompt p JOIN annotate_generator g ON g.campaign_id = p.campaign_id;

INSERT INTO annotate_pair (campaign_id, prompt_id, candidate_a_id, candidate_b_id, strategy,
    gold_answer, needed, assigned, completed, left_a_count, random_key, excluded, priority,
    created_at)
SELECT p.campaign_id, p.id, min(c.id), max(c.id), 'cross_generator', '', 1, 1, 1, 0, random(),
       false, 0, now()
FROM annotate_prompt p JOIN annotate_candidate c ON c.prompt_id = p.id
GROUP BY p.campaign_id, p.id;

INSERT INTO annotate_judgment (campaign_id, pair_id, rater_id, source, choice, strength, aspects,
    rationale, rewrite, left_is_a, time_on_task_ms, judge_shown, created_at)
SELECT pr.campaign_id, pr.id, u.id, 'human',
       (ARRAY['a', 'a', 'b', 'tie', 'both_bad'])[1 + pr.id % 5],
       CASE WHEN pr.id % 5 < 3 THEN 1 + pr.id % 3 ELSE 0 END,
       '{}', '', '', pr.id % 2 = 0, 1000 + pr.id % 9000, false, now()
FROM annotate_pair pr
JOIN annotate_user u ON u.username = 'bench-rater-' || (1 + pr.id % 20);
SET session_replication_role = DEFAULT;
ANALYZE;
"""


def setup(pairs: int) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    _django(f"{SERVER}/{DB_NAME}")
    from django.core.management import call_command
    from django.db import connection

    from annotate.models import Campaign

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    # The campaign through the ORM (its fields' defaults are Django's, not the table's); the rows
    # in bulk SQL.
    Campaign.objects.create(
        title="Bench", slug="bench", guidelines="Pick the better answer.", status="open",
        scale="graded7", allow_both_bad=True,
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(FILL_SQL.replace("{PAIRS}", str(int(pairs))))
    print(f"filled {pairs:,} pairs in {time.perf_counter() - started:.1f}s", flush=True)
    # What every write path does (Candidate.read_length), done here for the rows the SQL wrote:
    # left to the first statistics run, it measured every candidate there and took most of it.
    from annotate.services.campaign_stats import candidates_measure

    measured = time.perf_counter()
    count = candidates_measure(campaign_id=Campaign.objects.get(slug="bench").id)
    print(f"reading lengths of {count:,} candidates stored in "
          f"{time.perf_counter() - measured:.1f}s", flush=True)  # fmt: skip


def phase_stats() -> dict:
    """The campaign's statistics computed as the stats worker does after votes arrive
    (services/campaign_stats.py), so the export's card finds them fresh, as it would in use."""
    _django(f"{SERVER}/{DB_NAME}")
    from annotate.models import Campaign
    from annotate.selectors.analytics import campaign_stats
    from annotate.services.campaign_stats import stats_refresh

    campaign = Campaign.objects.get(slug="bench")
    fresh = campaign_stats(campaign=campaign)
    if fresh.computed and not fresh.new_votes:  # a kept database's, from an earlier run
        return {"seconds": 0.0, "done": True}
    started = time.perf_counter()
    done = stats_refresh(campaign_id=campaign.id, claim="bench-export")
    return {"seconds": time.perf_counter() - started, "done": done.computed}


def phase_copy(out: Path, fmt: str) -> dict:
    """COPY of exactly the rows and columns the export of ``fmt`` reads (the selector's SELECT,
    in the export's read transaction), streamed to a file as the server sends it."""
    _django(f"{SERVER}/{DB_NAME}")
    from django.db import connection

    from annotate.exports.options import parse_options
    from annotate.models import Campaign
    from annotate.selectors.exports import export_read_transaction, export_vote_select

    campaign = Campaign.objects.get(slug="bench")
    lean = not parse_options(fmt, {}).is_raw
    server = _backend_cpu_seconds()
    started, cpu = time.perf_counter(), _cpu_seconds()
    size = 0
    with export_read_transaction(), connection.cursor() as cursor, open(out, "wb") as fh:
        sql, params, _ = export_vote_select(campaign_id=campaign.id, lean=lean)
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY ({sql}) TO STDOUT", params) as copy:
            for block in copy:
                fh.write(block)
                size += len(block)
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": _cpu_seconds() - cpu,
        "server_cpu_seconds": _server_cpu(server),
        "bytes": size,
        "rss_mib": _peak_rss_mib(),
    }


def phase_export(fmt: str) -> dict:
    """Build as the worker does (its local build folder), then publish to the exports storage."""
    _django(f"{SERVER}/{DB_NAME}")
    from django.core.files.storage import storages

    from annotate import export_files
    from annotate.exports.options import parse_options
    from annotate.models import Campaign, Export
    from annotate.services.exports import export_build

    campaign = Campaign.objects.get(slug="bench")
    export = Export(id=1, campaign=campaign, format=fmt)  # unsaved: only names the file
    out = export_files.export_build_folder(export)
    server = _backend_cpu_seconds()
    started, cpu = time.perf_counter(), _cpu_seconds()
    summary = export_build(campaign=campaign, options=parse_options(fmt, {}), out_dir=out)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    server = _server_cpu(server)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    rss = _peak_rss_mib()

    started = time.perf_counter()
    published = export_files.export_file_publish(export=export, folder=out)
    publish_seconds = time.perf_counter() - started
    storage = storages[export_files.EXPORTS_STORAGE]
    result = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "server_cpu_seconds": server,
        "bytes": size,
        "rows": summary.row_count,
        "pairs": summary.pairs_seen,
        "rss_mib": rss,
        "publish_seconds": publish_seconds,
        "zip_bytes": storage.size(published.name),
    }
    if os.environ.get("EXPORT_BUCKET"):
        import hashlib

        started = time.perf_counter()
        digest = hashlib.sha256()
        with storage.open(published.name, "rb") as fh:
            for block in iter(lambda: fh.read(export_files.DOWNLOAD_BLOCK_BYTES), b""):
                digest.update(block)
        result["download_seconds"] = time.perf_counter() - started
        result["download_same_bytes"] = digest.hexdigest() == published.sha256
    result["rss_after_mib"] = _peak_rss_mib()
    return result


def phase_download(kind: str) -> dict:
    """Read the random object back through the exports storage, or through the stock backend."""
    _django(f"{SERVER}/{DB_NAME}")
    import hashlib

    from django.conf import settings
    from storages.backends.s3 import S3Storage

    from annotate.bucket_storage import StreamingS3Storage

    backend = StreamingS3Storage if kind == "streamed" else S3Storage
    storage = backend(**settings.STORAGES["exports"]["OPTIONS"])
    baseline = _peak_rss_mib()
    started = time.perf_counter()
    first_byte = None
    digest = hashlib.sha256()
    with storage.open(DOWNLOAD_NAME, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            if first_byte is None:
                first_byte = time.perf_counter() - started
            digest.update(block)
    return {
        "first_byte_seconds": first_byte,
        "seconds": time.perf_counter() - started,
        "added_rss_mib": _peak_rss_mib() - baseline,
        "sha256": digest.hexdigest(),
    }


def _run_phase(*args: str, env: dict | None = None) -> dict:
    """A phase in a fresh process, its process tree's memory sampled every 50 ms meanwhile."""
    peak = {"pss_mib": 0.0, "tree_rss_mib": 0.0, "processes": 0}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, __file__, *args],
            stdout=out,
            stderr=err,
            text=True,
            env={**os.environ, **(env or {})},
        )
        while proc.poll() is None:
            pss, rss, processes = _tree_memory_mib(proc.pid)
            if pss > peak["pss_mib"]:
                peak["pss_mib"], peak["tree_rss_mib"] = pss, rss
            peak["processes"] = max(peak["processes"], processes)
            time.sleep(0.05)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode:
        sys.exit(f"phase {args[1]} failed:\n{stderr}")
    return {**json.loads(stdout.strip().splitlines()[-1]), **peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--format", default="trl-dpo-conversational")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--skip-setup", action="store_true", help="reuse a kept bench database")
    parser.add_argument(
        "--bucket", action="store_true", help="also export to an S3-compatible bucket (moto)"
    )
    parser.add_argument(
        "--download-mib", type=int, default=256, help="size of the --bucket download check"
    )
    parser.add_argument(
        "--cold-stats",
        action="store_true",
        help="leave the campaign's statistics uncomputed: the export's card computes alpha itself",
    )
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        default=[2],
        help="EXPORT_PROCESSES of the export, one run each (default 2; 1: the worker's process alone)",
    )
    parser.add_argument(
        "--phase", choices=["copy", "export", "download", "stats"], help=argparse.SUPPRESS
    )
    parser.add_argument("--kind", choices=["streamed", "stock"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)  # the copy phase's file
    args = parser.parse_args()

    if args.phase == "copy":
        print(json.dumps(phase_copy(args.out, args.format)))
        return
    if args.phase == "export":
        print(json.dumps(phase_export(args.format)))
        return
    if args.phase == "download":
        print(json.dumps(phase_download(args.kind)))
        return
    if args.phase == "stats":
        print(json.dumps(phase_stats()))
        return

    if not args.skip_setup:
        setup(args.pairs)
        from django.db import connections

        connections.close_all()  # the fill's connection must not keep the database busy
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    local = {"EXPORT_ROOT": str(work / "exports"), "EXPORT_WORK_DIR": str(work / "export-work")}
    moto = None
    try:
        stats = None if args.cold_stats else _run_phase("--phase", "stats")
        copy = _run_phase(
            "--phase", "copy", "--format", args.format, "--out", str(work / "copy.tsv")
        )
        exports = {
            n: _run_phase(
                "--phase",
                "export",
                "--format",
                args.format,
                env={**local, "EXPORT_PROCESSES": str(n)},
            )
            for n in args.processes
        }
        export = exports[args.processes[0]]
        bucket, downloads = None, {}
        if args.bucket:
            moto, bucket_env = _start_bucket()
            env = {**local, **bucket_env}
            bucket = _run_phase("--phase", "export", "--format", args.format, env=env)
            expected = _put_random_object(bucket_env, work / "random.bin", args.download_mib)
            for kind in ("streamed", "stock"):
                downloads[kind] = _run_phase("--phase", "download", "--kind", kind, env=env)
                if downloads[kind]["sha256"] != expected:
                    sys.exit(f"the {kind} read returned other bytes than were uploaded")
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep:
            import psycopg

            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            print(f"dropped {DB_NAME}")

    print(f"pairs: {export['pairs']:,}  format: {args.format}  rows written: {export['rows']:,}")
    if stats is None:
        print("campaign statistics left uncomputed (--cold-stats): the card computes alpha itself")
    else:
        print(
            f"campaign statistics computed first, as the stats worker does "
            f"({stats['seconds']:.1f}s, done: {stats['done']}): the card reads them"
        )
    print(
        f"{'':14}{'seconds':>9}{'CPU s':>8}{'PG CPU s':>10}{'peak PSS MiB':>14}"
        f"{'procs':>7}{'MiB written':>13}"
    )
    rows = [("COPY", copy)] + [(f"export, {n} proc", r) for n, r in exports.items()]
    for name, r in rows:
        server = r["server_cpu_seconds"]
        print(
            f"{name:14}{r['seconds']:>9.2f}{r['cpu_seconds']:>8.2f}"
            f"{'n/a' if server is None else f'{server:.2f}':>10}{r['pss_mib']:>14.1f}"
            f"{r['processes']:>7}{r['bytes'] / 2**20:>13.1f}"
        )
    for n, r in exports.items():
        ratio = r["seconds"] / copy["seconds"]
        line = (
            f"export ({n} proc) / COPY = {ratio:.2f}x wall (target <= 2x); peak PSS "
            f"{r['pss_mib']:.0f} MiB in all (target < 300 MiB; RSS of the biggest process "
            f"{r['rss_mib']:.0f} MiB); CPU {r['cpu_seconds'] / copy['cpu_seconds']:.2f}x"
        )
        if copy["server_cpu_seconds"] is not None and r["server_cpu_seconds"] is not None:
            total = (r["cpu_seconds"] + r["server_cpu_seconds"]) / (
                copy["cpu_seconds"] + copy["server_cpu_seconds"]
            )
            line += f", {total:.2f}x with PostgreSQL's"
        print(line)
    zip_mib = export["zip_bytes"] / 2**20
    print(
        f"publish to the local folder (zip + sha256 + save): {export['publish_seconds']:.2f}s "
        f"for a {zip_mib:.1f} MiB zip; peak RSS after {export['rss_after_mib']:.0f} MiB"
    )
    if bucket is not None:
        print(
            f"bucket run: export {bucket['seconds']:.2f}s "
            f"({bucket['seconds'] / copy['seconds']:.2f}x COPY); publish (zip + sha256 + upload) "
            f"{bucket['publish_seconds']:.2f}s; streamed back {bucket['download_seconds']:.2f}s, "
            f"same bytes: {bucket['download_same_bytes']}; peak RSS after "
            f"{bucket['rss_after_mib']:.0f} MiB"
        )
        for kind, r in downloads.items():
            print(
                f"{args.download_mib} MiB object read back, {kind:>8}: first byte after "
                f"{r['first_byte_seconds']:.2f}s, all {r['seconds']:.2f}s, "
                f"RSS +{r['added_rss_mib']:.0f} MiB"
            )


def _put_random_object(bucket_env: dict, path: Path, mib: int) -> str:
    import hashlib

    import boto3

    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        for _ in range(mib):
            block = os.urandom(1 << 20)
            digest.update(block)
            fh.write(block)
    boto3.client(
        "s3",
        endpoint_url=bucket_env["EXPORT_BUCKET_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=bucket_env["EXPORT_BUCKET_ACCESS_KEY_ID"],
        aws_secret_access_key=bucket_env["EXPORT_BUCKET_SECRET_ACCESS_KEY"],
    ).upload_file(str(path), BUCKET, f"exports/{DOWNLOAD_NAME}")
    path.unlink()
    return digest.hexdigest()


def _start_bucket() -> tuple[subprocess.Popen, dict]:
    """moto's S3 server on a free loopback port, in its own process, with an empty bucket."""
    import socket

    import boto3

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "EXPORT_BUCKET": BUCKET,
        "EXPORT_BUCKET_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "EXPORT_BUCKET_REGION": "us-east-1",
        "EXPORT_BUCKET_ACCESS_KEY_ID": "bench-not-a-key",
        "EXPORT_BUCKET_SECRET_ACCESS_KEY": "bench-not-a-secret",
        "EXPORT_BUCKET_ADDRESSING_STYLE": "path",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    client = boto3.client(
        "s3",
        endpoint_url=env["EXPORT_BUCKET_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="bench-not-a-key",
        aws_secret_access_key="bench-not-a-secret",
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            client.create_bucket(Bucket=BUCKET)
            return server, env
        except Exception:
            if time.monotonic() > deadline or server.poll() is not None:
                server.terminate()
                raise
            time.sleep(0.2)


if __name__ == "__main__":
    main()
