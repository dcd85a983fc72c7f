"""Prometheus metrics of one gateway, counted in plain integers and rendered on scrape.

Per version: requests, failures (by HTTP status) and a latency histogram of the data plane
(fitting the inputs and running the model). Counting happens on the event loop thread only,
so it needs no locks: a request pays a few integer additions, not prometheus_client's
locked children. Load state and leases are read from the manager when /metrics is scraped.
A request for a model the server does not know is counted with an empty model label, so
clients cannot create series.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from enum import Enum
from time import time
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)  # fmt: skip


# What the collectors read at scrape time, as Protocols: the metrics know no gateway module,
# so every layer may count into them (gateway.control's manager and gateway.serving's live
# runtimes fit these shapes).


class _Status(Protocol):
    @property
    def version(self) -> int | None: ...

    @property
    def state(self) -> Enum: ...


class ModelStates(Protocol):
    """Which models are known, each version's state, and the leases out on each version."""

    def models(self) -> list[str]: ...

    def statuses(self, name: str) -> Sequence[_Status]: ...

    def leases(self, name: str) -> Mapping[int, int]: ...


class _BatchCounts(Protocol):
    batches: int
    requests: int
    retried: int


class _BatchedRuntime(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def stats(self) -> _BatchCounts: ...


class BatchedRuntimes(Protocol):
    """Every loaded version's runtime, with its batching counts."""

    def all(self) -> Sequence[_BatchedRuntime]: ...


class VersionStats:
    """The counts of one model version (or of a model's requests that found no version)."""

    __slots__ = ("buckets", "failures", "last", "requests", "seconds")

    def __init__(self) -> None:
        self.requests = 0
        self.failures: dict[int, int] = {}  # HTTP status -> count
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.seconds = 0.0
        self.last = 0.0  # when the last successful request ended (Unix time; 0: never)

    def observe(self, seconds: float) -> None:
        self.requests += 1
        self.seconds += seconds
        self.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.last = time()

    @property
    def succeeded(self) -> int:
        return self.requests - sum(self.failures.values())

    def failed(self, status: int) -> None:
        self.requests += 1
        self.failures[status] = self.failures.get(status, 0) + 1


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._stats: dict[tuple[str, str], VersionStats] = {}
        self.registry.register(_StatsCollector(self._stats))

    def version_stats(self, model: str, version: int) -> VersionStats:
        """The stats of a version; a version loaded again keeps counting where it was."""
        return self._stats.setdefault((model, str(version)), VersionStats())

    def counted(self, model: str) -> dict[int, VersionStats]:
        """The stats of every version of `model` that has any, by version (read only: no
        series is created)."""
        return {
            int(version): stats
            for (name, version), stats in list(self._stats.items())
            if name == model and version
        }

    def models_counted(self) -> list[str]:
        return sorted({name for name, version in self._stats if name and version})

    def rejected(self, model: str, status: int) -> None:
        """A request refused before a version was chosen (unknown model or version ...)."""
        self._stats.setdefault((model, ""), VersionStats()).failed(status)

    def watch(self, states: ModelStates) -> None:
        self.registry.register(_StatesCollector(states))

    def watch_batching(self, runtimes: BatchedRuntimes) -> None:
        self.registry.register(_BatchCollector(runtimes))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _StatsCollector:
    def __init__(self, stats: dict[tuple[str, str], VersionStats]) -> None:
        self._stats = stats

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        labels = ["model", "version"]
        requests = CounterMetricFamily(
            "modelport_inference_requests",
            "Inference requests, by the model and version that served them.",
            labels=labels,
        )
        failures = CounterMetricFamily(
            "modelport_inference_failures",
            "Inference requests answered with an error, by HTTP status.",
            labels=[*labels, "status"],
        )
        latency = HistogramMetricFamily(
            "modelport_inference_duration_seconds",
            "Time in the data plane per successful request: fitting inputs, running the model.",
            labels=labels,
        )
        for (model, version), stats in list(self._stats.items()):
            requests.add_metric([model, version], stats.requests)
            for status, count in sorted(stats.failures.items()):
                failures.add_metric([model, version, str(status)], count)
            if version:
                latency.add_metric([model, version], _cumulative(stats.buckets), stats.seconds)
        yield requests
        yield failures
        yield latency


def _cumulative(buckets: list[int]) -> list[tuple[str, float]]:
    bounds = [*map(str, LATENCY_BUCKETS), "+Inf"]
    total = 0
    found = []
    for bound, count in zip(bounds, buckets, strict=True):
        total += count
        found.append((bound, float(total)))
    return found


class _StatesCollector:
    def __init__(self, states: ModelStates) -> None:
        self._states = states

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        states = GaugeMetricFamily(
            "modelport_model_version_state",
            "1 for the state each known version is in.",
            labels=["model", "version", "state"],
        )
        leases = GaugeMetricFamily(
            "modelport_model_version_leases",
            "Requests in flight on each loaded or draining version.",
            labels=["model", "version"],
        )
        for name in self._states.models():
            for status in self._states.statuses(name):
                version = "" if status.version is None else str(status.version)
                states.add_metric([name, version, status.state.value], 1.0)
            for version_number, count in self._states.leases(name).items():
                leases.add_metric([name, str(version_number)], float(count))
        yield states
        yield leases


class _BatchCollector:
    def __init__(self, runtimes: BatchedRuntimes) -> None:
        self._runtimes = runtimes

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[CounterMetricFamily]:
        labels = ["model", "version"]
        batches = CounterMetricFamily(
            "modelport_batches", "Runtime calls that merged two or more requests.", labels=labels
        )
        requests = CounterMetricFamily(
            "modelport_batched_requests", "Requests served by merged calls.", labels=labels
        )
        retried = CounterMetricFamily(
            "modelport_batch_retries",
            "Merged calls that failed, whose requests then ran one by one.",
            labels=labels,
        )
        for runtime in self._runtimes.all():
            key = [runtime.name, str(runtime.version)]
            batches.add_metric(key, runtime.stats.batches)
            requests.add_metric(key, runtime.stats.requests)
            retried.add_metric(key, runtime.stats.retried)
        yield batches
        yield requests
        yield retried
