"""What an uploaded file is, and how it becomes a new version.

- `.onnx`, `.pmml`: an artifact, stored as is after it opens (`to` may only repeat its format);
- `.zip`, `.tar.gz`, `.tgz`, `.tar` holding a SavedModel: stored as is without `to`, or
  converted from that SavedModel with `to=FORMAT`;
- such an archive holding an MLflow model directory (an `MLmodel` file): converted with
  `to=FORMAT` (an MLflow sklearn model stored as a pickle is a pickle, below);
- a source model (`.skops`, `.pt2`, `.keras`, a native XGBoost `.json`/`.ubj` or LightGBM
  `.txt` ...) with `to=FORMAT`: converted here, with the parity check, through
  `converters.pipeline` (exactly what `modelport convert` does), on the uploaded `sample`
  (.csv, .npy, .npz, .parquet) if there is one; a `.json` or `.txt` that is no booster is
  refused once its content is read;
- pickles (`.pkl`, `.joblib`, and MLflow models whose MLmodel says pickle or cloudpickle) run
  code when loaded: refused unless the operator allowed them.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from converters.errors import ModelLoadError
from converters.loading import (
    PICKLE_SUFFIXES,
    SAVED_MODEL_FILE,
    SNIFFED_SUFFIXES,
    SOURCE_SUFFIXES,
    framework_of,
)
from converters.mlflow_model import MLMODEL_FILE, pickle_refusal, read_mlmodel
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
        what = f"a {framework} model"
        if suffix in SNIFFED_SUFFIXES:  # a .txt is a model only if its content is one
            what = f"taken for a {framework} model file (its content decides)"
        raise InvalidInput(
            f"{name} is {what}: add the form field to=FORMAT ({', '.join(FORMAT_NAMES)}) to "
            "convert it"
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
            mlflow_root = single_root(unpacked, MLMODEL_FILE)
            if mlflow_root is None:
                raise Unprocessable(
                    f"{plan.filename} holds neither {SAVED_MODEL_FILE} nor {MLMODEL_FILE}, at "
                    "its top or inside one top-level directory; the archives accepted hold a "
                    "SavedModel or an MLflow model"
                )
            _check_mlflow(mlflow_root, plan, policy)
            return _convert(repo, mlflow_root, name, plan, policy, alias, sample, version)
        if plan.convert:
            return _convert(repo, root, name, plan, policy, alias, sample, version)
        return import_artifact(
            repo, root, name, "savedmodel", alias=alias, source_name=plan.filename, version=version
        )


def _check_mlflow(root: Path, plan: UploadPlan, policy: UploadPolicy) -> None:
    """An MLflow model is a source to convert, and a pickled one needs the operator's leave."""
    model = read_mlmodel(root)
    if not plan.convert:
        raise InvalidInput(
            f"{plan.filename} holds an MLflow {model.flavor} model: add the form field "
            f"to=FORMAT ({', '.join(FORMAT_NAMES)}) to convert it"
        )
    if model.pickled and not policy.allow_pickle:
        raise Forbidden(pickle_refusal(model))


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
