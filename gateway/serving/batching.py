"""Dynamic batching: a runtime wrapper that merges concurrent requests into one call.

Requests queue on the event loop (no locks: everything here runs on the loop thread). A
batch starts when the queue holds `max_batch_size` rows, or when its oldest request has
waited `max_queue_delay_us` (the loop's timer resolution applies: 1 ms under uvloop), and
only while no other batch of this runtime is running: one batch at a time keeps the cores
for the runtime's own threads, and requests that arrive meanwhile form the next batch.

The members' inputs, already fitted to the signature (so each request was validated on its
own before it joined), are concatenated along the first dimension, run once, and the
outputs are split back by row counts, in order. If the merged call fails, the members are
run one by one, so only a request that fails on its own gets an error. A request larger
than `max_batch_size` runs alone. More than `max_queue_size` waiting requests: 503.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gateway.errors import Overloaded
from gateway.serving.runtime import Runtime
from model_repo.formats import Tensors
from model_repo.runtime_config import Batching
from model_repo.signature import Signature

log = logging.getLogger("modelport.gateway")


def batchable(signature: Signature) -> str | None:
    """Why a model cannot be batched (None when it can): every input and output needs a
    free first dimension to merge and split along."""
    for kind, specs in (("input", signature.inputs), ("output", signature.outputs)):
        for spec in specs:
            if not spec.shape or spec.shape[0] != -1:
                return f"{kind} {spec.name!r} has shape {list(spec.shape)}, no free first dimension"
    return None


@dataclass(slots=True)
class BatchStats:
    """Counted per batch, not per request; kept across reconfigurations of a version."""

    batches: int = 0  # runtime calls that merged two or more requests
    requests: int = 0  # requests those calls served
    retried: int = 0  # merged calls that failed, whose members then ran one by one


@dataclass(slots=True)
class _Pending:
    inputs: Mapping[str, np.ndarray]
    rows: int
    future: asyncio.Future[Tensors]
    deadline: float  # loop time by which its batch must start


class BatchingRuntime:
    def __init__(
        self, inner: Runtime, settings: Batching, label: str, stats: BatchStats | None = None
    ) -> None:
        self.inner = inner
        self.settings = settings
        self.label = label  # "model 'm' version N", for messages
        self.stats = stats if stats is not None else BatchStats()
        self._max_rows = settings.max_batch_size
        self._delay = settings.max_queue_delay_us / 1e6
        self._queue: deque[_Pending] = deque()
        self._queued_rows = 0
        self._busy = False
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def predict(self, inputs: Mapping[str, np.ndarray]) -> Tensors:
        rows = _rows(inputs)
        if rows == 0 or rows > self._max_rows:
            return await self.inner.predict(inputs)
        if len(self._queue) >= self.settings.max_queue_size:
            raise Overloaded(
                f"{self.label}: the batching queue is full ({self.settings.max_queue_size} "
                "requests waiting); retry shortly, or raise batching.max_queue_size"
            )
        loop = asyncio.get_running_loop()
        pending = _Pending(inputs, rows, loop.create_future(), loop.time() + self._delay)
        self._queue.append(pending)
        self._queued_rows += rows
        self._kick(loop)
        return await pending.future

    def close(self) -> None:
        self.inner.close()

    # ---- scheduling (event loop thread) -----------------------------------------------------

    def _kick(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._busy or not self._queue:
            return
        if self._queued_rows >= self._max_rows or loop.time() >= self._queue[0].deadline:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._start(loop)
        elif self._timer is None:
            self._timer = loop.call_at(self._queue[0].deadline, self._on_timer, loop)

    def _on_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if not self._busy and self._queue:
            self._start(loop)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = [self._queue.popleft()]
        rows = batch[0].rows
        while self._queue and rows + self._queue[0].rows <= self._max_rows:
            rows += self._queue[0].rows
            batch.append(self._queue.popleft())
        self._queued_rows -= rows
        self._busy = True
        task = loop.create_task(self._run(batch))
        self._tasks.add(task)  # a reference, so the task is not collected mid-run
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[_Pending]) -> None:
        try:
            if len(batch) == 1:
                await self._alone(batch[0])
            else:
                await self._together(batch)
        finally:
            self._busy = False
            self._kick(asyncio.get_running_loop())

    # ---- running ------------------------------------------------------------------------------

    async def _alone(self, pending: _Pending) -> None:
        try:
            result = await self.inner.predict(pending.inputs)
        except Exception as exc:
            if not pending.future.done():
                pending.future.set_exception(exc)
        else:
            if not pending.future.done():
                pending.future.set_result(result)

    async def _together(self, batch: list[_Pending]) -> None:
        try:
            merged = {
                name: np.concatenate([p.inputs[name] for p in batch]) for name in batch[0].inputs
            }
            parts = _split(await self.inner.predict(merged), [p.rows for p in batch])
        except Exception as exc:  # someone's input fails the runtime: find out whose
            log.debug("%s: a batch of %d failed (%s); running them one by one", self.label,
                      len(batch), exc)  # fmt: skip
            self.stats.retried += 1
            for pending in batch:
                await self._alone(pending)
            return
        self.stats.batches += 1
        self.stats.requests += len(batch)
        for pending, part in zip(batch, parts, strict=True):
            if not pending.future.done():
                pending.future.set_result(part)


def _rows(inputs: Mapping[str, np.ndarray]) -> int:
    for array in inputs.values():
        return int(array.shape[0]) if array.ndim else 0
    return 0


def _split(outputs: Tensors, rows: list[int]) -> list[Tensors]:
    """The batch's outputs cut back into one set per member, as views."""
    total = sum(rows)
    for name, array in outputs.items():
        if array.ndim == 0 or array.shape[0] != total:
            raise ValueError(f"output {name!r} has shape {array.shape}, not {total} rows")
    parts, start = [], 0
    for count in rows:
        stop = start + count
        parts.append({name: array[start:stop] for name, array in outputs.items()})
        start = stop
    return parts
