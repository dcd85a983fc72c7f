"""Which converter handles a (framework, format) pair.

Converters register by module path so that a missing optional framework does not break
the lookup of the others; a duplicate registration raises instead of overwriting.
"""

from __future__ import annotations

import importlib

from converters.base import Converter
from converters.errors import UnsupportedConversion
from model_repo.errors import InvalidArgument

_REGISTRY: dict[tuple[str, str], str] = {}


def register(framework: str, target: str, module: str) -> None:
    key = (framework, target)
    if key in _REGISTRY:
        raise InvalidArgument(
            f"a converter for {framework} -> {target} is already registered ({_REGISTRY[key]})"
        )
    _REGISTRY[key] = module


def targets_for(framework: str) -> list[str]:
    return sorted(t for f, t in _REGISTRY if f == framework)


def get_converter(framework: str, target: str) -> Converter:
    module = _REGISTRY.get((framework, target))
    if module is None:
        targets = targets_for(framework)
        if targets:
            hint = f"{framework} models can be converted to: {', '.join(targets)}"
        else:
            frameworks = sorted({f for f, _ in _REGISTRY})
            hint = f"supported frameworks: {', '.join(frameworks)}"
        raise UnsupportedConversion(f"no converter from {framework} to {target}; {hint}")
    converter: Converter = importlib.import_module(module).CONVERTER
    return converter


register("sklearn", "onnx", "converters.sklearn_onnx")
register("sklearn", "pmml", "converters.sklearn_pmml")
# Native XGBoost and LightGBM files load into their scikit-learn wrappers (load_booster).
register("xgboost", "onnx", "converters.sklearn_onnx")
register("xgboost", "pmml", "converters.sklearn_pmml")
register("lightgbm", "onnx", "converters.sklearn_onnx")
register("lightgbm", "pmml", "converters.sklearn_pmml")
register("torch", "onnx", "converters.torch_onnx")
register("tensorflow", "savedmodel", "converters.tf_savedmodel")
