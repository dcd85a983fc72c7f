"""Errors raised by the model repository and the artifact formats.

Every error modelport raises derives from `ModelportError`; the CLI and the gateway map the
classes below to exit codes and HTTP statuses in one place each.

    ModelportError
    ├── RepositoryError            the repository itself cannot be used
    │   └── NotWritable            the root (or a model dir) cannot be written
    ├── NotFound                   a model, version, alias or release does not exist
    ├── Conflict                   the request contradicts stored state (alias to a missing version)
    ├── InvalidArgument            a name, version or alias target that is malformed
    ├── IntegrityError             stored files do not match the sha256 in their manifest
    ├── ArtifactError              an artifact cannot be described or opened
    └── DependencyMissing          an optional runtime (Java, TensorFlow, ...) is absent or too old
"""

from __future__ import annotations


class ModelportError(Exception):
    """Base of every error modelport raises on purpose."""


class RepositoryError(ModelportError):
    """The repository cannot be used as asked."""


class NotWritable(RepositoryError):
    """The repository root or a model directory cannot be written."""


class NotFound(ModelportError):
    """A model, version, alias or release does not exist."""


class Conflict(ModelportError):
    """The request contradicts what is stored (it would break an alias, a release ...)."""


class InvalidArgument(ModelportError):
    """A name, version, alias or weight that is not well formed."""


class IntegrityError(ModelportError):
    """A stored file does not match the sha256 its manifest records."""


class ArtifactError(ModelportError):
    """An artifact cannot be described or opened by its format."""


class DependencyMissing(ModelportError):
    """An optional dependency (a framework, a runtime, Java) is missing or too old."""
