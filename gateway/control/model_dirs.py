"""Import models laid out by TF Serving or Triton, keeping their version numbers.

- A TF Serving `model_base_path`: `<path>/<version>/saved_model.pb` (or `.pbtxt`), each
  numbered dir a SavedModel (`00000123` is version 123);
- a Triton model: `<path>/<version>/model.onnx` (or `model.savedmodel/`, `model.pmml`, or the
  `default_model_filename` of `<path>/config.pbtxt`, whose `platform` or `backend` then
  names the format);
- a Triton model repository: `<repo>/<model>/<version>/...`, each model under its dir name;
- or one artifact (`.onnx`, `.pmml`, a SavedModel dir), published as the next version or as
  the number asked for (`import_path`, which `modelport models import` calls).

Every version is staged, described and opened by its format (the code that will serve it)
before any is published, so a version that does not open publishes nothing; then they are
published in ascending order, each as its own number. A number the model already had is
refused (Conflict) before any work: versions are immutable and never reused. Dirs whose
name is not a number are not versions, and are ignored (as both servers ignore them).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

from gateway.control.artifacts import import_artifact, stage_artifact
from model_repo import check_model_name
from model_repo.errors import ArtifactError, InvalidArgument
from model_repo.formats import FORMAT_NAMES, get_format
from model_repo.formats.savedmodel import SAVED_MODEL_PB, SAVED_MODEL_PBTXT
from model_repo.manifest import Manifest
from model_repo.repository import Repository
from model_repo.staging import check_version_number

TRITON_CONFIG = "config.pbtxt"
# What a version dir holds, per format: Triton's default file names, and a TF Serving
# version dir being the SavedModel itself.
_DEFAULT_FILES = {"onnx": "model.onnx", "savedmodel": "model.savedmodel", "pmml": "model.pmml"}
_TRITON_PLATFORMS = {
    "onnxruntime_onnx": "onnx",
    "onnxruntime": "onnx",
    "tensorflow_savedmodel": "savedmodel",
    "tensorflow": "savedmodel",
}
_CONFIG_FIELD = re.compile(r'^\s*(platform|backend|default_model_filename)\s*:\s*"([^"]*)"', re.M)


@dataclass(frozen=True)
class FoundVersion:
    number: int
    artifact: Path  # the file or SavedModel dir to import
    format: str


def is_version_tree(path: Path) -> bool:
    """True for a dir holding numbered version dirs (a TF Serving or Triton model)."""
    return path.is_dir() and any(_number(child) is not None for child in path.iterdir())


def import_path(
    repo: Repository,
    path: Path,
    name: str | None = None,
    format_name: str | None = None,
    version: int | None = None,
) -> dict[str, list[Manifest]]:
    """Publish what `path` holds, by model: a dir of numbered versions (keeping the
    numbers), a repository of such dirs (each model under its dir name), or one artifact
    (as `version`, else as the next number)."""
    if not path.exists():
        raise ArtifactError(f"{path} does not exist")
    if is_version_tree(path):
        if version is not None:
            raise InvalidArgument(f"{path} holds numbered versions, which keep their numbers")
        model = name or path.name
        return {model: import_versions(repo, path, model, format_name)}
    if path.is_dir() and not _is_saved_model(path):
        if name is not None or version is not None:
            raise InvalidArgument(
                f"{path} is a repository of models, each imported under its own dir name "
                "with its own numbers; --name and --version apply to one model"
            )
        return import_repository(repo, path, format_name)
    fmt = format_name or _format_of(path)
    model = name or path.stem
    return {model: [import_artifact(repo, path, model, fmt, version=version)]}


def find_versions(path: Path, format_name: str | None = None) -> list[FoundVersion]:
    """The numbered versions under `path`, ascending, with each one's artifact and format."""
    if format_name is not None:
        get_format(format_name)
    configured, filename = _triton_config(path)
    fmt = format_name or configured
    found: dict[int, FoundVersion] = {}
    for child in sorted(path.iterdir()):
        number = _number(child)
        if number is None:
            continue
        if number in found:
            raise ArtifactError(
                f"{path}: {child.name} and {found[number].artifact.parent.name} are both "
                f"version {number}"
            )
        found[number] = _version(child, number, fmt, filename)
    if not found:
        raise ArtifactError(
            f"{path} holds no numbered version dirs (<path>/1/, <path>/00000123/ ...), "
            "as a TF Serving model_base_path or a Triton model does"
        )
    return [found[number] for number in sorted(found)]


