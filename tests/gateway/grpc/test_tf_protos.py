"""TF Serving's protos are loaded without TensorFlow's runtime, and TensorFlow still loads
after them (each case in a fresh interpreter: the point is what a process imports)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_serving") is None
    or importlib.util.find_spec("tensorflow") is None,
    reason="needs tensorflow-cpu and tensorflow-serving-api",
)

LOAD_ONLY = """
import json, sys, time
started = time.perf_counter()
from gateway.grpc.tf_protos import load
protos = load()
seconds = time.perf_counter() - started
maps = open("/proc/self/maps").read()
print(json.dumps({
    "seconds": seconds,
    "tensorflow_modules": sorted(n for n in sys.modules if n.split(".")[0] == "tensorflow"),
    "runtime_mapped": "_pywrap_tensorflow" in maps or "libtensorflow" in maps,
    "predict": protos.predict.PredictRequest.DESCRIPTOR.full_name,
}))
"""

THEN_TENSORFLOW = """
import numpy as np
from gateway.grpc.tf_protos import load
protos = load()
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2
request = protos.predict.PredictRequest()
request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.arange(4, dtype=np.float32)))
assert tensor_pb2.TensorProto is protos.tensor.TensorProto
assert tf.make_ndarray(request.inputs["x"]).tolist() == [0.0, 1.0, 2.0, 3.0]
assert float(tf.reduce_sum(tf.constant([1.0, 2.0]))) == 3.0
print("ok")
"""


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_the_protos_load_without_tensorflows_runtime() -> None:
    found = json.loads(run(LOAD_ONLY))
    assert found["predict"] == "tensorflow.serving.PredictRequest"
    assert found["tensorflow_modules"] == []  # the stand-in and TF's pb2 modules are gone
    assert found["runtime_mapped"] is False
    assert found["seconds"] < 2  # TensorFlow's own import takes several seconds here


@pytest.mark.tensorflow
def test_tensorflow_loads_after_them_with_the_same_message_classes() -> None:
    assert run(THEN_TENSORFLOW) == "ok"
