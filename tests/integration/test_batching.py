"""Dynamic batching through a real server: bad requests in a batched stream, the queue limit,
and batching switched on over the config API."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from model_repo.model_config import ModelConfig
from model_repo.repository import Repository
from model_repo.runtime_config import Batching
from tests.artifacts import LOOKUP_TABLE, publish_tiny, write_lookup_onnx
from tests.integration.load import metric, publish_slow
from tests.integration.servers import Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-batching")
CLIENTS = 12


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("batching") / "repo"
    repo = Repository(root)
    publish_tiny(repo, "lookup", write=write_lookup_onnx)
    repo.set_config("lookup", ModelConfig(batching=Batching(16, 5_000)))
    publish_slow(repo, "slow", 1.0)
    repo.set_config("slow", ModelConfig(batching=Batching(1, 0, max_queue_size=1)))
    publish_tiny(repo, "later")  # batching off until the config API turns it on
    log = tmp_path_factory.mktemp("batching-log") / "server.log"
    with running_server(root, log) as running:
        yield running


def lookup(*data: Any, datatype: str = "INT64") -> dict[str, Any]:
    tensor = {"name": "i", "datatype": datatype, "shape": [len(data)], "data": list(data)}
    return {"inputs": [tensor]}


def hammer(url: str, step: Callable[[httpx.Client, int, int], None], rounds: int) -> None:
    """`CLIENTS` threads, each calling step(http, client, round) `rounds` times at once."""
    barrier = threading.Barrier(CLIENTS)

    def client(index: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            barrier.wait()
            for n in range(rounds):
                step(http, index, n)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_bad_requests_in_a_batched_stream_get_their_own_4xx(server: Server) -> None:
    bad = {  # each fails for its own reason, at its own stage
        "datatype": (lookup("one", datatype="BYTES"), "expected datatype INT64"),
        "shape": ({"inputs": [{**lookup(1, 2)["inputs"][0], "shape": [1, 2]}]}, "expected shape"),
        "runtime": (lookup(99), "cannot run on this input"),
        "json": (b"{not json", "malformed JSON"),
    }
    problems: list[str] = []

    def step(http: httpx.Client, client: int, n: int) -> None:
        kind = list(bad)[client % len(bad)] if (client + n) % 3 == 0 else None
        if kind is None:
            index = (client + n) % len(LOOKUP_TABLE)
            response = http.post("/v2/models/lookup/infer", json=lookup(index))
            if response.status_code != 200 or response.json()["outputs"][0]["data"] != [
                LOOKUP_TABLE[index]
            ]:
                problems.append(f"good {index}: {response.status_code} {response.text[:200]}")
            return
        body, message = bad[kind]
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = http.post("/v2/models/lookup/infer", content=content)
        if response.status_code != 400 or message not in response.json()["error"]:
            problems.append(f"bad {kind}: {response.status_code} {response.text[:200]}")

    hammer(server.url, step, rounds=30)
    assert problems == []
    text = httpx.get(server.url + "/metrics").text
    assert metric(text, "modelport_batches_total", model="lookup") > 0  # batches were formed
    assert metric(text, "modelport_batch_retries_total", model="lookup") > 0


def test_a_full_batching_queue_answers_503(server: Server) -> None:
    statuses: list[int] = []
    messages: set[str] = set()

    def step(http: httpx.Client, client: int, n: int) -> None:
        body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]}
        response = http.post("/v2/models/slow/infer", json=body)
        statuses.append(response.status_code)
        if response.status_code != 200:
            messages.add(response.json()["error"])
        elif response.json()["outputs"][0]["data"] != [2.0, 3.0]:
            messages.add(f"wrong answer: {response.text}")

    hammer(server.url, step, rounds=10)
    assert set(statuses) <= {200, 503} and 200 in statuses and 503 in statuses
    assert messages == {
        "model 'slow' version 1: the batching queue is full (1 requests waiting); "
        "retry shortly, or raise batching.max_queue_size"
    }


def test_batching_is_switched_on_over_the_config_api(server: Server) -> None:
    path = "/v2/repository/models/later/config"
    config = httpx.get(server.url + path).json()
    assert "batching" not in config
    config.pop("name")
    config["batching"] = {"max_batch_size": 8, "max_queue_delay_us": 20_000}
    response = httpx.put(server.url + path, json=config, headers=server.admin)
    assert response.status_code == 200, response.text
    assert response.json()["batching"] == {
        "max_batch_size": 8,
        "max_queue_delay_us": 20_000,
        "max_queue_size": 1024,
    }

    wrong: list[str] = []

    def step(http: httpx.Client, client: int, n: int) -> None:
        body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [client, n]}]}
        response = http.post("/v2/models/later/infer", json=body)
        if response.status_code != 200 or response.json()["outputs"][0]["data"] != [
            client + 1.0,
            n + 1.0,
        ]:
            wrong.append(response.text)

    hammer(server.url, step, rounds=5)
    assert wrong == []
    text = httpx.get(server.url + "/metrics").text
    assert metric(text, "modelport_batches_total", model="later") > 0
    refused = httpx.put(server.url + path, json={"batching": {"max_batch_size": 0}},
                        headers=server.admin)  # fmt: skip
    assert refused.status_code == 400
    assert "max_batch_size must be an integer from 1" in refused.json()["error"]
