"""The bench's target table: ratios of figures from one run, and the status each gets.

Pure logic over a figures dict shaped like bench.load's (no server, no wrk): the ratios
printed in docs/benchmarks.md are computed here, so a wrong numerator, a reversed
comparison or a lost error flag would misreport every run.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.gateway import BATCHING
from bench.load import Figures
from bench.report import FAIL, FLAGGED, INFO, NA, PASS, targets


def _fig(value: Any, **extra: Any) -> dict[str, Any]:
    return {"value": value, "unit": "", "how": "", **extra}


def _run(**overrides: Any) -> Figures:
    figures: Figures = {
        "floor.t1": _fig(20_000.0),
        "gateway.t1": _fig(16_000.0),  # 0.8 of the floor
        "mlserver.t1": _fig(900.0),
        "mlserver-lean.t1": _fig(1_600.0),  # the stronger configuration: 10 x
        "floor.t2": _fig(0.100),
        "gateway.t2": _fig(0.160),  # 1.6 x the floor's p50: too slow
        "inprocess.onnx.batch": _fig(40_000_000.0),
        "floor.t3": _fig(16_000_000.0),
        "gateway.t3": _fig(24_000_000.0),
        "gateway.t4.off": _fig(8_000.0),
        "gateway.t4.on": _fig(16_000.0, wrk={"p99_ms": 1.2}),
        "inprocess.onnx.mlp_batch": _fig(0.150),
        "inprocess.pmml.single": _fig(100_000.0),
        "gateway.t5.pmml": _fig(10_000.0),
        "inprocess.tf.single": _fig(5_000.0),
        "gateway.t5.savedmodel": _fig(3_000.0),
        "gateway.t6.startup": _fig(0.5),
        "gateway.t6.heavy": _fig([]),
    }
    figures.update(overrides)
    return figures


def _rows(figures: Figures) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in targets(figures) if row["id"] != "ref"}


def test_each_target_is_its_ratio_and_status() -> None:
    rows = _rows(_run())
    expected = {
        "T1a": (0.8, PASS),
        "T1b": (10.0, PASS),  # against the faster MLServer configuration, not the default
        "T2": (1.6, FAIL),  # lower is better: 1.6 > 1.5
        "T3": (0.6, PASS),
        "T4a": (2.0, FAIL),
        "T5a": (0.1, FAIL),
        "T5b": (0.6, PASS),
        "T6a": (0.5, PASS),
    }
    for tid, (measured, status) in expected.items():
        assert rows[tid]["measured"] == pytest.approx(measured), tid
        assert rows[tid]["status"] == status, tid
    assert rows["T1b"]["detail"] == "gateway.t1 / mlserver-lean.t1"
    assert rows["T6b"]["status"] == PASS


def test_the_batching_latency_bound_is_queue_delay_plus_two_batches() -> None:
    bound = BATCHING.max_queue_delay_us / 1000 + 2 * 0.150
    inside = _rows(_run())["T4b"]
    assert inside["status"] == PASS
    assert inside["measured"] == pytest.approx(1.2 / bound)
    slow = _fig(16_000.0, wrk={"p99_ms": bound + 0.01})
    outside = _rows(_run(**{"gateway.t4.on": slow}))["T4b"]
    assert outside["status"] == FAIL
    assert f"vs bound {bound:.2f} ms" in outside["detail"]


def test_a_figure_measured_with_errors_flags_every_ratio_it_enters() -> None:
    rows = _rows(_run(**{"floor.t1": _fig(20_000.0, flagged=True)}))
    assert rows["T1a"]["status"] == FLAGGED
    assert rows["T1b"]["status"] == PASS  # the floor is not part of it


def test_a_missing_figure_is_not_available_rather_than_a_verdict() -> None:
    figures = _run()
    del figures["gateway.t5.pmml"]
    del figures["gateway.t4.on"]
    rows = _rows(figures)
    assert (rows["T5a"]["measured"], rows["T5a"]["status"]) == (None, NA)
    assert rows["T4b"]["status"] == NA
    assert rows["T4a"]["status"] == NA


def test_heavy_runtimes_found_in_the_server_fail_t6b() -> None:
    rows = _rows(_run(**{"gateway.t6.heavy": _fig(["libjvm.so"])}))
    assert rows["T6b"]["status"] == FAIL
    assert "libjvm.so" in rows["T6b"]["detail"]


def test_reference_rows_are_informative() -> None:
    refs = [row for row in targets(_run()) if row["id"] == "ref"]
    assert [row["status"] for row in refs] == [INFO, INFO]
    assert refs[0]["measured"] == pytest.approx(20_000 / 1_600)
