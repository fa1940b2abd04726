"""Where an uploaded file waits for its background import: Django's default storage, under imports/.

The web process saves the upload (copied in blocks: it is never held whole), a worker opens it and
reads it as a stream, and the file is deleted once the import has ended. With the default settings
that storage is the folder ``DATA_DIR/media`` (``MEDIA_ROOT``), so web and worker must share it (one
machine, or one mount); a deployment whose workers run elsewhere points the default storage at a
bucket (``STORAGES``) and nothing here changes.
"""

from __future__ import annotations

import uuid
from typing import IO

from django.core.files import File
from django.core.files.storage import default_storage

FOLDER = "imports"


def upload_save(*, source: IO[bytes] | File, file_name: str) -> str:
    """Store the file; the name to open it by. Keeps the extension (it says JSONL or CSV)."""
    suffix = ".csv" if file_name.lower().endswith(".csv") else ".jsonl"
    if isinstance(source, File):
        source.seek(0)
    else:
        source = File(source)
    return default_storage.save(f"{FOLDER}/{uuid.uuid4().hex}{suffix}", source)


def upload_open(name: str) -> IO[bytes]:
    return default_storage.open(name, "rb")


def upload_delete(name: str) -> None:
    if name:
        default_storage.delete(name)
