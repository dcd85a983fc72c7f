"""modelport's versioned model repository and artifact formats."""

from model_repo.aliases import AliasTarget, Shadow
from model_repo.errors import (
    ArtifactError,
    Conflict,
    DependencyMissing,
    IntegrityError,
    InvalidArgument,
    ModelportError,
    NotFound,
    NotWritable,
    RepositoryError,
)
from model_repo.formats import FORMAT_NAMES, ArtifactFormat, Predictor, Tensors, get_format
from model_repo.manifest import Manifest, OutputParity, ParityReport, Provenance, Tolerance
from model_repo.model_config import ModelConfig, Preserve, VersionPolicy
from model_repo.releases import Release, ReleaseStore
from model_repo.repository import Repository, Staging, check_model_name, default_root
from model_repo.signature import Signature, TensorSpec, numpy_dtype, v2_datatype

__all__ = [
    "FORMAT_NAMES",
    "AliasTarget",
    "ArtifactError",
    "ArtifactFormat",
    "Conflict",
    "DependencyMissing",
    "IntegrityError",
    "InvalidArgument",
    "Manifest",
    "ModelConfig",
    "ModelportError",
    "NotFound",
    "NotWritable",
    "OutputParity",
    "ParityReport",
    "Predictor",
    "Preserve",
    "Provenance",
    "Release",
    "ReleaseStore",
    "Repository",
    "RepositoryError",
    "Shadow",
    "Signature",
    "Staging",
    "TensorSpec",
    "Tensors",
    "Tolerance",
    "VersionPolicy",
    "check_model_name",
    "default_root",
    "get_format",
    "numpy_dtype",
    "v2_datatype",
]
