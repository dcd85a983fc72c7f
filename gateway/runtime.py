"""Runtimes: what serving wraps around a `model_repo` predictor.

A runtime's `predict` is a coroutine, so wrappers (dynamic batching, a warm-up, a
timeout) compose around it without the request path knowing. `PredictorRuntime` calls the
predictor in a thread pool, except for calls so small that the hop to a thread would cost
more than the call itself blocks the event loop (onnxruntime on a few rows: tens of µs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Protocol

import numpy as np

from model_repo.formats import Predictor, Tensors

# Per format: inputs of at most this many elements run on the event loop. onnxruntime
# releases the GIL and is fast on small inputs; JPMML and TensorFlow calls cost more than a
# thread hop even for one row, so they always go to the pool.
INLINE_MAX_ELEMENTS: Mapping[str, int] = {"onnx": 1024, "pmml": 0, "savedmodel": 0}


class Runtime(Protocol):
    async def predict(self, inputs: Mapping[str, np.ndarray]) -> Tensors: ...

    def close(self) -> None: ...


class PredictorRuntime:
    """A predictor called off the event loop when that pays."""

    def __init__(self, predictor: Predictor, executor: Executor, inline_max_elements: int) -> None:
        self._predictor = predictor
        self._executor = executor
        self._inline_max = inline_max_elements

    async def predict(self, inputs: Mapping[str, np.ndarray]) -> Tensors:
        if self._inline_max:
            size = 0
            for array in inputs.values():  # a loop: cheaper than sum(genexpr) on 1-4 inputs
                size += array.size
            if size <= self._inline_max:
                return self._predictor.predict(inputs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._predictor.predict, inputs)

    def close(self) -> None:
        self._predictor.close()
