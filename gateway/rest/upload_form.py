"""The upload endpoint's multipart form: its fields, its files saved to disk, its /docs schema.

`POST /v2/repository/models/{m}/versions` takes `file` (the artifact or source model), and
optionally `to` (a format to convert to), `alias`, `sample` (a parity sample file) and
`version` (the number to publish it as; refused with 409 unless above every number the
model ever had).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import IO, Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from gateway.control.uploads import safe_filename
from gateway.errors import InvalidInput

MAX_FIELDS = 8


def is_upload(method: str, path: str) -> bool:
    """True for the upload endpoint, which has its own body limit."""
    return (
        method == "POST"
        and path.startswith("/v2/repository/models/")
        and path.endswith("/versions")
    )


def model_file(form: FormData) -> UploadFile:
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise InvalidInput("the form has no file in the field 'file'")
    return file


def text_field(form: FormData, field: str) -> str | None:
    value = form.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"the form field {field!r} must be text, not a file")
    return value


def version_field(form: FormData) -> int | None:
    text = text_field(form, "version")
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput(f"the form field 'version' must be a version number, got {text!r}")
    return int(text)


async def save_file(file: UploadFile, path: Path) -> None:
    await run_in_threadpool(_copy, file.file, path)


async def save_sample(form: FormData, folder: Path) -> Path | None:
    """The optional parity sample, saved next to the model under a name of its own."""
    sample = form.get("sample")
    if sample is None:
        return None
    if not isinstance(sample, UploadFile):
        raise InvalidInput("the form field 'sample' must be a file (.csv, .npy, .npz, .parquet)")
    path = folder / "sample" / safe_filename(sample.filename or "sample")
    path.parent.mkdir()
    await save_file(sample, path)
    return path


def _copy(source: IO[bytes], path: Path) -> None:
    with path.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)


def openapi() -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary"},
            "to": {"type": "string", "enum": ["onnx", "pmml", "savedmodel"]},
            "alias": {"type": "string"},
            "sample": {"type": "string", "format": "binary"},
            "version": {"type": "integer", "minimum": 1},
        },
    }
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }
