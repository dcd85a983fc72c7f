"""Open one stored version for serving: verify, open with its format, wrap in a runtime."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor

from gateway.manager import Loader
from gateway.metrics import GatewayMetrics
from gateway.runtime import INLINE_MAX_ELEMENTS, PredictorRuntime
from gateway.served import ServedVersion
from model_repo.formats import get_format
from model_repo.repository import Repository


def version_loader(
    metrics: GatewayMetrics,
    inference_executor: Executor,
    inline_max_elements: Mapping[str, int] = INLINE_MAX_ELEMENTS,
) -> Loader:
    """The manager's loader; it runs in the admin executor, so it may block."""

    def load(repo: Repository, name: str, version: int) -> ServedVersion:
        manifest, predictor = repo.open(name, version)  # checks every file's sha256 first
        fmt = get_format(manifest.format)  # imports the framework of this format only
        runtime = PredictorRuntime(
            predictor, inference_executor, inline_max_elements.get(manifest.format, 0)
        )
        return ServedVersion(manifest, runtime, fmt.platform, metrics.version_stats(name, version))

    return load
