"""The exports storage on an S3-compatible bucket: django-storages' S3 backend with streamed reads.

Named in settings.STORAGES["exports"] when EXPORT_BUCKET is set (project/settings.py), so boto3 is
imported only then.
"""

from __future__ import annotations

from botocore.exceptions import ClientError
from django.core.files.base import File
from storages.backends.s3 import S3Storage
from storages.utils import clean_name


class StreamingS3Storage(S3Storage):
    """S3Storage whose ``open(name, "rb")`` reads the object's body as it arrives.

    The stock S3File downloads the whole object into a SpooledTemporaryFile before the first byte
    is read (in memory, unless AWS_S3_MAX_MEMORY_SIZE is set); an export's zip can be gigabytes.
    Writing is unchanged: ``save`` uploads from the file, in parts when it is large.
    """

    def _open(self, name: str, mode: str = "rb") -> File:
        if mode != "rb":
            return super()._open(name, mode)
        key = self._normalize_name(clean_name(name))
        try:
            response = self.bucket.Object(key).get()
        except ClientError as err:
            if err.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                raise FileNotFoundError(f"File does not exist: {name}") from err
            raise
        # No name: FileResponse would otherwise look for a local file of that name to size it.
        file = File(response["Body"])
        file.size = response["ContentLength"]
        return file
