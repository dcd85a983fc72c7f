"""TF Serving's protos, from tensorflow-serving-api, without TensorFlow's runtime.

tensorflow-serving-api's modules import TensorFlow's own protos (`tensorflow.core.framework
.tensor_pb2` and others): plain protobuf modules, but inside the `tensorflow` package, so
importing them the usual way runs `tensorflow/__init__.py` first, which loads TensorFlow's
C++ runtime. Measured here: `import tensorflow_serving.apis.predict_pb2` takes 4.3 s and
leaves the process at 619 MiB resident, against 0.17 s and 34 MiB this way. A gateway
serving only ONNX must not pay that for a protocol, so `load` imports them under a
stand-in for the `tensorflow` package (an empty module whose `__path__` is the real
package's directory), holding the import lock so no other thread can see the stand-in,
then takes every `tensorflow*` entry out of `sys.modules` again. The modules it loaded keep
working: their descriptors live in protobuf's default pool. A later `import tensorflow`
(a SavedModel being loaded) runs TensorFlow's `__init__` as usual and imports the same
.proto files again, which protobuf accepts as identical, with the same message classes
(tests/gateway/grpc/test_tf_protos.py checks both in a fresh process).
"""

from __future__ import annotations

import _imp
import functools
import importlib
import importlib.util
import sys
import types
from dataclasses import dataclass
from typing import Any

from model_repo.errors import DependencyMissing

INSTALL = (
    "TF Serving's gRPC API needs tensorflow-cpu (pip install 'modelport[tensorflow]') and "
    "tensorflow-serving-api (pip install --no-deps -c constraints.txt tensorflow-serving-api: "
    "it declares a dependency on the full tensorflow package, which must not be installed "
    "beside tensorflow-cpu)"
)
_MODULES = {
    "predict": "tensorflow_serving.apis.predict_pb2",
    "classification": "tensorflow_serving.apis.classification_pb2",
    "regression": "tensorflow_serving.apis.regression_pb2",
    "metadata": "tensorflow_serving.apis.get_model_metadata_pb2",
    "status": "tensorflow_serving.apis.get_model_status_pb2",
    "model": "tensorflow_serving.apis.model_pb2",
    "tensor": "tensorflow.core.framework.tensor_pb2",
    "types": "tensorflow.core.framework.types_pb2",
}


@dataclass(frozen=True)
class TFServingProtos:
    """The message modules TF Serving's services need, by short name."""

    predict: Any
    classification: Any
    regression: Any
    metadata: Any  # get_model_metadata_pb2, with SignatureDefMap
    status: Any  # get_model_status_pb2
    model: Any  # ModelSpec
    tensor: Any  # TensorProto
    types: Any  # DataType


@functools.cache
def load() -> TFServingProtos:
    """The protos, imported once; DependencyMissing when either package is not installed."""
    if importlib.util.find_spec("tensorflow_serving") is None:
        raise DependencyMissing(INSTALL)
    if "tensorflow" in sys.modules:  # the runtime is loaded already: nothing to spare
        return _import_all()
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        raise DependencyMissing(INSTALL)
    stand_in = types.ModuleType("tensorflow")
    stand_in.__path__ = list(spec.submodule_search_locations)
    _imp.acquire_lock()
    try:
        sys.modules["tensorflow"] = stand_in
        return _import_all()
    finally:
        for name in [n for n in sys.modules if n == "tensorflow" or n.startswith("tensorflow.")]:
            del sys.modules[name]
        _imp.release_lock()


def _import_all() -> TFServingProtos:
    try:
        found = {key: importlib.import_module(name) for key, name in _MODULES.items()}
    except ImportError as exc:
        raise DependencyMissing(f"{INSTALL}; importing its protos failed: {exc}") from None
    return TFServingProtos(**found)
