"""Open one stored version for serving: verify, open with its format, wrap in a runtime."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor

from gateway.batching import batchable
from gateway.manager import Loader
from gateway.metrics import GatewayMetrics
from gateway.runtime import INLINE_MAX_ELEMENTS, PredictorRuntime
from gateway.served import ServedVersion
from gateway.tuning import LiveRuntimes, ServingRuntime
from model_repo.formats import get_format
from model_repo.repository import Repository


def version_loader(
    metrics: GatewayMetrics,
    inference_executor: Executor,
    runtimes: LiveRuntimes | None = None,
    inline_max_elements: Mapping[str, int] = INLINE_MAX_ELEMENTS,
) -> Loader:
    """The manager's loader; it runs in the admin executor, so it may block.

    The model's config (read at each load) gives the runtime options the artifact is opened
    with and the batching its runtime starts with; `runtimes` hears of later changes.
    """
    live = runtimes if runtimes is not None else LiveRuntimes()

    def load(repo: Repository, name: str, version: int) -> ServedVersion:
        config = repo.config(name)
        # Checks every file's sha256 first; imports the framework of this format only.
        manifest, predictor = repo.open(name, version, config.runtime.options())
        try:
            fmt = get_format(manifest.format)
            base = PredictorRuntime(
                predictor, inference_executor, inline_max_elements.get(manifest.format, 0)
            )
            runtime = ServingRuntime(base, name, version, batchable(manifest.signature))
            runtime.configure(config.batching)
            stats = metrics.version_stats(name, version)
            served = ServedVersion(manifest, runtime, fmt.platform, stats)
        except BaseException:
            predictor.close()  # opened but never served: nobody else would close it
            raise
        live.add(name, runtime)
        return served

    return load
