"""The targets of issue 5 as ratios of figures from the same run, printed and as JSON."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from bench.gateway import BATCHING
from bench.load import Figure, Figures

Row = dict[str, Any]
PASS, FAIL, NA, FLAGGED, INFO = "pass", "FAIL", "not available", "flagged (errors)", "info"


def _value(figures: Figures, key: str) -> float | None:
    figure = figures.get(key)
    if not figure or not isinstance(figure.get("value"), int | float):
        return None
    return float(figure["value"])


def _status(figures: Figures, keys: list[str], ok: bool | None, informative: bool = False) -> str:
    if any(figures.get(k, {}).get("flagged") for k in keys):
        return FLAGGED
    if ok is None:
        return NA
    if informative:
        return INFO
    return PASS if ok else FAIL


def ratio(
    figures: Figures, tid: str, what: str, num: str, den: str, target: str = "", **kw: Any
) -> Row:
    """num / den against `target` (">= 0.75", "<= 1.5"); no target means informative."""
    a, b = _value(figures, num), _value(figures, den)
    measured = a / b if a is not None and b else None
    ok = None
    if measured is not None:
        ok = _meets(measured, target) if target else True
    return {
        "id": tid, "what": what, "measured": measured, "target": target or "-",
        "status": _status(figures, [num, den], ok, informative=not target),
        "detail": f"{num} / {den}", **kw,
    }  # fmt: skip


def _meets(measured: float, target: str) -> bool:
    ops: dict[str, Callable[[float, float], bool]] = {
        ">=": operator.ge, "<=": operator.le, "<": operator.lt, ">": operator.gt,
    }  # fmt: skip
    symbol, threshold = target.split()
    return ops[symbol](measured, float(threshold))


def best_mlserver(figures: Figures) -> str:
    """The stronger MLServer configuration measured (higher req/s), the T1 baseline."""
    keys = [k for k in ("mlserver.t1", "mlserver-lean.t1") if _value(figures, k) is not None]
    return max(keys, key=lambda k: _value(figures, k) or 0.0) if keys else "mlserver.t1"


def best_mlserver_grpc(figures: Figures) -> str:
    """The stronger MLServer configuration over gRPC (higher req/s), the G1 baseline."""
    keys = [k for k in ("mlserver.grpc.t1", "mlserver-lean.grpc.t1") if _value(figures, k)]
    return max(keys, key=lambda k: _value(figures, k) or 0.0) if keys else "mlserver.grpc.t1"


def t4_latency(figures: Figures) -> Row:
    p99 = _value(figures, "gateway.t4.on")
    batch_ms = _value(figures, "inprocess.onnx.mlp_batch")
    row = {"id": "T4b", "what": "batched MLP p99 within queue delay + 2 batches", "target": "<= 1"}
    if p99 is None or batch_ms is None:
        status = _status(figures, ["gateway.t4.on"], None)
        return {**row, "measured": None, "status": status, "detail": "needs gateway.t4.on"}
    p99 = float(figures["gateway.t4.on"]["wrk"]["p99_ms"])
    bound = BATCHING.max_queue_delay_us / 1000 + 2 * batch_ms
    ok = p99 <= bound
    detail = f"p99 {p99:.2f} ms vs bound {bound:.2f} ms"
    status = _status(figures, ["gateway.t4.on"], ok)
    return {**row, "measured": p99 / bound, "status": status, "detail": detail}


def t6_rows(figures: Figures) -> list[Row]:
    seconds = _value(figures, "gateway.t6.startup")
    ok = None if seconds is None else seconds < 2
    start = {
        "id": "T6a", "what": "serve ready on ONNX-only repo (s)", "measured": seconds,
        "target": "< 2", "status": _status(figures, ["gateway.t6.startup"], ok),
        "detail": "seconds from spawn to /v2/health/ready 200",
    }  # fmt: skip
    heavy = figures.get("gateway.t6.heavy", {}).get("value")
    names: list[str] | None = [str(h) for h in heavy] if isinstance(heavy, list) else None
    heavy_row = {
        "id": "T6b", "what": "no TensorFlow / PyTorch / Java in the server", "measured": None,
        "target": "none", "status": NA if names is None else (FAIL if names else PASS),
        "detail": "" if names is None else "found: " + (", ".join(names) or "none"),
    }  # fmt: skip
    return [start, heavy_row]


# id, what, numerator, denominator, target ("" = informative); "MLSERVER" is the stronger
# MLServer configuration of the run.
RATIOS = [
    ("T1a", "JSON iris 32 conn vs floor", "gateway.t1", "floor.t1", ">= 0.75"),
    ("T1b", "JSON iris 32 conn vs MLServer", "gateway.t1", "MLSERVER", ">= 8"),
    ("T2", "p50 at 1 conn vs floor", "gateway.t2", "floor.t2", "<= 1.5"),
    ("T3", "binary 10k rows/s vs in-process", "gateway.t3", "inprocess.onnx.batch", ">= 0.5"),
    ("T4a", "MLP 64 conn batching on vs off", "gateway.t4.on", "gateway.t4.off", ">= 3"),
    ("T5a", "PMML vs in-process evaluate", "gateway.t5.pmml", "inprocess.pmml.single", ">= 0.5"),
    ("T5b", "SavedModel vs in-process function", "gateway.t5.savedmodel", "inprocess.tf.single",
     ">= 0.5"),
    ("G1", "gRPC 1 row 32 conn vs MLServer gRPC", "gateway.grpc.t1", "MLSERVER_GRPC", ""),
    ("G2", "gRPC p50 at 1 conn vs MLServer gRPC", "gateway.grpc.t2", "MLSERVER_GRPC_P50", ""),
    ("G3", "gRPC vs REST, 1 row 32 conn (other clients)", "gateway.grpc.t1", "gateway.t1", ""),
    ("ref", "floor vs MLServer (headroom)", "floor.t1", "MLSERVER", ""),
    ("ref", "floor binary rows/s vs in-process", "floor.t3", "inprocess.onnx.batch", ""),
]  # fmt: skip


ORDER = [
    "T1a",
    "T1b",
    "T2",
    "T3",
    "T4a",
    "T4b",
    "T5a",
    "T5b",
    "T6a",
    "T6b",
    "G1",
    "G2",
    "G3",
    "ref",
]


def targets(figures: Figures) -> list[Row]:
    mlserver, grpc = best_mlserver(figures), best_mlserver_grpc(figures)
    baselines = {
        "MLSERVER": mlserver,
        "MLSERVER_GRPC": grpc,
        "MLSERVER_GRPC_P50": grpc.replace(".t1", ".t2"),
    }
    rows = []
    for tid, what, num, den, target in RATIOS:
        den = baselines.get(den, den)
        rows.append(ratio(figures, tid, what, num, den, target))
    rows += [t4_latency(figures), *t6_rows(figures)]
    return sorted(rows, key=lambda row: ORDER.index(row["id"]))


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def figure_lines(figures: Figures) -> list[str]:
    lines = [f"{'figure':<26} {'value':>14} {'unit':<9} {'err':>5}  how"]
    for key, fig in figures.items():
        errors = fig.get("errors", "")
        note = fig.get("error") or fig.get("note") or fig.get("how", "")
        lines.append(
            f"{key:<26} {_fmt(fig.get('value')):>14} {fig.get('unit', ''):<9} {errors!s:>5}  "
            f"{note.splitlines()[0] if note else ''}"
        )
    return lines


def target_lines(rows: list[Row]) -> list[str]:
    lines = [f"{'id':<4} {'what':<46} {'measured':>9} {'target':>7}  {'status':<16} detail"]
    for row in rows:
        lines.append(
            f"{row['id']:<4} {row['what']:<46} {_fmt(row['measured']):>9} {row['target']:>7}  "
            f"{row['status']:<16} {row['detail']}"
        )
    return lines


def print_report(figures: Figures, rows: list[Row]) -> None:
    print("\n".join(["", *figure_lines(figures), "", *target_lines(rows)]))


def as_json(meta: dict[str, Any], figures: Figures, rows: list[Row]) -> dict[str, Figure | Any]:
    return {"meta": meta, "figures": figures, "targets": rows}
