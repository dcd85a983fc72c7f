"""A bounded concurrency smoke test: 8 clients x 250 requests, zero errors, right answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.models import IRIS_COLUMNS, Sources, iris_rows
from tests.integration.servers import Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-concurrency")
CLIENTS = 8
REQUESTS = 250


@pytest.fixture(scope="module")
def server(
    repo_copy: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("concurrency-log") / "server.log"
    with running_server(repo_copy("concurrency"), log) as running:
        yield running


def test_eight_clients_without_a_single_error(server: Server, sources: Sources) -> None:
    rows = iris_rows(sources, 5)
    expected = sources.array_model.predict(rows).tolist()
    frame = sources.iris_x.iloc[::30].head(5)
    expected_columns = sources.columns_model.predict(frame).tolist()
    v2 = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [5, 4], "data": rows.tolist()}]}
    tf = {"inputs": {c: rows[:, i].tolist() for i, c in enumerate(IRIS_COLUMNS)}}
    failures: list[str] = []

    def client(index: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for i in range(REQUESTS):
                if (index + i) % 2:
                    response = http.post("/v2/models/iris_array/infer", json=v2)
                    ok = response.status_code == 200
                    ok = ok and response.json()["outputs"][0]["data"] == expected
                else:
                    response = http.post("/v1/models/iris:predict", json=tf)
                    ok = response.status_code == 200
                    ok = ok and response.json()["outputs"]["label"] == expected_columns
                if not ok:
                    failures.append(f"client {index} request {i}: {response.text[:200]}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    assert failures == []
    total = CLIENTS * REQUESTS
    print(f"\n{total} requests from {CLIENTS} clients in {elapsed:.2f} s: {total / elapsed:.0f}/s")
    metrics = httpx.get(server.url + "/metrics").text
    served = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("modelport_inference_requests_total{")
    )
    assert served == total
