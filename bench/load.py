"""One load scenario against a running server: check the answer, warm up, run wrk.

A figure is a dict: value, unit, how, and for load scenarios the chosen wrk run, the
figures of every repeat, the error count, and `flagged` when any response failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.payloads import Body
from bench.servers import Server, post
from bench.wrk import WrkFailed, WrkResult, run_wrk

Figure = dict[str, Any]
Figures = dict[str, Figure]
WARMUP_SECONDS = 2.0


@dataclass(frozen=True)
class Load:
    """What to post where, how hard, and which figure of wrk's to keep."""

    path: str
    body: Body
    connections: int
    metric: str = "rps"  # rps | rows | p50 | p99

    def value(self, result: WrkResult) -> float:
        if self.metric == "rows":
            return result.rps * self.body.rows
        if self.metric in ("p50", "p99"):
            return float(getattr(result, f"{self.metric}_ms"))
        return result.rps

    @property
    def unit(self) -> str:
        return {"rps": "req/s", "rows": "rows/s", "p50": "ms p50", "p99": "ms p99"}[self.metric]

    def better(self) -> Callable[[float, float], bool]:
        """Higher throughput is better; lower latency is better."""
        if self.metric in ("p50", "p99"):
            return lambda a, b: a < b
        return lambda a, b: a > b


def probe(server: Server, load: Load) -> tuple[int, bytes]:
    headers = {"Content-Type": load.body.content_type, **load.body.headers}
    return post(server.base_url + load.path, load.body.read(), headers)


def measure(server: Server, load: Load, seconds: float, repeat: int, how: str) -> Figure:
    """The best of `repeat` wrk runs of `seconds` each, after a probe and a warm-up."""
    status, answer = probe(server, load)
    if status != 200:
        excerpt = answer[:300].decode(errors="replace")
        return failed(load.unit, how, f"probe answered {status}: {excerpt}")
    url = server.base_url + load.path
    try:
        run_wrk(url, load.body, load.connections, min(WARMUP_SECONDS, seconds))
        runs = [run_wrk(url, load.body, load.connections, seconds) for _ in range(repeat)]
    except WrkFailed as exc:
        return failed(load.unit, how, str(exc))
    best = runs[0]
    for run in runs[1:]:
        if load.better()(load.value(run), load.value(best)):
            best = run
    errors = sum(r.errors for r in runs)
    return {
        "value": load.value(best),
        "unit": load.unit,
        "how": f"{how}, {load.connections} conn",
        "errors": errors,
        "flagged": errors > 0,
        "wrk": best.as_dict(),
        "repeats": [round(load.value(r), 3) for r in runs],
        "answer": answer[:200].decode(errors="replace"),
    }


def failed(unit: str, how: str, reason: str) -> Figure:
    return {"value": None, "unit": unit, "how": how, "flagged": True, "error": reason}


def not_available(unit: str, how: str, reason: str) -> Figure:
    return {"value": None, "unit": unit, "how": how, "flagged": False, "note": reason}
