"""Dynamic batching on real onnxruntime sessions: order, merging, error isolation, limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from gateway.errors import Unavailable
from gateway.serving.batching import BatchingRuntime, batchable
from gateway.serving.live_runtimes import ServingRuntime
from gateway.serving.runtime import PredictorRuntime
from model_repo.errors import InvalidArgument
from model_repo.formats import Tensors
from model_repo.model_config import ModelConfig
from model_repo.repository import Repository
from model_repo.runtime_config import Batching
from model_repo.signature import Signature, TensorSpec
from tests.artifacts import LOOKUP_TABLE, publish_tiny, write_lookup_onnx


class CountingRuntime:
    """A real runtime, with the calls and rows that reach it counted."""

    def __init__(self, inner: PredictorRuntime) -> None:
        self.inner = inner
        self.calls: list[int] = []  # rows per call

    async def predict(self, inputs: Mapping[str, np.ndarray]) -> Tensors:
        self.calls.append(next(iter(inputs.values())).shape[0])
        return await self.inner.predict(inputs)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as executor:
        yield executor


def counting(tmp_path: Path, pool: ThreadPoolExecutor, write=None) -> CountingRuntime:
    repo = Repository(tmp_path)
    if write is None:
        publish_tiny(repo, "m", offset=1.0)
    else:
        publish_tiny(repo, "m", write=write)
    _, predictor = repo.open("m", 1)
    return CountingRuntime(PredictorRuntime(predictor, pool, inline_max_elements=1024))


def batching(inner: CountingRuntime, **settings: int) -> BatchingRuntime:
    return BatchingRuntime(inner, Batching(**settings), "model 'm' version 1")


def test_concurrent_requests_are_merged_and_each_gets_its_own_rows(tmp_path, pool) -> None:
    inner = counting(tmp_path, pool)
    runtime = batching(inner, max_batch_size=64, max_queue_delay_us=50_000)
    requests = [np.full((1 + i % 3, 2), i, dtype=np.float32) for i in range(30)]

    async def scenario() -> list[Tensors]:
        return await asyncio.gather(*(runtime.predict({"x": x}) for x in requests))

    results = asyncio.run(scenario())
    for x, result in zip(requests, results, strict=True):
        np.testing.assert_array_equal(result["y"], x + 1.0)
    assert sum(inner.calls) == sum(len(x) for x in requests)
    assert len(inner.calls) <= 2  # 60 rows fit one batch of 64
    assert runtime.stats.batches == len(inner.calls)
    assert runtime.stats.requests == len(requests)


def test_batches_are_capped_at_max_batch_size_in_order(tmp_path, pool) -> None:
    inner = counting(tmp_path, pool)
    runtime = batching(inner, max_batch_size=4, max_queue_delay_us=20_000)
    requests = [np.full((1, 2), i, dtype=np.float32) for i in range(10)]

    async def scenario() -> list[Tensors]:
        return await asyncio.gather(*(runtime.predict({"x": x}) for x in requests))

    results = asyncio.run(scenario())
    assert [float(r["y"][0, 0]) for r in results] == [i + 1.0 for i in range(10)]
    assert inner.calls == [4, 4, 2]


def test_a_request_the_runtime_refuses_fails_alone(tmp_path, pool) -> None:
    inner = counting(tmp_path, pool, write=write_lookup_onnx)
    runtime = batching(inner, max_batch_size=32, max_queue_delay_us=50_000)
    indices = [0, 1, 2, 99, 3, 4]  # 99 is past the table

    async def scenario() -> list[Tensors | BaseException]:
        calls = (runtime.predict({"i": np.array([i], dtype=np.int64)}) for i in indices)
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(scenario())
    for index, result in zip(indices, results, strict=True):
        if index == 99:
            assert isinstance(result, Exception) and "indices" in str(result).lower()
        else:
            assert not isinstance(result, BaseException)
            assert result["y"].tolist() == [LOOKUP_TABLE[index]]
    assert inner.calls == [6, 1, 1, 1, 1, 1, 1]  # the merged call, then each alone
    assert runtime.stats.retried == 1


def test_a_full_queue_answers_unavailable_with_a_clear_message(tmp_path, pool) -> None:
    inner = counting(tmp_path, pool)
    runtime = batching(inner, max_batch_size=1, max_queue_delay_us=0, max_queue_size=2)

    async def scenario() -> list[Tensors | BaseException]:
        calls = (runtime.predict({"x": np.ones((1, 2), np.float32)}) for _ in range(6))
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(scenario())
    refused = [r for r in results if isinstance(r, BaseException)]
    # The first starts a batch at once; two wait; the other three find the queue full.
    assert len(refused) == 3
    assert all(isinstance(r, Unavailable) and r.status == 503 for r in refused)
    assert "batching queue is full (2 requests waiting)" in str(refused[0])
    assert len(inner.calls) == 3


def test_a_lone_request_waits_about_the_queue_delay(tmp_path, pool) -> None:
    inner = counting(tmp_path, pool)
    slow = batching(inner, max_batch_size=8, max_queue_delay_us=200_000)
    quick = batching(inner, max_batch_size=8, max_queue_delay_us=0)
    x = {"x": np.ones((1, 2), np.float32)}

    async def timed(runtime: BatchingRuntime) -> float:
        started = time.perf_counter()
        await runtime.predict(x)
        return time.perf_counter() - started

    assert 0.15 < asyncio.run(timed(slow)) < 0.2 + 1.0  # generous: not a timing benchmark
    assert asyncio.run(timed(quick)) < 0.5


def test_a_request_larger_than_a_batch_runs_alone(tmp_path, pool) -> None:
    inner = counting(tmp_path, pool)
    runtime = batching(inner, max_batch_size=4, max_queue_delay_us=10_000)
    result = asyncio.run(runtime.predict({"x": np.zeros((9, 2), np.float32)}))
    assert result["y"].shape == (9, 2)
    assert inner.calls == [9]


def test_only_models_with_a_free_first_dimension_are_batchable() -> None:
    free = TensorSpec("x", "FP32", (-1, 4))
    fixed = TensorSpec("x", "FP32", (1, 4))
    assert batchable(Signature.of([free], [TensorSpec("y", "FP32", (-1,))])) is None
    reason = batchable(Signature.of([fixed], [TensorSpec("y", "FP32", (-1,))]))
    assert reason == "input 'x' has shape [1, 4], no free first dimension"
    scalar_out = batchable(Signature.of([free], [TensorSpec("s", "FP32", ())]))
    assert scalar_out is not None and "output 's'" in scalar_out


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"batching": {"max_batch_size": 0}}, "max_batch_size must be an integer from 1"),
        ({"batching": {"max_queue_delay_us": -1}}, "max_queue_delay_us must be an integer"),
        ({"batching": {"max_queue_size": True}}, "max_queue_size must be an integer"),
        ({"batching": {"size": 4}}, "unknown field(s) in batching: size"),
        ({"batching": [32]}, "batching must be a JSON object"),
        ({"runtime": {"graph_optimization": "max"}}, "graph_optimization must be one of"),
        ({"runtime": {"intra_op_threads": -1}}, "intra_op_threads must be an integer"),
        ({"runtime": {"allow_spinning": "yes"}}, "allow_spinning must be true or false"),
    ],
)
def test_bad_batching_and_runtime_configs_are_refused(body: dict, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        ModelConfig.from_dict(body)
    assert message in str(caught.value)


def test_batching_and_runtime_options_round_trip() -> None:
    body = {
        "version_policy": {"latest": 1},
        "preserve": "availability",
        "batching": {"max_batch_size": 16, "max_queue_delay_us": 500, "max_queue_size": 64},
        "runtime": {"intra_op_threads": 1, "graph_optimization": "basic"},
    }
    config = ModelConfig.from_dict(body)
    assert config.to_dict() == body
    assert config.runtime.options() == {"intra_op_threads": 1, "graph_optimization": "basic"}
    assert ModelConfig.from_dict({}).to_dict() == {
        "version_policy": {"latest": 1},
        "preserve": "availability",
    }


def test_a_version_is_reconfigured_in_place_and_an_unbatchable_one_is_left_alone(
    tmp_path, pool
) -> None:
    inner = counting(tmp_path, pool)
    runtime = ServingRuntime(inner.inner, "m", 1, unbatchable=None)
    runtime.configure(Batching(8, 1000))
    assert isinstance(runtime.active, BatchingRuntime) and runtime.batching == Batching(8, 1000)
    result = asyncio.run(runtime.predict({"x": np.zeros((1, 2), np.float32)}))
    assert result["y"].tolist() == [[1.0, 1.0]]
    runtime.configure(None)
    assert runtime.active is inner.inner
    fixed = ServingRuntime(inner.inner, "f", 1, unbatchable="input 'x' has shape [1, 2]")
    fixed.configure(Batching(8, 1000))
    assert fixed.active is inner.inner and fixed.batching is None


def write_free_width_onnx(path: Path, offset: float = 0.0) -> Signature:
    """y = x * 2 for FP32 x [-1, -1]: requests of different widths cannot be concatenated."""
    from onnx import TensorProto, helper, save

    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["y"])],
        "double",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(path))
    return Signature.of([TensorSpec("x", "FP32", (-1, -1))], [TensorSpec("y", "FP32", (-1, -1))])


def test_requests_that_cannot_be_merged_each_get_their_own_answer(tmp_path, pool) -> None:
    inner = counting(tmp_path, pool, write=write_free_width_onnx)
    runtime = batching(inner, max_batch_size=32, max_queue_delay_us=50_000)
    requests = [np.full((1 + i % 2, 2 + i % 3), i, dtype=np.float32) for i in range(6)]

    async def scenario() -> list[Tensors]:
        return await asyncio.gather(*(runtime.predict({"x": x}) for x in requests))

    results = asyncio.run(scenario())
    for x, result in zip(requests, results, strict=True):
        np.testing.assert_array_equal(result["y"], x * 2)
    assert inner.calls == [1, 2, 1, 2, 1, 2]  # the merge failed before the runtime: each alone
    assert runtime.stats.retried == 1 and runtime.stats.batches == 0


def test_a_request_given_up_on_leaves_its_batch_mates_their_answers(tmp_path, pool) -> None:
    inner = counting(tmp_path, pool)
    runtime = batching(inner, max_batch_size=64, max_queue_delay_us=50_000)

    async def scenario() -> list[Tensors | BaseException]:
        tasks = [
            asyncio.create_task(runtime.predict({"x": np.full((1, 2), i, np.float32)}))
            for i in range(5)
        ]
        await asyncio.sleep(0.01)  # all queued, the batch not yet started
        tasks[2].cancel()  # a client that disconnected
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(scenario())
    assert isinstance(results[2], asyncio.CancelledError)
    for i in (0, 1, 3, 4):
        result = results[i]
        assert not isinstance(result, BaseException)
        assert result["y"].tolist() == [[i + 1.0, i + 1.0]]
    assert len(inner.calls) == 1  # still one merged call
