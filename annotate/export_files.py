"""Where finished exports live: the worker publishes the zip to storage, downloads stream from it.

Every file goes through Django's storage API, ``storages["exports"]`` (project/settings.py): the
local folder EXPORT_ROOT by default, an S3-compatible bucket when EXPORT_BUCKET is set. So a web
process can serve an export that a worker on another machine made.

    export_build_folder   a new empty folder on this machine's disk (EXPORT_WORK_DIR) to build in
    export_builds_remove  what earlier builds of an export left there (their worker was killed)
    export_file_publish   zip and hash that folder, save the zip to storage, remove the local copies
    export_file_response  the zip for a download: streamed from storage, or a redirect to a
                          short-lived signed URL of the bucket (EXPORT_BUCKET_SIGNED_URLS)

The Export row names its file (``Export.path``, the storage name) only once the zip is saved, and
downloads open only what the row names: a crash before publishing leaves nothing to download. Rows
made before exports went through storage hold an absolute local folder there, with its zip beside
it; those are still served from local disk.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.utils.http import content_disposition_header

from annotate.exports.writers import sha256_file, zip_folder
from annotate.models import Export

EXPORTS_STORAGE = "exports"
# Larger reads than FileResponse's 4 KiB: each read from a bucket goes through the HTTP client.
DOWNLOAD_BLOCK_BYTES = 1 << 16


@dataclass(frozen=True)
class PublishedExport:
    name: str  # in storages["exports"]
    sha256: str  # of the zip


class _BuiltZip(File):
    """A zip on local disk offered the way Django offers a large upload, so the local-disk storage
    moves it into place (an atomic rename on the same filesystem) instead of copying it."""

    def temporary_file_path(self) -> str:
        return self.file.name


def export_file_name(export: Export) -> str:
    return f"{export.campaign.slug}/export-{export.id}.zip"


def export_build_folder(export: Export) -> Path:
    """A new, empty folder on this machine's disk for building ``export``."""
    work = Path(settings.EXPORT_WORK_DIR)
    work.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"export-{export.id}-", dir=work))


def export_builds_remove(export: Export) -> None:
    """Remove the folders (and local zips) that earlier builds of ``export`` left on this disk."""
    work = Path(settings.EXPORT_WORK_DIR)
    for path in work.glob(f"export-{export.id}-*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def export_file_publish(*, export: Export, folder: Path) -> PublishedExport:
    """Zip the built ``folder``, hash the zip and save it to the exports storage.

    The folder and the local zip are removed whether or not the save succeeds.
    """
    archive = folder.with_name(folder.name + ".zip")
    try:
        zip_folder(folder, archive, root=f"{export.campaign.slug}-export-{export.id}")
        digest = sha256_file(archive)
        with open(archive, "rb") as fh:
            name = storages[EXPORTS_STORAGE].save(export_file_name(export), _BuiltZip(fh))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        archive.unlink(missing_ok=True)
    return PublishedExport(name=name, sha256=digest)


def _open(export: Export) -> File:
    if os.path.isabs(export.path):  # made before storage: the zip sits beside the folder
        return File(open(export.path + ".zip", "rb"))  # noqa: SIM115 - FileResponse closes it
    return storages[EXPORTS_STORAGE].open(export.path, "rb")


def export_file_response(*, export: Export) -> FileResponse | HttpResponseRedirect:
    """The finished export's zip as an attachment. The caller has checked who is asking."""
    if export.status != Export.Status.DONE or not export.path:
        raise Http404("This export has no file yet")
    filename = f"{export.campaign.slug}-{export.format}-{export.id}.zip"
    if settings.EXPORT_DOWNLOAD_REDIRECT and not os.path.isabs(export.path):
        storage = storages[EXPORTS_STORAGE]
        if not storage.exists(export.path):
            raise Http404("This export's file is missing")
        url = storage.url(
            export.path,
            parameters={
                "ResponseContentDisposition": content_disposition_header(True, filename),
                "ResponseContentType": "application/zip",
            },
        )
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-store"  # the URL expires; nobody may keep it
        return response
    try:
        file = _open(export)
    except FileNotFoundError:
        raise Http404("This export's file is missing") from None
    response = FileResponse(
        file, as_attachment=True, filename=filename, content_type="application/zip"
    )
    response.block_size = DOWNLOAD_BLOCK_BYTES
    response["Content-Length"] = str(file.size)
    return response
