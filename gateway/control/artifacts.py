"""Publish a ready-made artifact (an .onnx, a .pmml, a SavedModel directory) as a new version.

The artifact is copied into a staging dir, described and opened by its format (the code that
will serve it), and published only if both succeed. There is no source model, so there is no
parity report; the provenance says the artifact came as is (framework = the format).
An ONNX model onnxruntime refuses may be rewritten first (an old opset upgraded, a missing
locale replaced: `converters.onnx_import`); then the provenance names the converter, the
parity report is that of the rewrite's check, and the notes say what was done.
Used by the gateway's upload endpoint; usable by any local command as well.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from converters.base import modelport_version
from converters.onnx_import import Rewrite, make_servable
from gateway.control.archives import copy_tree
from model_repo import check_model_name
from model_repo.aliases import AliasTarget, check_alias_name
from model_repo.formats import ArtifactFormat, get_format
from model_repo.manifest import Manifest, Provenance
from model_repo.repository import Repository, Staging, source_digest
from model_repo.signature import Signature


def import_artifact(
    repo: Repository,
    path: Path,
    name: str,
    format_name: str,
    *,
    alias: str | None = None,
    source_name: str | None = None,
    version: int | None = None,
) -> Manifest:
    """Validate the artifact at `path` in staging, publish it (as `version` if given, else
    as the next number), return its manifest."""
    # Checked before anything is copied: a bad alias found only after publishing would
    # leave a version behind an error that says the import failed.
    check_model_name(name)
    if alias:
        check_alias_name(alias)
    fmt = get_format(format_name)
    with repo.stage(name, version) as staging:
        manifest = staging.publish(stage_artifact(staging, path, fmt, source_name))
    if alias:
        repo.set_alias(name, alias, AliasTarget(version=manifest.version))
    return manifest


def stage_artifact(
    staging: Staging, path: Path, fmt: ArtifactFormat, source_name: str | None = None
) -> Manifest:
    """Copy the artifact at `path` into `staging`, describe and open it (an ONNX model its
    runtime refuses is first rewritten and checked, `_open_or_rewrite`): its draft manifest."""
    target = staging.path / fmt.artifact_name
    if path.is_dir():
        copy_tree(path, target)
    else:
        shutil.copyfile(path, target)
    signature = fmt.describe(target)
    rewrite = _open_or_rewrite(fmt, target, signature, source_name or path.name)
    return Manifest(
        name=staging.name,
        format=fmt.name,
        artifact=fmt.artifact_name,
        signature=signature,
        provenance=Provenance(
            framework=fmt.name,
            source_file=source_name or path.name,
            source_sha256=source_digest(path),
            converter=None if rewrite is None else rewrite.converter,
            libraries={
                **({} if rewrite is None else rewrite.libraries),
                "modelport": modelport_version(),
            },
        ),
        parity=None if rewrite is None else rewrite.parity,
        notes={} if rewrite is None else dict(rewrite.notes),
        labels=fmt.labels(target),
    )


def _open_or_rewrite(
    fmt: ArtifactFormat, target: Path, signature: Signature, source: str
) -> Rewrite | None:
    """Check that the format's runtime opens the artifact; an ONNX model it refuses is
    rewritten in place when a checked rewrite makes it open (else the refusal is raised)."""
    if fmt.name == "onnx":
        return make_servable(target, signature, source)
    fmt.open(target, signature).close()
    return None
