"""One model mounted as KServe mounts it (`/mnt/models`), put into a repository to serve.

KServe's storage initializer copies what an InferenceService's `storageUri` names into
`/mnt/models` (read-only in the serving container), one model per pod, and the runtime gets
the model's name in its arguments (`{{.Name}}`). What can be found there, and what becomes
of it in the repository at `root` (a scratch dir the serving container may write):

- a modelport model dir (`1/manifest.json ...`, with its `aliases.json` and `config.json`):
  linked as `root/<name>`, served where it is, manifests and sha256 checks included;
- a TF Serving `model_base_path` or a Triton model (numbered version dirs): imported,
  keeping the numbers (`model_dirs.import_versions`);
- one artifact: a SavedModel at the top (`saved_model.pb`), or a single `.onnx` / `.pmml`
  file: imported as version 1.

A container restarted in the same pod finds its previous work in `root` (an emptyDir
outlives the container): a link, or an import marked as made from the same dir, is removed
and made again; a model of that name that this module did not make is refused, never
overwritten.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from gateway.control.artifacts import import_artifact
from gateway.control.model_dirs import import_versions, is_version_tree
from model_repo import check_model_name
from model_repo.errors import ArtifactError, NotWritable, RepositoryError
from model_repo.formats.savedmodel import SAVED_MODEL_PB, SAVED_MODEL_PBTXT
from model_repo.manifest import MANIFEST_FILE
from model_repo.repository import Repository

IMPORT_MARKER = ".imported-from"  # in an imported model's dir: the mounted dir it came from
_SUFFIX_FORMATS = {".onnx": "onnx", ".pmml": "pmml"}


@dataclass(frozen=True)
class Mounted:
    name: str
    how: str  # "linked" (served where it is) or "imported"
    versions: list[int]

    def describe(self, model_dir: Path) -> str:
        listed = ", ".join(map(str, self.versions))
        return f"model {self.name} {self.how} from {model_dir}: version(s) {listed}"


def mount_model(root: Path, model_dir: Path, name: str, format_name: str | None = None) -> Mounted:
    """Make the model KServe mounted at `model_dir` model `name` of the repository at `root`."""
    check_model_name(name)
    if not model_dir.is_dir():
        raise ArtifactError(
            f"model dir {model_dir} is not a directory: KServe's storage initializer puts "
            "the model at /mnt/models (check --model-dir and the InferenceService's storageUri)"
        )
    source = model_dir.resolve()
    target = _cleared_target(root, source, name)
    repo = Repository(root)
    if is_modelport_model(source):
        target.symlink_to(source, target_is_directory=True)
        return Mounted(name, "linked", _served_versions(repo, name))
    _refuse_several_models(source)
    return Mounted(name, "imported", _import(repo, source, name, format_name))


def _import(repo: Repository, source: Path, name: str, format_name: str | None) -> list[int]:
    """Publish what `source` holds as model `name`; on failure, nothing stays behind."""
    artifact = None if is_version_tree(source) else single_artifact(source, format_name)
    target = Path(repo.root) / name  # a local scratch repository (mount_model's `root`)
    target.mkdir()
    # Written first, so that a container killed mid-import finds its own leftovers next time.
    (target / IMPORT_MARKER).write_text(str(source), encoding="utf-8")
    try:
        if artifact is None:
            return [m.version for m in import_versions(repo, source, name, format_name)]
        path, fmt = artifact
        return [import_artifact(repo, path, name, fmt, source_name=path.name).version]
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def is_modelport_model(folder: Path) -> bool:
    """True for a dir of numbered versions of which at least one holds a modelport manifest."""
    return any(
        child.is_dir() and child.name.isdigit() and (child / MANIFEST_FILE).is_file()
        for child in folder.iterdir()
    )


def single_artifact(folder: Path, format_name: str | None = None) -> tuple[Path, str]:
    """The one artifact a mounted dir holds (a SavedModel at the top, or one .onnx/.pmml
    file), with its format."""
    if (folder / SAVED_MODEL_PB).is_file() or (folder / SAVED_MODEL_PBTXT).is_file():
        return folder, format_name or "savedmodel"
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    found = [p for p in files if p.suffix.lower() in _SUFFIX_FORMATS]
    if len(found) == 1:
        return found[0], format_name or _SUFFIX_FORMATS[found[0].suffix.lower()]
    if found:
        names = ", ".join(p.name for p in found)
        raise ArtifactError(
            f"{folder} holds several artifacts ({names}); one model per InferenceService: "
            "give each its own storageUri, or publish them as versions of one model dir"
        )
    held = ", ".join(p.name for p in sorted(folder.iterdir())) or "nothing"
    raise ArtifactError(
        f"{folder} holds no model modelport can serve (it holds {held}); expected a "
        "modelport model dir (1/manifest.json ...), numbered version dirs (TF Serving, "
        "Triton), a SavedModel (saved_model.pb), or one .onnx or .pmml file"
    )


def _cleared_target(root: Path, source: Path, name: str) -> Path:
    """`root/name`, free: a previous start's link or import from `source` removed."""
    target = root / name
    try:
        root.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()  # a link holds nothing of its own
        elif (target / IMPORT_MARKER).is_file():
            if (target / IMPORT_MARKER).read_text(encoding="utf-8") != str(source):
                raise _not_ours(root, source, name)
            shutil.rmtree(target)
    except OSError as exc:
        raise NotWritable(
            f"repository {root} cannot be written ({exc.strerror or exc}); give --repo a "
            "writable scratch dir (an emptyDir volume in Kubernetes)"
        ) from exc
    if target.exists():
        raise _not_ours(root, source, name)
    return target


def _not_ours(root: Path, source: Path, name: str) -> RepositoryError:
    return RepositoryError(
        f"repository {root} already holds a model {name!r} that was not made from {source}; "
        "point --repo at an empty scratch dir (an emptyDir volume in Kubernetes)"
    )


def _refuse_several_models(folder: Path) -> None:
    """A repository of models (modelport's or Triton's) is not one model: say so."""
    if is_version_tree(folder):
        return
    models = sorted(p.name for p in folder.iterdir() if not p.name.isdigit() and is_version_tree(p))
    if models:
        raise ArtifactError(
            f"{folder} holds a repository of models ({', '.join(models)}), not one model: "
            "point the storageUri at one model's dir (.../<model>/), or serve the whole "
            "repository with modelport serve --repo"
        )


def _served_versions(repo: Repository, name: str) -> list[int]:
    versions = repo.versions(name)
    if not versions:
        raise ArtifactError(f"model {name} has no version with a manifest in {repo.root}")
    return versions
