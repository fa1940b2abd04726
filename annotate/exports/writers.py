"""File writers that write as rows arrive, so memory stays flat. Pure: no Django.

JSON Lines are written record by record (compact, UTF-8, keys in insertion order: same records →
same bytes). CSV and Parquet buffer a chunk of rows, turn it into a pandas DataFrame
with a fixed schema and append it, so a million votes never sit in memory at once.
"""

from __future__ import annotations

import hashlib
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import msgspec

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

CHUNK_ROWS = 20_000
# A fixed timestamp inside the zip so the archive of the same files is the same bytes.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class RowWriter(Protocol):
    rows: int

    def write(self, record: dict) -> None: ...

    def write_many(self, records: list[dict]) -> None: ...

    def close(self) -> None: ...


class JsonlWriter:
    """JSON Lines with msgspec's encoder: the same compact UTF-8 JSON as ``json.dumps(record,
    ensure_ascii=False, separators=(",", ":"))`` (keys in insertion order), several times faster,
    which matters at a million rows. It writes NaN as null, so the validator refuses NaN first.
    The records given together (a prompt's) are encoded in one call (``encode_lines``: each
    record, then a newline); the encoded lines wait until ``CHUNK_ROWS`` rows, one write each.
    The writes go to the file from a thread of their own, one at a time and in order, while the
    export builds the next chunk (a write waits for the disk without holding the GIL); an error
    of a write is raised by the next write, or by ``close``."""

    def __init__(self, path: Path):
        self.path = path
        self.rows = 0
        self._fh = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._encode_lines = msgspec.json.Encoder().encode_lines
        self._buffer: list[bytes] = []
        self._buffered = 0  # rows in the buffer
        self._disk = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jsonl-write")
        self._writing: Future | None = None  # the write under way: one chunk at most in memory

    def write(self, record: dict) -> None:
        self.write_many([record])

    def write_many(self, records: list[dict]) -> None:
        self._buffer.append(self._encode_lines(records))
        self.rows += len(records)
        self._buffered += len(records)
        if self._buffered >= CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            chunk = b"".join(self._buffer)
            self._buffer.clear()
            self._buffered = 0
            self._wait()
            self._writing = self._disk.submit(self._fh.write, chunk)

    def _wait(self) -> None:
        if self._writing is not None:
            writing, self._writing = self._writing, None
            writing.result()  # raises the write's error here

    def close(self) -> None:
        try:
            self._flush()
            self._wait()
        finally:
            self._disk.shutdown(wait=True)
            self._fh.close()


@cache
def raw_schema() -> pa.Schema:
    """Raw-vote schema shared by CSV and Parquet; nullable integers stay integers.

    pandas/pyarrow are imported here, not at module import, so pages that only link to exports
    do not pay for loading them.
    """
    import pyarrow as pa

    return pa.schema(
        [
            ("judgment_id", pa.int64()),
            ("pair_id", pa.int64()),
            ("prompt_id", pa.int64()),
            ("prompt_external_id", pa.string()),
            ("rater", pa.string()),
            ("source", pa.string()),
            ("choice", pa.string()),
            ("strength", pa.int64()),
            ("scale_value", pa.float64()),
            ("aspects", pa.string()),
            ("rationale", pa.string()),
            ("rewrite", pa.string()),
            ("shown_left", pa.string()),
            ("time_on_task_ms", pa.int64()),
            ("judge_shown", pa.bool_()),
            ("judge_verdict", pa.string()),
            ("revises_id", pa.int64()),
            ("is_latest", pa.bool_()),
            ("generator_a", pa.string()),
            ("generator_b", pa.string()),
            ("gold_answer", pa.string()),
            ("created_at", pa.string()),
            ("model_a", pa.string()),
            ("model_b", pa.string()),
            ("params_a", pa.string()),
            ("params_b", pa.string()),
            ("input_tokens_a", pa.int64()),
            ("output_tokens_a", pa.int64()),
            ("cost_usd_a", pa.float64()),
            ("input_tokens_b", pa.int64()),
            ("output_tokens_b", pa.int64()),
            ("cost_usd_b", pa.float64()),
            ("judge_rubric_version", pa.int64()),
        ]
    )


def _frame(records: list[dict]) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa

    table = pa.Table.from_pylist(records, schema=raw_schema())
    return table.to_pandas(types_mapper=pd.ArrowDtype)


class CsvWriter:
    def __init__(self, path: Path):
        self.path = path
        self.rows = 0
        self._buffer: list[dict] = []
        self._header = True
        path.write_bytes(b"")

    def write(self, record: dict) -> None:
        self.write_many([record])

    def write_many(self, records: list[dict]) -> None:
        self._buffer += records
        self.rows += len(records)
        if len(self._buffer) >= CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer and not self._header:
            return
        frame = _frame(self._buffer)
        frame.to_csv(self.path, mode="a", header=self._header, index=False, lineterminator="\n")
        self._header = False
        self._buffer.clear()

    def close(self) -> None:
        self._flush()


class ParquetWriter:
    def __init__(self, path: Path):
        self.path = path
        self.rows = 0
        self._buffer: list[dict] = []
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(path, raw_schema(), compression="zstd")

    def write(self, record: dict) -> None:
        self.write_many([record])

    def write_many(self, records: list[dict]) -> None:
        self._buffer += records
        self.rows += len(records)
        if len(self._buffer) >= CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            import pyarrow as pa

            self._writer.write_table(pa.Table.from_pylist(self._buffer, schema=raw_schema()))
            self._buffer.clear()

    def close(self) -> None:
        self._flush()
        self._writer.close()


def open_writer(kind: str, path: Path) -> RowWriter:
    return {"jsonl": JsonlWriter, "csv": CsvWriter, "parquet": ParquetWriter}[kind](path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_sha256sums(folder: Path) -> Path:
    """SHA256SUMS in `sha256sum -c` format for every file in the folder (sorted, itself excluded)."""
    lines = [
        f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}"
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "SHA256SUMS"
    ]
    target = folder / "SHA256SUMS"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def zip_folder(folder: Path, zip_path: Path, *, root: str) -> Path:
    """A deterministic zip of the folder: sorted names, fixed timestamps, everything under ``root/``."""
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            info = zipfile.ZipInfo(f"{root}/{path.relative_to(folder).as_posix()}", ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(path, "rb") as src, zf.open(info, "w") as dst:
                for block in iter(lambda: src.read(1 << 20), b""):
                    dst.write(block)
    return zip_path
