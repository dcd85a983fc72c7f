"""Open one stored version for serving, and warm it up before it gets traffic.

`version_loader` verifies the version, opens it with its format and wraps the predictor in
a runtime (blocking: the manager runs it in the admin executor). `warm_up` then runs one
inference on it: the first call of a runtime pays for lazy initialisation (memory arenas,
kernels chosen, a JVM class loaded, a TensorFlow graph traced), and paying it here keeps it
off the first requests. The warm-up inputs are built from the signature: one row of zeros
(empty strings for BYTES). Such a row may lie outside a model's domain (an unknown category,
say), so a warm-up that raises is logged, not fatal: whether the version opens at all was
already checked by loading it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from pathlib import Path

import numpy as np

from gateway.metrics import GatewayMetrics
from gateway.serving.batching import batchable
from gateway.serving.live_runtimes import LiveRuntimes, ServingRuntime
from gateway.serving.runtime import INLINE_MAX_ELEMENTS, PredictorRuntime, Runtime
from gateway.serving.signatures import SignatureCall, Signatures, named_signatures
from gateway.serving.versions import ServedVersion
from model_repo.formats import SignaturePredictor, get_format
from model_repo.manifest import Manifest
from model_repo.model_config import ModelConfig
from model_repo.repository import Repository
from model_repo.signature import Signature, numpy_dtype

log = logging.getLogger("modelport.gateway")
Loader = Callable[[Repository, str, int], ServedVersion]  # blocking: runs in the admin executor


def version_loader(
    metrics: GatewayMetrics,
    inference_executor: Executor,
    runtimes: LiveRuntimes | None = None,
    inline_max_elements: Mapping[str, int] = INLINE_MAX_ELEMENTS,
) -> Loader:
    """The manager's loader.

    The model's config (read at each load) gives the runtime options the artifact is opened
    with and the batching its runtime starts with; `runtimes` hears of later changes.
    """
    live = runtimes if runtimes is not None else LiveRuntimes()

    def load(repo: Repository, name: str, version: int) -> ServedVersion:
        config = repo.config(name)
        # Checks every file's sha256 first; imports the framework of this format only.
        manifest, predictor = repo.open(name, version, config.runtime.options())
        # Served under its dir's name, which a model dir copied or linked elsewhere (KServe's
        # /mnt/models, control.model_mount) need not share with the manifest it was made with.
        manifest = dataclasses.replace(manifest, name=name)
        try:
            fmt = get_format(manifest.format)
            inline = inline_max_elements.get(manifest.format, 0)
            base = PredictorRuntime(predictor, inference_executor, inline)
            runtime = ServingRuntime(base, name, version, batchable(manifest.signature))
            runtime.configure(config.batching)
            stats = metrics.version_stats(name, version)
            signatures = _signatures(
                manifest, predictor, runtime, fmt.missing_strings, (inference_executor, inline)
            )
            served = ServedVersion(
                manifest, runtime, fmt.platform, stats, fmt.missing_strings, signatures
            )
        except BaseException:
            predictor.close()  # opened but never served: nobody else would close it
            raise
        live.add(name, runtime)
        return served

    return load


def _signatures(
    manifest: Manifest,
    predictor: object,
    runtime: Runtime,
    missing_strings: bool,
    pool: tuple[Executor, int],
) -> Signatures | None:
    """A SavedModel's named signatures (None for a format without: the manifest's); those
    besides serving_default run in the inference `pool` (executor, inline size)."""
    if not isinstance(predictor, SignaturePredictor) or not predictor.signature_defs:
        return None

    def runtime_for(named: SignaturePredictor, key: str) -> Runtime:
        return PredictorRuntime(SignatureCall(named, key), *pool)

    return named_signatures(predictor, manifest, runtime, runtime_for, missing_strings)


class ServingRepository(Repository):
    """The repository, with every read of a model's config applied to its live runtimes."""

    def __init__(self, root: Path | str | None, runtimes: LiveRuntimes) -> None:
        super().__init__(root)
        self.runtimes = runtimes

    def config(self, name: str) -> ModelConfig:
        config = super().config(name)
        self.runtimes.apply(name, config)
        return config


def warm_up_inputs(signature: Signature) -> dict[str, np.ndarray]:
    """One row of zeros per input, free dimensions set to 1."""
    inputs = {}
    for spec in signature.inputs:
        shape = tuple(1 if d < 0 else d for d in spec.shape)
        if spec.datatype == "BYTES":
            inputs[spec.name] = np.full(shape, "", dtype=object)
        else:
            inputs[spec.name] = np.zeros(shape, dtype=numpy_dtype(spec.datatype))
    return inputs


async def warm_up(served: ServedVersion) -> None:
    """One inference on zeros, run in the inference pool where the runtime allows: a small
    call would otherwise run inline, and a first call's initialisation (seconds for a
    TensorFlow trace) would stall every request on the event loop meanwhile."""
    started = time.perf_counter()
    runtime = served.runtime
    call = getattr(runtime, "warm_up", runtime.predict)
    try:
        await call(warm_up_inputs(served.manifest.signature))
    except Exception as exc:
        log.warning(
            "%s version %d: warm-up inference on zeros failed (%s: %s); serving it anyway",
            *(served.name, served.version, type(exc).__name__, exc),
        )
        return
    log.info(
        "%s version %d warmed up in %.3f s",
        *(served.name, served.version, time.perf_counter() - started),
    )
