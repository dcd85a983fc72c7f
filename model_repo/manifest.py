"""The manifest: one immutable JSON document per published version.

It says what the artifact is (format, signature, class labels), where it came from (source
framework and library versions, converter), how well it matches its source (parity report)
and the sha256 of every file, so that what was verified is exactly what gets served.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model_repo._jsonfile import parse_object, read_object
from model_repo.errors import ArtifactError, InvalidArgument
from model_repo.signature import Signature

MANIFEST_FILE = "manifest.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class OutputParity:
    """How far one output of the artifact is from the source model's.

    For a classifier's `label`: `ties` counts the rows whose highest probability several
    classes share exactly, and `ties_broken_differently` those among them the artifact
    labelled with another of the tied classes than the source model did (not mismatches:
    on a tie no class is the right one). Both are written only when there are ties.
    """

    max_abs_error: float
    max_rel_error: float
    mismatches: int
    elements: int
    ties: int = 0
    ties_broken_differently: int = 0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "max_abs_error": self.max_abs_error,
            "max_rel_error": self.max_rel_error,
            "mismatches": self.mismatches,
            "elements": self.elements,
        }
        if self.ties:
            data["ties"] = self.ties
            data["ties_broken_differently"] = self.ties_broken_differently
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutputParity:
        return cls(
            float(data["max_abs_error"]),
            float(data["max_rel_error"]),
            int(data["mismatches"]),
            int(data["elements"]),
            int(data.get("ties", 0)),
            int(data.get("ties_broken_differently", 0)),
        )


@dataclass(frozen=True)
class Tolerance:
    """Allowed difference per element: |a - b| <= atol + rtol * |b|.

    `mismatch_budget` is the fraction of elements allowed to exceed it: tree ensembles in
    float32 may route a sample that sits exactly on a threshold down the other branch.
    Outputs listed in `exact` (class labels) must match element for element, within the
    same budget.
    """

    rtol: float
    atol: float
    mismatch_budget: float = 0.0
    exact: tuple[str, ...] = ("label",)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rtol": self.rtol,
            "atol": self.atol,
            "mismatch_budget": self.mismatch_budget,
            "exact": list(self.exact),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tolerance:
        return cls(
            float(data["rtol"]),
            float(data["atol"]),
            float(data.get("mismatch_budget", 0.0)),
            tuple(data.get("exact", ("label",))),
        )


@dataclass(frozen=True)
class ParityReport:
    """The result of running source model and artifact on the same sample."""

    passed: bool
    forced: bool
    tolerance: Tolerance
    sample_source: str  # "file:<name>" or "synthesized:<how>"
    sample_size: int
    outputs: dict[str, OutputParity]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "forced": self.forced,
            "tolerance": self.tolerance.to_dict(),
            "sample_source": self.sample_source,
            "sample_size": self.sample_size,
            "outputs": {k: v.to_dict() for k, v in self.outputs.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParityReport:
        return cls(
            passed=bool(data["passed"]),
            forced=bool(data.get("forced", False)),
            tolerance=Tolerance.from_dict(data["tolerance"]),
            sample_source=str(data["sample_source"]),
            sample_size=int(data["sample_size"]),
            outputs={k: OutputParity.from_dict(v) for k, v in data["outputs"].items()},
        )


@dataclass(frozen=True)
class Provenance:
    """Where an artifact came from."""

    framework: str  # sklearn | torch | tensorflow | onnx | pmml (uploaded as is) ...
    source_file: str | None = None
    source_sha256: str | None = None
    converter: str | None = None  # e.g. "sklearn_onnx"
    libraries: dict[str, str] = field(default_factory=dict)  # package -> version

    def to_dict(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "source_file": self.source_file,
            "source_sha256": self.source_sha256,
            "converter": self.converter,
            "libraries": dict(self.libraries),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Provenance:
        return cls(
            framework=str(data["framework"]),
            source_file=data.get("source_file"),
            source_sha256=data.get("source_sha256"),
            converter=data.get("converter"),
            libraries=dict(data.get("libraries", {})),
        )


@dataclass(frozen=True)
class Manifest:
    """Everything recorded about one published version.

    `version`, `files` and `created` are filled in by `Staging.publish`; a draft carries
    placeholders for them.
    """

    name: str
    format: str
    artifact: str  # file or directory name inside the version dir
    signature: Signature
    provenance: Provenance
    parity: ParityReport | None = None
    labels: tuple[Any, ...] | None = None  # class labels in `probabilities` column order
    version: int = 0
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    created: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    def published(self, version: int, files: dict[str, str]) -> Manifest:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        return replace(self, version=version, files=dict(files), created=now)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "version": self.version,
            "format": self.format,
            "artifact": self.artifact,
            "signature": self.signature.to_dict(),
            "labels": None if self.labels is None else list(self.labels),
            "provenance": self.provenance.to_dict(),
            "parity": None if self.parity is None else self.parity.to_dict(),
            "files": dict(sorted(self.files.items())),
            "created": self.created,
            "notes": dict(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        labels = data.get("labels")
        parity = data.get("parity")
        return cls(
            name=str(data["name"]),
            version=int(data["version"]),
            format=str(data["format"]),
            artifact=str(data["artifact"]),
            signature=Signature.from_dict(data["signature"]),
            labels=None if labels is None else tuple(labels),
            provenance=Provenance.from_dict(data["provenance"]),
            parity=None if parity is None else ParityReport.from_dict(parity),
            files=dict(data.get("files", {})),
            created=str(data.get("created", "")),
            notes=dict(data.get("notes", {})),
        )

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """The manifest stored at `path`; ArtifactError naming the file when it is broken."""
        return cls._checked(read_object(path, ArtifactError, "manifest"), str(path))

    @classmethod
    def parse(cls, data: bytes, where: str) -> Manifest:
        """The manifest in `data`, read from `where` (an object's URL)."""
        return cls._checked(parse_object(data, ArtifactError, "manifest", where), where)

    @classmethod
    def _checked(cls, data: dict[str, Any], where: str) -> Manifest:
        try:
            return cls.from_dict(data)
        except KeyError as exc:
            raise ArtifactError(f"manifest {where} lacks the field {exc}") from exc
        except (ValueError, TypeError, AttributeError, OverflowError, InvalidArgument) as exc:
            # A field of the wrong JSON type or value, deep in the document.
            raise ArtifactError(f"manifest {where} is not valid: {exc}") from exc
