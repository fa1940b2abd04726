"""A file download, for the ASGI serving tests."""

from __future__ import annotations

import tempfile

from django.http import FileResponse
from django.urls import include, path

SIZE = 3 * 1024 * 1024 + 17


def download(request):
    f = tempfile.TemporaryFile()
    f.write(bytes(range(256)) * (SIZE // 256) + b"x" * (SIZE % 256))
    f.seek(0)
    return FileResponse(f, as_attachment=True, filename="big.bin")


urlpatterns = [path("big/", download), path("", include("project.urls"))]
