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


class _FailingFile:
    """A file whose second write fails, as a full disk would."""

    def __init__(self, real):
        self.real, self.writes = real, 0

    def write(self, data):
        self.writes += 1
        if self.writes == 2:
            raise OSError(28, "No space left on device")
        return self.real.write(data)

    def close(self):
        self.real.close()


def test_a_failed_write_in_the_background_is_raised_not_lost(tmp_path, monkeypatch):
    # The chunks go to the file from a thread of their own; a write that fails there must still
    # fail the export (by the next write or by close), never leave a short file behind silently.
    monkeypatch.setattr(writers, "CHUNK_ROWS", 1)
    writer = JsonlWriter(tmp_path / "train.jsonl")
    writer._fh = _FailingFile(writer._fh)
    with pytest.raises(OSError, match="No space left"):
        for record in RECORDS * 3:
            writer.write(record)
        writer.close()
    writer.close()  # an export that failed closes its writers again: that is fine
    assert writer._fh.writes == 2  # nothing was written after the failure
