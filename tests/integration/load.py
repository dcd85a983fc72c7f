"""Bounded load for the rollout tests: client threads that record every call with its times."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from model_repo.manifest import Manifest
from model_repo.repository import Repository
from model_repo.signature import Signature, TensorSpec
from tests.artifacts import publish_tiny


@dataclass(frozen=True)
class Call:
    started: float  # time.monotonic()
    ended: float
    status: int  # 0: no HTTP answer at all
    version: str | None  # model_version of a 200
    text: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Window:
    """When an admin call was sent and when its answer came back."""

    started: float = 0.0
    ended: float = 0.0


@contextlib.contextmanager
def timed() -> Iterator[Window]:
    window = Window(time.monotonic())
    yield window
    window.ended = time.monotonic()


def post(http: httpx.Client, path: str, body: Any, headers: dict[str, str] | None = None) -> Call:
    started = time.monotonic()
    try:
        response = http.post(path, json=body, headers=headers)
    except httpx.HTTPError as exc:
        return Call(started, time.monotonic(), 0, None, repr(exc))
    ended = time.monotonic()
    version = response.json().get("model_version") if response.status_code == 200 else None
    return Call(
        started, ended, response.status_code, version, response.text[:300], dict(response.headers)
    )


class Clients:
    """`count` threads, each calling `step(http)` in a loop until `stop`."""

    def __init__(self, url: str, count: int, step: Callable[[httpx.Client], list[Call]]) -> None:
        self.calls: list[Call] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(url, step)) for _ in range(count)]

    def __enter__(self) -> Clients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self, url: str, step: Callable[[httpx.Client], list[Call]]) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            while not self._stop.is_set():
                self.calls.extend(step(http))  # list.extend is atomic under the GIL


def v2_body(rows: int, name: str = "x") -> dict[str, Any]:
    data = np.ones((rows, 2), dtype=np.float32)
    return {
        "inputs": [
            {"name": name, "datatype": "FP32", "shape": [rows, 2], "data": data.ravel().tolist()}
        ]
    }


def write_slow_onnx(path: Path, offset: float, steps: int = 64, width: int = 64) -> Signature:
    """y = x + offset on x: FP32 [-1, 2], after `steps` [N, 64] x [64, 64] matmuls on x.

    The matmuls make a call's time grow with its rows (about 10 ms per 1,000 rows), so a
    test can keep a request in flight, holding its lease, for as long as it needs; their
    result is multiplied by zero (tanh keeps it finite), so y stays exact.
    """
    from onnx import TensorProto, helper, numpy_helper, save

    rng = np.random.default_rng(0)
    spread = rng.standard_normal((2, width)).astype(np.float32)
    weights = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "spread"], ["m"]),
        helper.make_node("Tanh", ["m"], ["h0"]),
    ]
    for i in range(steps):
        nodes.append(helper.make_node("MatMul", [f"h{i}", "w"], [f"m{i}"]))
        nodes.append(helper.make_node("Tanh", [f"m{i}"], [f"h{i + 1}"]))
    nodes += [
        helper.make_node("ReduceMean", [f"h{steps}"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["zeroed"]),
        helper.make_node("Add", ["x", "offset"], ["shifted"]),
        helper.make_node("Add", ["shifted", "zeroed"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "slow",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        initializer=[
            numpy_helper.from_array(spread, "spread"),
            numpy_helper.from_array(weights, "w"),
            helper.make_tensor("offset", TensorProto.FLOAT, [], [offset]),
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(path))
    return Signature.of([TensorSpec("x", "FP32", (-1, 2))], [TensorSpec("y", "FP32", (-1, 2))])


def publish_slow(repo: Repository, name: str, offset: float) -> Manifest:
    return publish_tiny(repo, name, offset, write=write_slow_onnx)


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{"):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rindex("}")]))
            if all(found.get(k) == v for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
    return total