def import_versions(
    repo: Repository, path: Path, name: str, format_name: str | None = None
) -> list[Manifest]:
    """Publish every numbered version under `path` as model `name`, keeping the numbers."""
    check_model_name(name)
    versions = find_versions(path, format_name)
    repo.check_version_free(name, versions[0].number)
    with contextlib.ExitStack() as stack:
        staged = []
        for version in versions:
            staging = stack.enter_context(repo.stage(name, version.number))
            source = f"{path.name}/{version.artifact.relative_to(path)}"
            fmt = get_format(version.format)
            staged.append((staging, stage_artifact(staging, version.artifact, fmt, source)))
        return [staging.publish(draft) for staging, draft in staged]


def import_repository(
    repo: Repository, root: Path, format_name: str | None = None
) -> dict[str, list[Manifest]]:
    """Publish every model of a Triton-style repository under its dir name."""
    models = sorted(p for p in root.iterdir() if is_version_tree(p))
    if not models:
        raise ArtifactError(
            f"{root} holds no model dirs with numbered versions (<repo>/<model>/<version>/)"
        )
    for model in models:  # every name checked before anything is staged
        check_model_name(model.name)
    return {model.name: import_versions(repo, model, model.name, format_name) for model in models}


def _number(child: Path) -> int | None:
    if not child.is_dir() or not (child.name.isascii() and child.name.isdigit()):
        return None
    try:
        return check_version_number(int(child.name))
    except InvalidArgument as exc:
        raise ArtifactError(f"{child}: {exc}") from None


def _version(folder: Path, number: int, fmt: str | None, filename: str | None) -> FoundVersion:
    """The artifact of one version dir: the configured file, Triton's default file of the
    format, or the dir itself when it is a SavedModel (TF Serving)."""
    candidates = [fmt] if fmt else list(FORMAT_NAMES)
    for candidate in candidates:
        artifact = folder / (filename or _DEFAULT_FILES[candidate])
        if artifact.exists():
            return FoundVersion(number, artifact, candidate)
        if candidate == "savedmodel" and _is_saved_model(folder):
            return FoundVersion(number, folder, candidate)
    looked = ", ".join(filename or _DEFAULT_FILES[c] for c in candidates)
    raise ArtifactError(
        f"version dir {folder} holds no artifact: looked for {looked}"
        f"{' and a SavedModel' if 'savedmodel' in candidates else ''}; name the format with "
        "--format if its file is named otherwise (or set default_model_filename)"
    )


def _format_of(path: Path) -> str:
    if path.is_dir():
        return "savedmodel"
    for fmt, filename in _DEFAULT_FILES.items():
        if path.suffix.lower() == Path(filename).suffix:
            return fmt
    raise ArtifactError(
        f"{path.name}: not an artifact modelport stores as is (.onnx, .pmml, a SavedModel "
        "dir); convert a source model with modelport convert, or name the format with --format"
    )


def _is_saved_model(folder: Path) -> bool:
    return (folder / SAVED_MODEL_PB).is_file() or (folder / SAVED_MODEL_PBTXT).is_file()


def _triton_config(path: Path) -> tuple[str | None, str | None]:
    """The format and file name a Triton config.pbtxt names (None for what it does not)."""
    config = path / TRITON_CONFIG
    if not config.is_file():
        return None, None
    fields = dict(_CONFIG_FIELD.findall(config.read_text(encoding="utf-8", errors="replace")))
    platform = fields.get("platform") or fields.get("backend")
    fmt = None
    if platform:
        fmt = _TRITON_PLATFORMS.get(platform)
        if fmt is None:
            known = ", ".join(sorted(_TRITON_PLATFORMS))
            raise ArtifactError(
                f"{config}: platform {platform!r} is not one modelport serves ({known})"
            )
    return fmt, fields.get("default_model_filename") or None
