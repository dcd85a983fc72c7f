"""Publish a ready-made artifact (an .onnx, a .pmml, a SavedModel directory) as a new version.

The artifact is copied into a staging dir, described and opened by its format (the code that
will serve it), and published only if both succeed. There is no source model, so there is no
parity report; the provenance says the artifact came as is (framework = the format).
Used by the gateway's upload endpoint; usable by any local command as well.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from converters.base import modelport_version
from gateway.control.archives import copy_tree
from model_repo import check_model_name
from model_repo.aliases import AliasTarget, check_alias_name
from model_repo.formats import ArtifactFormat, get_format
from model_repo.manifest import Manifest, Provenance
from model_repo.repository import Repository, Staging, source_digest


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
    """Copy the artifact at `path` into `staging`, describe and open it: its draft manifest."""
    target = staging.path / fmt.artifact_name
    if path.is_dir():
        copy_tree(path, target)
    else:
        shutil.copyfile(path, target)
    signature = fmt.describe(target)
    fmt.open(target, signature).close()
    return Manifest(
        name=staging.name,
        format=fmt.name,
        artifact=fmt.artifact_name,
        signature=signature,
        provenance=Provenance(
            framework=fmt.name,
            source_file=source_name or path.name,
            source_sha256=source_digest(path),
            converter=None,
            libraries={"modelport": modelport_version()},
        ),
        parity=None,
    )
