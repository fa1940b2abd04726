"""Imports over the REST API: prompts and candidate responses, as an uploaded file or inline rows.

A prompt file over MAX_INLINE_IMPORT_BYTES is imported by a worker (``PromptImport``, 202, polled at
PromptImportDetailApi); everything else commits in the request. Either way all or nothing: a refused
import is 400 with every bad line, {"created": 0, "errors": [{"line": 3, "reason": "..."}]}, and a
file over the limit 413. Admins only (annotate.access: a rater gets 403 for their own campaign and
404 for any other).
"""

from __future__ import annotations

import json

from django.core.files import File
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_admin
from annotate.api import import_rows
from annotate.api.parsers import JSONParser, PayloadTooLarge
from annotate.api.serializers import InputSerializer
from annotate.models import PromptImport
from annotate.services.prompt_imports import prompt_import_start
from annotate.services.prompts import ImportResult, LineError, prompts_import
from annotate.services.responses import responses_import
from annotate.validation import (
    MAX_IMPORT_BYTES,
    MAX_INLINE_IMPORT_BYTES,
)


class LineErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    reason = serializers.CharField()


class ImportOutputSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    skipped = serializers.IntegerField()
    errors = LineErrorSerializer(many=True)
    notes = serializers.ListField(child=serializers.CharField())


class ResponseImportFileSerializer(InputSerializer):
    """A JSONL or CSV file, as multipart/form-data."""

    file = serializers.FileField(
        help_text=f"JSONL or CSV, at most {MAX_INLINE_IMPORT_BYTES // 1024 // 1024} MB."
    )


@extend_schema_field(import_rows.RESPONSE_ROW)
class _ResponseRowField(serializers.DictField):
    pass


@extend_schema_field(import_rows.PROMPT_ROW)
class _PromptRowField(serializers.DictField):
    pass


class ResponseImportRowsSerializer(InputSerializer):
    """The rows themselves as JSON objects (row n is reported as line n)."""

    rows = serializers.ListField(child=_ResponseRowField(), min_length=1)


class PromptImportFileSerializer(InputSerializer):
    """A JSONL or CSV file, as multipart/form-data; one over the inline limit is imported by a
    worker (202 with the import to follow)."""

    file = serializers.FileField(
        help_text=f"JSONL or CSV, at most {MAX_IMPORT_BYTES // 1024 // 1024} MB; over "
        f"{MAX_INLINE_IMPORT_BYTES // 1024 // 1024} MB it is imported in the background."
    )
    skip_existing = serializers.BooleanField(default=False)


class PromptImportRowsSerializer(InputSerializer):
    """The rows themselves as JSON objects (row n is reported as line n)."""

    rows = serializers.ListField(child=_PromptRowField(), min_length=1)
    skip_existing = serializers.BooleanField(default=False)


def _import_payload(data: dict, max_bytes: int) -> tuple[str, bytes | File]:
    if data.get("file"):
        upload = data["file"]
        if upload.size > max_bytes:
            raise PayloadTooLarge(
                f"The file is larger than {max_bytes // 1024 // 1024} MB; split it."
            )
        return upload.name, upload
    lines = [json.dumps(row, ensure_ascii=False) for row in data["rows"]]
    return "rows.jsonl", "\n".join(lines).encode()


def _flatten(errors, where: str = "") -> list[str]:
    """DRF's nested error detail as "field: message" lines."""
    if isinstance(errors, dict):
        return [m for key, value in errors.items() for m in _flatten(value, _join(where, key))]
    if isinstance(errors, list) and all(isinstance(e, str) for e in errors):
        return [
            f"{where}: {e}" if where and where != "non_field_errors" else str(e) for e in errors
        ]
    if isinstance(errors, list):
        return [m for i, value in enumerate(errors) for m in _flatten(value, f"{where}[{i}]")]
    return [f"{where}: {errors}" if where else str(errors)]


def _join(where: str, key) -> str:
    return f"{where}[{key}]" if str(key).isdigit() else (f"{where}.{key}" if where else str(key))


