"""MLflow model directories written as `mlflow.<flavor>.save_model` writes them, without MLflow.

The layout follows MLflow's own code (mlflow/sklearn, mlflow/pytorch, mlflow/keras,
mlflow/models/utils.py `_Example`, mlflow/models/model.py `Model.save`): an `MLmodel` YAML
(`yaml.safe_dump`, sorted keys, block style), the model files, the environment files, and
the input example with its serving payload.
"""

from __future__ import annotations

import json
import pickle
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MLFLOW_VERSION = "3.1.0"
PYTHON_VERSION = "3.11.9"
_COLUMN_TYPES = {"f": "double", "i": "long", "b": "boolean", "O": "string"}


def write_mlmodel(
    directory: Path,
    flavors: dict[str, Any],
    signature: dict[str, Any] | None = None,
    example: Any = None,
) -> Path:
    """MLmodel plus the files every flavor writes; `example` a DataFrame or an ndarray."""
    directory.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "artifact_path": "model",
        "flavors": flavors,
        "mlflow_version": MLFLOW_VERSION,
        "model_size_bytes": sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()),
        "model_uuid": uuid.uuid4().hex,
        "run_id": uuid.uuid4().hex,
        "utc_time_created": "2026-11-30 12:00:00.000000",
    }
    if signature is not None:
        config["signature"] = signature
    if example is not None:
        config["saved_input_example_info"] = _save_example(directory, example)
    import yaml

    (directory / "MLmodel").write_text(yaml.safe_dump(config, default_flow_style=False))
    _environment(directory)
    return directory


def pyfunc(loader: str, **extra: Any) -> dict[str, Any]:
    return {
        "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
        "loader_module": loader,
        "python_version": PYTHON_VERSION,
        **extra,
    }


def column_signature(frame: pd.DataFrame, outputs: str = "long") -> dict[str, Any]:
    inputs = [
        {"type": _COLUMN_TYPES[frame[c].dtype.kind], "name": str(c), "required": True}
        for c in frame.columns
    ]
    return {
        "inputs": json.dumps(inputs),
        "outputs": json.dumps([{"type": outputs, "required": True}]),
        "params": None,
    }


def tensor_signature(shape: list[int], dtype: str = "float32") -> dict[str, Any]:
    spec = [{"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": shape}}]
    return {"inputs": json.dumps(spec), "outputs": json.dumps(spec), "params": None}


def sklearn_dir(
    directory: Path, model: Any, serialization: str, example: pd.DataFrame, file: str = ""
) -> Path:
    """mlflow.sklearn.save_model(model, directory, serialization_format=..., input_example=...)."""
    import sklearn

    file = file or ("model.skops" if serialization == "skops" else "model.pkl")
    directory.mkdir(parents=True)
    if serialization == "skops":
        import skops.io

        skops.io.dump(model, directory / file)
    else:
        import cloudpickle

        dump = cloudpickle.dump if serialization == "cloudpickle" else pickle.dump
        with (directory / file).open("wb") as handle:
            dump(model, handle)
    flavors = {
        "python_function": pyfunc("mlflow.sklearn", model_path=file, predict_fn="predict"),
        "sklearn": {
            "code": None,
            "pickled_model": file,
            "serialization_format": serialization,
            "sklearn_version": sklearn.__version__,
        },
    }
    return write_mlmodel(directory, flavors, column_signature(example), example)


