"""Read an MLflow model directory's `MLmodel` file without MLflow: which flavor, which file.

An MLflow model is a directory holding an `MLmodel` YAML file that names its flavors, each
with the files its loader reads. modelport reads three (in this order when several are
present), and `python_function` only to find one of them in models that record no other:

- `sklearn`: `pickled_model: model.pkl` with `serialization_format` cloudpickle or pickle
  (a pickle: refused unless allowed), or skops (a skops file, safe);
- `pytorch`: `model_data: data` holding `model.pth` (TorchScript, saved with
  `ScriptModule.save`, or a `torch.save` pickle, which is refused) or a `torch.export`
  program (`serialization_format: pt2`, a `.pt2` file);
- `keras` (Keras 3): `data: data` holding `model.keras`, or the SavedModel `model/`
  (`save_exported_model: true`);
- `tensorflow`: `data: data` holding `model.keras` / `model.h5` / `model/` (a Keras model),
  or `saved_model_dir: tf2model` (a tf.Module's SavedModel).

The YAML is parsed with `yaml.safe_load` (plain data only, no Python objects) and bounded in
size; every path it names must stay inside the directory. Nothing MLflow pickles besides
the model itself (a pytorch `pickle_module_info.txt`, Keras `custom_objects.cloudpickle`) is
ever loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from converters.errors import ModelLoadError, first_line

MLMODEL_FILE = "MLmodel"
MAX_MLMODEL_BYTES = 1 << 20
FLAVORS = {
    "sklearn": "sklearn",
    "pytorch": "torch",
    "keras": "tensorflow",
    "tensorflow": "tensorflow",
}
_PYFUNC_LOADERS = {f"mlflow.{flavor}": flavor for flavor in FLAVORS}
PICKLE_FORMATS = frozenset({"pickle", "cloudpickle"})
SKLEARN_FORMATS = (*sorted(PICKLE_FORMATS), "skops")
KERAS_FILES = ("model.keras", "model.h5")
TORCH_SUFFIXES = (".pt2", ".pth", ".pt")
SAVED_MODEL_FILE = "saved_model.pb"


@dataclass(frozen=True)
class MlflowModel:
    """What an MLmodel file says about the model modelport will load."""

    directory: Path
    flavor: str  # the MLflow flavor read: "sklearn", "pytorch", "keras", "tensorflow"
    artifact: Path  # the file or directory that flavor's model is stored in
    serialization: str  # "skops", "pickle", "cloudpickle", "pt2", "torch", "keras", "savedmodel"
    config: dict[str, Any]  # the whole MLmodel document

    @property
    def framework(self) -> str:
        return FLAVORS[self.flavor]

    @property
    def pickled(self) -> bool:
        """Whether loading the model unpickles it (so runs code the file names)."""
        return self.serialization in PICKLE_FORMATS

    def notes(self) -> dict[str, Any]:
        return {
            "flavor": self.flavor,
            "artifact": self.artifact.relative_to(self.directory).as_posix(),
            "serialization": self.serialization,
            "mlflow_version": self.config.get("mlflow_version"),
            "run_id": self.config.get("run_id"),
        }


def pickle_refusal(model: MlflowModel) -> str:
    """Why a pickled MLflow model is refused, and the ways out."""
    return (
        f"{model.directory.name} is an MLflow {model.flavor} model serialized with "
        f"{model.serialization} ({model.artifact.name}), a pickle: loading it runs arbitrary "
        "code, so it is refused here. Log it with mlflow.sklearn.log_model(..., "
        "serialization_format='skops'), or have the operator allow pickles (modelport serve "
        "--allow-pickle)"
    )


def is_mlflow_dir(path: Path) -> bool:
    return path.is_dir() and (path / MLMODEL_FILE).is_file()


def read_mlmodel(directory: Path) -> MlflowModel:
    """The MLflow model in `directory`; ModelLoadError naming the problem and the file."""
    config = _read_yaml(directory / MLMODEL_FILE)
    flavors = config.get("flavors")
    if not isinstance(flavors, dict) or not flavors:
        raise ModelLoadError(f"{_where(directory)} names no flavors (no 'flavors' mapping)")
    flavor = _flavor(flavors, directory)
    conf = flavors.get(flavor) or _pyfunc(flavors)
    if not isinstance(conf, dict):
        raise ModelLoadError(f"{_where(directory)}: flavor {flavor!r} is not a mapping")
    artifact, serialization = _RESOLVERS[flavor](directory, conf)
    return MlflowModel(directory, flavor, artifact, serialization, config)


def _where(directory: Path) -> str:
    return f"the MLflow model {directory.name}/{MLMODEL_FILE}"


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    if path.stat().st_size > MAX_MLMODEL_BYTES:
        raise ModelLoadError(f"{path} is over {MAX_MLMODEL_BYTES} bytes; not an MLmodel file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ModelLoadError(
            f"{path.parent.name}/{path.name} is not valid YAML: {first_line(exc)}"
        ) from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path.parent.name}/{path.name} is not a YAML mapping")
    return data


def _flavor(flavors: dict[str, Any], directory: Path) -> str:
    for flavor in FLAVORS:
        if flavor in flavors:
            return flavor
    loader = (_pyfunc(flavors) or {}).get("loader_module")
    if loader in _PYFUNC_LOADERS:
        return _PYFUNC_LOADERS[loader]
    custom = " A custom pyfunc model is a cloudpickle of Python code, which modelport does not run"
    raise ModelLoadError(
        f"{_where(directory)} has the flavor(s) {', '.join(map(str, flavors))}"
        + (f" (python_function loader {loader})" if loader else "")
        + f"; modelport converts the {', '.join(FLAVORS)} flavors."
        + (custom if loader == "mlflow.pyfunc.model" else "")
    )


def _pyfunc(flavors: dict[str, Any]) -> dict[str, Any] | None:
    conf = flavors.get("python_function")
    return conf if isinstance(conf, dict) else None


def inside(directory: Path, relative: Any, what: str) -> Path:
    """`directory / relative`, refused unless it is a relative path that stays inside
    `directory` (links followed) and exists."""
    if not isinstance(relative, str) or not relative:
        raise ModelLoadError(f"{_where(directory)}: {what} is missing or not a path")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or "\\" in relative:
        raise ModelLoadError(
            f"{_where(directory)}: {what} {relative!r} points outside the model directory"
        )
    path = directory / pure
    if not path.resolve().is_relative_to(directory.resolve()):
        raise ModelLoadError(f"{_where(directory)}: {what} {relative!r} links outside it")
    if not path.exists():
        raise ModelLoadError(f"{_where(directory)}: {what} {relative!r} does not exist")
    return path


def _sklearn(directory: Path, conf: dict[str, Any]) -> tuple[Path, str]:
    # A python_function-only model (old MLflow) names the file model_path, or data.
    name = conf.get("pickled_model") or conf.get("model_path") or conf.get("data")
    serialization = str(conf.get("serialization_format", "pickle"))
    if serialization not in SKLEARN_FORMATS:
        raise ModelLoadError(
            f"{_where(directory)}: sklearn serialization_format {serialization!r} unknown; "
            f"MLflow writes {', '.join(SKLEARN_FORMATS)}"
        )
    return inside(directory, name, "the sklearn pickled_model"), serialization


def _pytorch(directory: Path, conf: dict[str, Any]) -> tuple[Path, str]:
    data = inside(directory, conf.get("model_data") or conf.get("data") or "data", "model_data")
    found = (
        [data]
        if data.is_file()
        else sorted(p for p in data.iterdir() if p.is_file() and p.suffix.lower() in TORCH_SUFFIXES)
    )
    if len(found) != 1:
        raise ModelLoadError(
            f"{_where(directory)}: model_data {data.name} should hold one model file "
            f"({', '.join(TORCH_SUFFIXES)}); it holds {', '.join(p.name for p in found) or 'none'}"
        )
    exported = conf.get("serialization_format") == "pt2" or found[0].suffix.lower() == ".pt2"
    return found[0], "pt2" if exported else "torch"


def _keras(directory: Path, conf: dict[str, Any]) -> tuple[Path, str]:
    if conf.get("saved_model_dir"):  # tensorflow flavor, a tf.Module or an Estimator
        key = conf.get("signature_def_key") or "serving_default"
        if key != "serving_default":
            raise ModelLoadError(
                f"{_where(directory)}: the SavedModel is served through signature {key!r}; "
                "modelport serves serving_default"
            )
        return inside(directory, conf["saved_model_dir"], "saved_model_dir"), "savedmodel"
    data = inside(directory, conf.get("data") or "data", "the Keras data")
    for name in KERAS_FILES:
        if (data / name).is_file():
            return data / name, "keras"
    if (data / "model" / SAVED_MODEL_FILE).is_file():
        return data / "model", "savedmodel"
    raise ModelLoadError(
        f"{_where(directory)}: {data.name}/ holds neither {' nor '.join(KERAS_FILES)} nor a "
        f"SavedModel model/{SAVED_MODEL_FILE}"
    )


_RESOLVERS = {"sklearn": _sklearn, "pytorch": _pytorch, "keras": _keras, "tensorflow": _keras}
