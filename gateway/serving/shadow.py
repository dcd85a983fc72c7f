"""Shadow traffic: a copy of a request run on another version, compared, never returned.

An alias may carry `"shadow": {"version": 4, "percent": 10}`. The routing table decides per
request whether it is copied (and leases the shadow version with the primary). Once the
primary result exists, the handler hands both to `ShadowRunner.start`, which runs the copy
as a background task and returns at once: the response never waits for the shadow, and
nothing the shadow does (fail, differ, lag) reaches the client. At most `max_in_flight`
copies run at a time; beyond that a copy is skipped and counted.

Outputs are compared name by name: floats within 1e-5 relative / 1e-6 absolute, everything
else exactly. Counts by (model, version, shadow version) are Prometheus counters:
`modelport_shadow_requests_total`, `..._mismatches_total`, `..._failures_total`,
`..._skipped_total`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily

from gateway.serving.inference import InferenceRequest, InferenceResult
from gateway.serving.versions import ServedVersion

log = logging.getLogger("modelport.gateway.serving.shadow")
DEFAULT_MAX_IN_FLIGHT = 16
LOGGED_MISMATCHES = 10  # per (model, version, shadow version) at INFO; the rest at DEBUG
_KINDS = ("requests", "mismatches", "failures", "skipped")
Pair = tuple[str, int, int]  # (model, primary version, shadow version)


class ShadowRunner:
    def __init__(
        self, registry: CollectorRegistry, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    ) -> None:
        self.max_in_flight = max_in_flight
        self.counts: dict[Pair, dict[str, int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        registry.register(_ShadowCollector(self.counts))

    def start(
        self, shadow: ServedVersion, request: InferenceRequest, primary: InferenceResult
    ) -> None:
        """Run `request` on `shadow` in the background; takes over the shadow's lease."""
        counts = self._counts((primary.model_name, primary.model_version, shadow.version))
        if len(self._tasks) >= self.max_in_flight:
            counts["skipped"] += 1
            shadow.release()
            return
        task = asyncio.create_task(self._run(shadow, request, primary, counts))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(
        self,
        shadow: ServedVersion,
        request: InferenceRequest,
        primary: InferenceResult,
        counts: dict[str, int],
    ) -> None:
        try:
            if request.signature is None:
                produced = await shadow.runtime.predict(shadow.plan.fit(request.inputs))
            else:
                produced, _ = await shadow.signature(request.signature).run(request)
            counts["requests"] += 1
            differences = compare(primary.outputs, produced)
            if differences:
                counts["mismatches"] += 1
                _report(shadow, primary, request, differences, counts["mismatches"])
        except Exception as exc:
            counts["failures"] += 1
            log.debug(
                "shadow %s version %d failed: %s: %s",
                *(shadow.name, shadow.version, type(exc).__name__, exc),
            )
        finally:
            shadow.release()

    def _counts(self, pair: Pair) -> dict[str, int]:
        found = self.counts.get(pair)
        if found is None:
            found = self.counts[pair] = dict.fromkeys(_KINDS, 0)
        return found


def _report(
    shadow: ServedVersion,
    primary: InferenceResult,
    request: InferenceRequest,
    differences: list[str],
    mismatches: int,
) -> None:
    """Log a mismatch: the first few per pair at INFO, the rest at DEBUG (they may be many)."""
    level = logging.INFO if mismatches <= LOGGED_MISMATCHES else logging.DEBUG
    more = " (further mismatches at debug level)" if mismatches == LOGGED_MISMATCHES else ""
    log.log(
        level,
        "shadow %s version %d differs from version %d (request id %s): %s%s",
        *(shadow.name, shadow.version, primary.model_version, request.id),
        "; ".join(differences),
        more,
    )


def compare(primary: Mapping[str, np.ndarray], shadow: Mapping[str, Any]) -> list[str]:
    """What differs between the primary's outputs and the shadow's, one line per output."""
    found = []
    for name, expected in primary.items():
        got = shadow.get(name)
        if got is None:
            found.append(f"{name}: missing")
            continue
        got = np.asarray(got)
        if got.shape != expected.shape:
            found.append(f"{name}: shape {list(got.shape)} vs {list(expected.shape)}")
        elif not _same(expected, got):
            found.append(f"{name}: values differ")
    return found


def _same(expected: np.ndarray, got: np.ndarray) -> bool:
    if expected.dtype.kind in "fc" and got.dtype.kind in "fciu":
        return bool(np.allclose(expected, got, rtol=1e-5, atol=1e-6, equal_nan=True))
    return bool(np.array_equal(expected, got))


class _ShadowCollector:
    def __init__(self, counts: dict[Pair, dict[str, int]]) -> None:
        self._counts = counts

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[CounterMetricFamily]:
        labels = ["model", "version", "shadow_version"]
        families = {
            kind: CounterMetricFamily(
                f"modelport_shadow_{kind}", f"Shadow copies of requests: {kind}.", labels=labels
            )
            for kind in _KINDS
        }
        for (model, version, shadow), counts in list(self._counts.items()):
            for kind, family in families.items():
                family.add_metric([model, str(version), str(shadow)], counts[kind])
        yield from families.values()
