"""The JSON Lines writer: the same bytes however the records are handed to it, and the bytes the
writer wrote before it encoded a group at a time (each record with msgspec, joined by newlines)."""

from __future__ import annotations

import json

import msgspec
import pytest

from annotate.exports import writers
from annotate.exports.writers import JsonlWriter

RECORDS = [
    {"prompt": [{"role": "user", "content": 'Ça va? 日本語 \u2028 "quoted" \\ \n\t'}], "n": 1},
    {"chosen": [{"role": "assistant", "content": "emoji 🙂 and <html> & é"}], "margin": 0.5},
    {"label": True, "tie": False, "none": None, "big": 2**53, "neg": -3, "float": 1e-7},
    {"nested": {"z": 1, "a": [1, 2.25, "x"]}, "empty": "", "list": []},
]


def _expected(records) -> bytes:
    """The earlier writer's bytes: one msgspec encode per record, joined by newlines."""
    encode = msgspec.json.Encoder().encode
    return b"\n".join([*(encode(r) for r in records), b""])


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 20_000])
def test_it_writes_the_same_bytes_one_record_or_a_group_at_a_time(
    tmp_path, monkeypatch, chunk_rows
):
    monkeypatch.setattr(writers, "CHUNK_ROWS", chunk_rows)
    records = RECORDS * 3
    writer = JsonlWriter(tmp_path / "train.jsonl")
    writer.write(records[0])
    writer.write_many(records[1:4])
    writer.write_many([])
    for record in records[4:7]:
        writer.write(record)
    writer.write_many(records[7:])
    writer.close()
    assert writer.rows == len(records)
    written = (tmp_path / "train.jsonl").read_bytes()
    assert written == _expected(records)
    assert [json.loads(line) for line in written.split(b"\n")[:-1]] == records


def test_an_empty_file_stays_empty(tmp_path):
    writer = JsonlWriter(tmp_path / "train.jsonl")
    writer.close()
    assert (tmp_path / "train.jsonl").read_bytes() == b""
