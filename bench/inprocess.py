"""The raw runtimes, called in this process with no server: the ceilings for T3 and T5.

Each figure is a timed loop of the runtime's own call on inputs built once beforehand:
onnxruntime `session.run` (one row, and one 10,000-row batch counted per row), JPMML's
`Evaluator.evaluate` (one row as a dict) and `evaluateAll` (a DataFrame, per row), and the
SavedModel's `serving_default` concrete function (one row; the tf.constant and .numpy()
conversions a server also needs are inside the loop).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.gateway import BATCHING
from bench.load import failed
from bench.models import Prepared
from bench.payloads import BATCH_ROWS, sample_rows, signature_of
from bench.raw_asgi import open_session

# The MLP batch whose compute time bounds T4's p99: the batching config's max_batch_size.
MLP_BATCH = BATCHING.max_batch_size


def calls_per_second(call: Callable[[], object], seconds: float) -> float:
    """How many times `call` runs per second, timed over about `seconds` after a warm-up
    of a fifth of that (at least 1 s: JPMML needs the JVM's JIT to have compiled it)."""
    warm_until = time.perf_counter() + max(1.0, seconds / 5)
    while time.perf_counter() < warm_until:
        call()
    count, chunk = 0, 1
    started = time.perf_counter()
    deadline = started + seconds
    while (now := time.perf_counter()) < deadline:
        for _ in range(chunk):
            call()
        count += chunk
        chunk = min(chunk * 2, 1024)
    return count / (now - started)


def _figure(value: float, unit: str, how: str, **extra: Any) -> dict[str, Any]:
    return {"value": value, "unit": unit, "how": how, **extra}


def onnx_figures(prepared: Prepared, seconds: float) -> dict[str, dict[str, Any]]:
    session = open_session(str(prepared.artifact("iris")))
    signature = signature_of(prepared.repo, "iris")
    one, batch = sample_rows(signature, 1), sample_rows(signature, BATCH_ROWS)
    batch_rate = calls_per_second(lambda: session.run(None, batch), seconds)
    mlp = open_session(str(prepared.artifact("mlp")))
    mlp_batch = sample_rows(signature_of(prepared.repo, "mlp"), MLP_BATCH)
    mlp_rate = calls_per_second(lambda: mlp.run(None, mlp_batch), seconds)
    mlp_one = sample_rows(signature_of(prepared.repo, "mlp"), 1)
    mlp_one_rate = calls_per_second(lambda: mlp.run(None, mlp_one), seconds)
    return {
        "inprocess.onnx.single": _figure(
            calls_per_second(lambda: session.run(None, one), seconds), "calls/s", "iris 1 row"
        ),
        "inprocess.onnx.batch": _figure(
            batch_rate * BATCH_ROWS, "rows/s", f"iris {BATCH_ROWS}x4 per call"
        ),
        "inprocess.onnx.mlp_single": _figure(1000 / mlp_one_rate, "ms/call", "mlp 1 row"),
        "inprocess.onnx.mlp_batch": _figure(
            1000 / mlp_rate, "ms/call", f"mlp {MLP_BATCH} rows per call"
        ),
    }


def pmml_figures(prepared: Prepared, seconds: float) -> dict[str, dict[str, Any]]:
    import pandas as pd
    from jpmml_evaluator import make_evaluator

    evaluator = make_evaluator(str(prepared.artifact("iris-pmml")), backend="jpype").verify()
    names = [f.getName() for f in evaluator.getInputFields()]
    rows = sample_rows(signature_of(prepared.repo, "iris-pmml"), BATCH_ROWS)["input"]
    row = {n: float(v) for n, v in zip(names, rows[0], strict=True)}
    frame = pd.DataFrame(rows.astype(np.float64), columns=names)
    batch_rate = calls_per_second(lambda: evaluator.evaluateAll(frame), seconds)
    return {
        "inprocess.pmml.single": _figure(
            calls_per_second(lambda: evaluator.evaluate(row), seconds), "calls/s", "evaluate"
        ),
        "inprocess.pmml.batch": _figure(
            batch_rate * BATCH_ROWS, "rows/s", f"evaluateAll {BATCH_ROWS} rows"
        ),
    }


def tf_figures(prepared: Prepared, seconds: float) -> dict[str, dict[str, Any]]:
    from model_repo.formats.savedmodel import import_tensorflow

    tf = import_tensorflow()
    loaded = tf.saved_model.load(str(prepared.artifact("keras")))
    function = loaded.signatures["serving_default"]
    inputs = sample_rows(signature_of(prepared.repo, "keras"), 1)

    def call() -> object:
        results = function(**{k: tf.constant(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in results.items()}

    rate = calls_per_second(call, seconds)
    return {"inprocess.tf.single": _figure(rate, "calls/s", "serving_default 1 row")}


def all_figures(prepared: Prepared, seconds: float) -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {}
    for measure in (onnx_figures, pmml_figures, tf_figures):
        runtime = measure.__name__.removesuffix("_figures")
        print(f"  in-process: {runtime}", flush=True)
        try:
            figures.update(measure(prepared, seconds))
        except Exception as exc:  # a runtime missing or failing: report it, go on
            reason = f"{type(exc).__name__}: {exc}"
            figures[f"inprocess.{runtime}"] = failed("", runtime, reason)
    return figures
