"""A model's runtime config applied to its loaded versions, now and whenever it changes.

Each loaded version's runtime is a `ServingRuntime`: the predictor's runtime, behind a
`BatchingRuntime` while the model's config asks for batching. `LiveRuntimes` knows every
loaded version's `ServingRuntime` by model and reconfigures them when the config changes.

When does it change? The manager reads a model's config on every sync: after
`PUT /v2/repository/models/{m}/config`, after an upload, and whenever the repository poll
sees config.json change (which is how every worker of `serve --workers N` hears of a
change made through another). The control plane's repository passes that read on to
`LiveRuntimes` (gateway.control.loader.ServingRepository), so a change reaches the
versions already serving without the manager knowing about runtimes. Runtime options
(threads ...) need a new session: they apply when a version is next loaded.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Coroutine, Mapping
from typing import Any

import numpy as np

from gateway.serving.batching import BatchingRuntime, BatchStats
from gateway.serving.runtime import PredictorRuntime, Runtime
from model_repo.formats import Tensors
from model_repo.model_config import ModelConfig
from model_repo.runtime_config import Batching

log = logging.getLogger("modelport.gateway")


class ServingRuntime:
    """The runtime a served version holds; `configure` swaps what requests go through."""

    def __init__(
        self, base: PredictorRuntime, name: str, version: int, unbatchable: str | None
    ) -> None:
        self.base = base
        self.name = name
        self.version = version
        self.label = f"model {name!r} version {version}"
        self.unbatchable = unbatchable  # why batching cannot apply, or None
        self.stats = BatchStats()
        self.active: Runtime = base
        self.closed = False
        self._refused = False  # batching was asked for and could not apply

    def predict(self, inputs: Mapping[str, np.ndarray]) -> Coroutine[Any, Any, Tensors]:
        # Returns the active runtime's coroutine: no frame of its own on the request path.
        return self.active.predict(inputs)

    @property
    def batching(self) -> Batching | None:
        active = self.active
        return active.settings if isinstance(active, BatchingRuntime) else None

    def configure(self, batching: Batching | None) -> None:
        """Batch with these settings from now on (None: stop batching).

        One reference is swapped, so this is safe from any thread; requests already queued
        in the previous batcher are served by it.
        """
        if batching is not None and self.unbatchable is not None:
            if not self._refused:  # once, not at every config read
                log.warning("%s is not batched: %s", self.label, self.unbatchable)
            self._refused = True
            return
        if batching == self.batching:
            return
        if batching is None:
            self.active = self.base
        else:
            self.active = BatchingRuntime(self.base, batching, self.label, self.stats)
        log.info("%s: batching %s", self.label, _describe(batching))

    def warm_up(self, inputs: Mapping[str, np.ndarray]) -> Coroutine[Any, Any, Tensors]:
        """A first call straight to the predictor, off the event loop whatever its size."""
        return self.base.predict_pooled(inputs)

    def close(self) -> None:
        self.closed = True  # out of LiveRuntimes now, though a late request may still hold it
        self.base.close()


class LiveRuntimes:
    """The `ServingRuntime`s of loaded versions, by model; dropped ones fall out by themselves.

    Loads and config reads run in the admin thread, /metrics on the event loop: a lock
    guards the sets (never taken by a request).
    """

    def __init__(self) -> None:
        self._models: dict[str, weakref.WeakSet[ServingRuntime]] = {}
        self._lock = threading.Lock()

    def add(self, name: str, runtime: ServingRuntime) -> None:
        with self._lock:
            self._models.setdefault(name, weakref.WeakSet()).add(runtime)

    def apply(self, name: str, config: ModelConfig) -> None:
        with self._lock:
            runtimes = [r for r in self._models.get(name, ()) if not r.closed]
        for runtime in runtimes:
            runtime.configure(config.batching)

    def all(self) -> list[ServingRuntime]:
        """Every loaded version's runtime (not the closed ones, even while still referenced)."""
        with self._lock:
            return [r for runtimes in self._models.values() for r in runtimes if not r.closed]


def _describe(batching: Batching | None) -> str:
    if batching is None:
        return "off"
    return (
        f"on (max_batch_size {batching.max_batch_size}, max_queue_delay_us "
        f"{batching.max_queue_delay_us}, max_queue_size {batching.max_queue_size})"
    )
