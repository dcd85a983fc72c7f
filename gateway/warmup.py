"""A warm-up inference on a freshly loaded version, before any request is routed to it.

The first call of a runtime pays for lazy initialisation (memory arenas, kernels chosen,
a JVM class loaded, a TensorFlow graph traced); paying it here keeps it off the first
requests. The inputs are built from the signature: one row of zeros (empty strings for
BYTES). Such a row may lie outside a model's domain (an unknown category, say), so a
warm-up that raises is logged, not fatal: whether the version opens at all was already
checked by loading it.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from gateway.served import ServedVersion
from model_repo.signature import Signature, numpy_dtype

log = logging.getLogger("modelport.gateway")


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