def _import_response(result: ImportResult) -> Response:
    body = {
        "created": result.created,
        "skipped": result.skipped,
        "errors": [{"line": e.line, "reason": e.reason} for e in result.errors],
        "notes": result.notes,
    }
    return Response(body, status=200 if result.ok else 400)


class _ImportApi(APIView):
    """POST a JSONL/CSV file (multipart or JSON body): all rows or none, every bad line reported.

    Every refusal of the request itself is reported the same way, as a line 0 error.
    """

    parser_classes = [JSONParser, MultiPartParser]
    max_bytes = MAX_INLINE_IMPORT_BYTES
    file_serializer: type[serializers.Serializer]
    rows_serializer: type[serializers.Serializer]

    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        try:
            data = request.data
        except ParseError as exc:  # a body that cannot be read: line 0, like any refused file
            return _import_response(ImportResult(errors=[LineError(0, str(exc.detail))]))
        if request.content_type.startswith("application/json"):
            serializer = self.rows_serializer(data=data)
        else:
            serializer = self.file_serializer(data=data)
        if not serializer.is_valid():
            errors = [LineError(0, message) for message in _flatten(serializer.errors)]
            return _import_response(ImportResult(errors=errors))
        file_name, data = _import_payload(serializer.validated_data, self.max_bytes)
        if isinstance(data, File) and data.size > MAX_INLINE_IMPORT_BYTES:
            return self.background(
                request, campaign=campaign, upload=data, options=serializer.validated_data
            )
        return _import_response(
            self.run(
                campaign=campaign, file_name=file_name, data=data, options=serializer.validated_data
            )
        )

    def run(self, *, campaign, file_name: str, data: bytes | File, options: dict):
        raise NotImplementedError

    def background(self, request: Request, *, campaign, upload: File, options: dict) -> Response:
        raise PayloadTooLarge(
            f"The file is larger than {MAX_INLINE_IMPORT_BYTES // 1024 // 1024} MB; split it."
        )


class PromptImportOutputSerializer(serializers.ModelSerializer):
    errors = LineErrorSerializer(many=True)

    class Meta:
        model = PromptImport
        fields = [
            "id", "status", "file_name", "size", "skip_existing", "lines_read", "bad_lines",
            "created", "skipped", "errors", "error", "created_at", "finished_at",
        ]  # fmt: skip


def _import_schema(file_serializer, rows_serializer, **more):
    return extend_schema(
        request={"multipart/form-data": file_serializer, "application/json": rows_serializer},
        responses={200: ImportOutputSerializer, 400: ImportOutputSerializer, **more},
    )


@_import_schema(
    PromptImportFileSerializer, PromptImportRowsSerializer, **{"202": PromptImportOutputSerializer}
)
class PromptImportApi(_ImportApi):
    file_serializer, rows_serializer = PromptImportFileSerializer, PromptImportRowsSerializer
    max_bytes = MAX_IMPORT_BYTES

    def background(self, request, *, campaign, upload, options):
        job = prompt_import_start(
            campaign=campaign,
            actor=request.user,
            upload=upload,
            file_name=upload.name,
            skip_existing=options["skip_existing"],
        )
        return Response(PromptImportOutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    def run(self, *, campaign, file_name, data, options):
        return prompts_import(
            campaign=campaign,
            file_name=file_name,
            data=data,
            skip_existing=options["skip_existing"],
        )


@extend_schema(responses={200: PromptImportOutputSerializer})
class PromptImportDetailApi(APIView):
    """A background prompt import: its progress while it runs, then what it imported or every bad
    line (nothing imported)."""

    def get(self, request: Request, slug: str, import_id: int) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        job = get_object_or_404(PromptImport, campaign=campaign, id=import_id)
        return Response(PromptImportOutputSerializer(job).data)


@_import_schema(ResponseImportFileSerializer, ResponseImportRowsSerializer)
class ResponseImportApi(_ImportApi):
    file_serializer, rows_serializer = ResponseImportFileSerializer, ResponseImportRowsSerializer

    def run(self, *, campaign, file_name, data, options):
        return responses_import(campaign=campaign, file_name=file_name, data=data)
