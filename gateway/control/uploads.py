"""What an uploaded file is, and how it becomes a new version.

- `.onnx`, `.pmml`: an artifact, stored as is after it opens (`to` may only repeat its format);
- `.zip`, `.tar.gz`, `.tgz`, `.tar` holding a SavedModel: stored as is without `to`, or
  converted from that SavedModel with `to=FORMAT`;
- a source model (`.skops`, `.pt2`, `.keras` ...) with `to=FORMAT`: converted here, with the
  parity check, through `converters.pipeline` (exactly what `modelport convert` does), on
  the uploaded `sample` (.csv, .npy, .npz, .parquet) if there is one;
- pickles (`.pkl`, `.joblib`) run code when loaded: refused unless the operator allowed them.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from converters.errors import ModelLoadError
from converters.loading import PICKLE_SUFFIXES, SAVED_MODEL_FILE, SOURCE_SUFFIXES, framework_of
from gateway.control.archives import (
    ARCHIVE_SUFFIXES,
    ArchiveLimits,
    extract,
    is_archive,
    single_root,
)
from gateway.control.artifacts import import_artifact
from gateway.errors import Forbidden, InvalidInput, Unprocessable, UnsupportedMediaType
from model_repo.formats import FORMAT_NAMES
from model_repo.manifest import Manifest
from model_repo.repository import Repository

ARTIFACT_SUFFIXES = {".onnx": "onnx", ".pmml": "pmml"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class UploadPolicy:
    allow_pickle: bool = False
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)


@dataclass(frozen=True)
class UploadPlan:
    filename: str  # safe to use as a file name
    kind: str  # "artifact" | "archive" | "source"
    format: str  # the artifact's format, or the target of the conversion
    convert: bool


def plan_upload(filename: str, to: str | None, policy: UploadPolicy) -> UploadPlan:
    """Decide what to do with an upload from its name alone, before any work is done."""
    name = safe_filename(filename)
    lower = name.lower()
    if to is not None and to not in FORMAT_NAMES:
        raise InvalidInput(f"to={to!r} is not a format; use one of {', '.join(FORMAT_NAMES)}")
    suffix = Path(lower).suffix
    if suffix in ARTIFACT_SUFFIXES:
        fmt = ARTIFACT_SUFFIXES[suffix]
        if to not in (None, fmt):
            raise InvalidInput(
                f"{name} is a {fmt} artifact and is stored as is; to={to} does not apply "
                "(upload the source model to convert it)"
            )
        return UploadPlan(name, "artifact", fmt, convert=False)
    if is_archive(lower):
        return UploadPlan(name, "archive", to or "savedmodel", convert=to is not None)
    if suffix in PICKLE_SUFFIXES and not policy.allow_pickle:
        raise Forbidden(
            f"{name} is a pickle, and loading a pickle runs arbitrary code; uploads of "
            "pickles are refused. Save the model with skops (.skops), or have the operator "
            "start the server with --allow-pickle"
        )
    try:
        framework = framework_of(Path(name))
    except ModelLoadError:
        raise UnsupportedMediaType(
            f"{name}: modelport stores {' and '.join(ARTIFACT_SUFFIXES)} artifacts and "
            f"SavedModel archives ({', '.join(ARCHIVE_SUFFIXES)}) as they are, and converts "
            f"source models ({', '.join(SOURCE_SUFFIXES)}); "
            f"{suffix or 'a file without a suffix'} is none of them"
        ) from None
    if to is None:
        raise InvalidInput(
            f"{name} is a {framework} model: add the form field to=FORMAT "
            f"({', '.join(FORMAT_NAMES)}) to convert it"
        )
    return UploadPlan(name, "source", to, convert=True)


def import_upload(
    repo: Repository,
    name: str,
    plan: UploadPlan,
    path: Path,
    policy: UploadPolicy,
    alias: str | None = None,
    sample: Path | None = None,
    version: int | None = None,
) -> Manifest:
    """Publish the uploaded file at `path` as planned (as `version` if given); blocking,
    run it in a thread."""
    if sample is not None and not plan.convert:
        raise InvalidInput(
            "a sample is for a conversion's parity check; this upload converts nothing"
        )
    if version is not None:
        repo.check_version_free(name, version)  # before unpacking or converting anything
    if plan.kind == "artifact":
        return import_artifact(
            repo, path, name, plan.format, alias=alias, source_name=plan.filename, version=version
        )
    if plan.kind == "source":
        return _convert(repo, path, name, plan, policy, alias, sample, version)
    with tempfile.TemporaryDirectory(prefix="modelport-unpack-") as tmp:
        unpacked = Path(tmp) / "unpacked"
        extract(path, unpacked, policy.archive)
        root = single_root(unpacked, SAVED_MODEL_FILE)
        if root is None:
            raise Unprocessable(
                f"{plan.filename} holds no {SAVED_MODEL_FILE}, neither at its top nor inside "
                "one top-level directory; a SavedModel archive is the only archive accepted"
            )
        if plan.convert:
            return _convert(repo, root, name, plan, policy, alias, sample, version)
        return import_artifact(
            repo, root, name, "savedmodel", alias=alias, source_name=plan.filename, version=version
        )


def _convert(
    repo: Repository,
    path: Path,
    name: str,
    plan: UploadPlan,
    policy: UploadPolicy,
    alias: str | None,
    sample: Path | None,
    version: int | None,
) -> Manifest:
    from converters.pipeline import convert_file

    return convert_file(
        repo,
        path,
        name,
        plan.format,
        sample_path=sample,
        alias=alias,
        allow_pickle=policy.allow_pickle,
        version=version,
    )


def safe_filename(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).lstrip(".")
    if not cleaned:
        raise InvalidInput("the uploaded file needs a file name (it tells modelport its type)")
    return cleaned[-200:]