def pytorch_dir(directory: Path, module: Any, how: str, example: np.ndarray) -> Path:
    """mlflow.pytorch.save_model: `how` is "torchscript" (a ScriptModule, saved with
    ScriptModule.save), "pickle" (an eager module, torch.save), or "pt2" (torch.export)."""
    import torch

    data = directory / "data"
    data.mkdir(parents=True)
    (data / "pickle_module_info.txt").write_text("mlflow.pytorch.pickle_module")
    conf: dict[str, Any] = {
        "code": None,
        "model_data": "data",
        "pytorch_version": str(torch.__version__),
    }
    if how == "torchscript":
        torch.jit.script(module).save(str(data / "model.pth"))
    elif how == "pickle":
        torch.save(module, str(data / "model.pth"))
    else:
        program = torch.export.export(module, (torch.from_numpy(example),))
        torch.export.save(program, str(data / "model.pt2"))
        conf["serialization_format"] = "pt2"
    flavors = {
        "python_function": pyfunc(
            "mlflow.pytorch",
            data="data",
            pickle_module_name="mlflow.pytorch.pickle_module",
            model_config={"device": None},
        ),
        "pytorch": conf,
    }
    signature = tensor_signature([-1, *example.shape[1:]], str(example.dtype))
    return write_mlmodel(directory, flavors, signature, example)


def keras_dir(directory: Path, model: Any, example: np.ndarray, flavor: str = "keras") -> Path:
    """mlflow.keras.save_model (Keras 3, `flavor="keras"`; `"keras-exported"` for
    save_exported_model=True, a SavedModel data/model/), or mlflow.tensorflow.save_model of a
    Keras model with TensorFlow >= 2.16 (`flavor="tensorflow"`): data/model.keras beside the
    module and format files."""
    import keras

    data = directory / "data"
    data.mkdir(parents=True)
    exported = flavor == "keras-exported"
    if exported:  # save_exported_model=True: what mlflow.keras's _export_keras_model does
        import tensorflow as tf

        archive = keras.export.ExportArchive()
        archive.track(model)
        spec = tf.TensorSpec(shape=[None, *example.shape[1:]], dtype=str(example.dtype))
        archive.add_endpoint(name="serve", fn=model.call, input_signature=[spec])
        archive.write_out(str(data / "model"), verbose=False)
    else:
        model.save(data / "model.keras")
    if flavor != "tensorflow":
        flavor = "keras"
        (data / "keras_module.txt").write_text("keras")
        conf: dict[str, Any] = {
            "data": "data",
            "keras_backend": keras.backend.backend(),
            "keras_version": keras.__version__,
            "save_exported_model": exported,
        }
        loader = pyfunc("mlflow.keras")
    else:
        import tensorflow as tf

        (data / "keras_module.txt").write_text("tensorflow.keras")
        (data / "save_format.txt").write_text("tf")
        conf = {
            "code": None,
            "data": "data",
            "keras_version": tf.__version__,
            "model_type": "keras",
            "save_format": "tf",
        }
        loader = pyfunc("mlflow.tensorflow", data="data")
    signature = tensor_signature([-1, *example.shape[1:]], str(example.dtype))
    return write_mlmodel(directory, {flavor: conf, "python_function": loader}, signature, example)


def _save_example(directory: Path, example: Any) -> dict[str, Any]:
    """What mlflow.models.utils._Example writes: the example and its serving payload."""
    if isinstance(example, pd.DataFrame):
        data: Any = {"columns": [str(c) for c in example.columns], "data": example.values.tolist()}
        serving: Any = {"dataframe_split": data}
        info = {"type": "dataframe", "pandas_orient": "split"}
    else:
        data = serving = {"inputs": example.tolist()}
        info = {"type": "ndarray", "format": "tf-serving"}
    (directory / "input_example.json").write_text(json.dumps(data))
    (directory / "serving_input_example.json").write_text(json.dumps(serving, indent=2))
    return {
        "artifact_path": "input_example.json",
        "serving_input_path": "serving_input_example.json",
        **info,
    }


def _environment(directory: Path) -> None:
    (directory / "conda.yaml").write_text(
        "channels:\n- conda-forge\ndependencies:\n"
        f"- python={PYTHON_VERSION}\n- pip\n- pip:\n  - mlflow=={MLFLOW_VERSION}\n"
        "name: mlflow-env\n"
    )
    (directory / "python_env.yaml").write_text(
        f"python: {PYTHON_VERSION}\nbuild_dependencies:\n- pip\ndependencies:\n"
        "- -r requirements.txt\n"
    )
    (directory / "requirements.txt").write_text(f"mlflow=={MLFLOW_VERSION}\n")
