"""scikit-learn -> ONNX with skl2onnx.

The graph takes float32 numbers and strings (BYTES), has no ZipMap, and its outputs are
renamed to the scikit-learn contract in `sklearn_common` (`label`, `probabilities`,
`prediction`), so it serves exactly like the PMML artifact of the same model. Text is
tokenised as scikit-learn does (`sklearn_text`); trees split and route missing values as
scikit-learn does (`onnx_trees`).

Tolerances: continuous models rtol 1e-5, atol 1e-5 (float32 arithmetic against float64);
tree ensembles and nearest neighbours rtol 1e-4, atol 1e-5 with 1% of elements allowed to
differ (a float32 input on a split threshold, or tied neighbours, may go the other way).
"""

from __future__ import annotations

import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

from converters import (
    booster_onnx,
    boosters,
    onnx_trees,
    sklearn_common,
    sklearn_missing,
    sklearn_text,
)
from converters.base import Export, Sample, SourceModel
from converters.errors import ConversionError, UnsupportedConversion
from converters.sklearn_contract import SklearnContract
from model_repo.errors import DependencyMissing
from model_repo.formats import get_format
from model_repo.signature import Signature, TensorSpec


class SklearnToOnnx(SklearnContract):
    name = "sklearn_onnx"
    target = "onnx"

    def check_environment(self) -> None:
        try:
            import skl2onnx  # noqa: F401
        except ImportError as exc:  # pragma: no cover - skl2onnx is a base dependency
            raise DependencyMissing("skl2onnx is not installed: pip install modelport") from exc

    def supports(self, cls: type) -> bool:
        from skl2onnx._supported_operators import sklearn_operator_name_map

        return cls in sklearn_operator_name_map or _is_booster_class(cls)

    def export(self, model: SourceModel, sample: Sample, dest: Path) -> Export:
        estimator = model.obj
        booster_onnx.register(estimator)
        sklearn_common.check_steps(estimator, self.target, self.supports)
        sklearn_text.check_vectorizers(estimator, self.target)
        sklearn_missing.check_onnx_imputers(estimator)
        inputs = self.input_specs(model)
        outputs = sklearn_common.output_specs(estimator)
        graph = _canonical(_convert(_prepared(estimator), inputs), outputs)
        onnx_trees.route_missing_values(graph, estimator)
        sklearn_text.repair_sublinear_tf(graph, estimator)
        artifact = dest / get_format("onnx").artifact_name
        artifact.write_bytes(graph.SerializeToString())
        described = get_format("onnx").describe(artifact)
        signature = Signature(inputs, outputs)
        _check_matches(described, signature)
        return Export(
            signature=signature,
            labels=sklearn_common.class_labels(estimator),
            libraries={p: version(p) for p in _libraries(estimator)},
            notes={"opset": {d.domain or "ai.onnx": d.version for d in graph.opset_import}},
        )


def _is_booster_class(cls: type) -> bool:
    """An XGBoost or LightGBM wrapper: onnxmltools converts it (registered on export)."""
    return any(cls in boosters.wrapper_types(lib) for lib in boosters.LIBRARIES)


def _libraries(estimator: Any) -> tuple[str, ...]:
    found = ("skl2onnx", "onnx", "onnxruntime")
    return (*found, "onnxmltools") if boosters.libraries_in(estimator) else found


def _prepared(estimator: Any) -> Any:
    """The model skl2onnx is given: a copy where its converters need one (see
    `onnx_trees.float32_thresholds`, `sklearn_text.without_stop_words`)."""
    return onnx_trees.float32_thresholds(sklearn_text.without_stop_words(estimator))


def _convert(estimator: Any, inputs: tuple[TensorSpec, ...]) -> Any:
    """Convert with skl2onnx, then give the graph exactly the inputs the contract names."""
    if _routes_columns(estimator):
        initial = [(s.name, _tensor_type(s.datatype, 1)) for s in inputs]
        graph = _to_onnx(estimator, initial)
        _restore_input_names(graph, [s.name for s in inputs])
        return graph
    datatypes = {s.datatype for s in inputs}
    if len(datatypes) > 1:
        raise UnsupportedConversion(
            "the model takes string and numeric columns without a ColumnTransformer, which "
            "skl2onnx cannot type; wrap its preprocessing in a ColumnTransformer, or convert "
            "it to pmml, which takes it as it is"
        )
    width = sum(s.shape[1] for s in inputs)
    graph = _to_onnx(estimator, [(_FEATURES, _tensor_type(datatypes.pop(), width))])
    _feed_from(graph, inputs)
    return graph


_FEATURES = "features"


def _routes_columns(estimator: Any) -> bool:
    """True when the first step picks columns by name, so skl2onnx takes one input each."""
    return hasattr(sklearn_common.first_step(estimator), "transformers_")


def _tensor_type(datatype: str, width: int) -> Any:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    return (
        StringTensorType([None, width]) if datatype == "BYTES" else FloatTensorType([None, width])
    )


def _to_onnx(estimator: Any, initial_types: list[tuple[str, Any]]) -> Any:
    from skl2onnx import to_onnx

    options: dict[int, dict[str, Any]] = sklearn_text.onnx_options(estimator)
    if sklearn_common.is_classifier(estimator):
        options[id(sklearn_common.final_estimator(estimator))] = {"zipmap": False}
    try:
        with warnings.catch_warnings():
            # skl2onnx's tree converters put Python bools into integer attribute lists
            # (HistGradientBoosting's missing-value flags). protobuf 6 accepts them with this
            # warning; protobuf >= 7.34 rejects them, which is why protobuf is pinned below 7.
            warnings.filterwarnings(
                "ignore", "Field onnx.AttributeProto.ints: Expected an int, got a boolean"
            )
            return to_onnx(
                estimator,
                initial_types=initial_types,
                options=options or None,
                target_opset=booster_onnx.target_opset(estimator),
            )
    except (RuntimeError, NotImplementedError) as exc:
        reason = str(exc)
        if (
            isinstance(exc, NotImplementedError)
            or "Unable to find a shape calculator" in reason
            or "not supported" in reason
        ):
            raise UnsupportedConversion(f"skl2onnx cannot convert this model: {exc}") from exc
        raise ConversionError(f"skl2onnx failed: {exc}") from exc
    except Exception as exc:  # skl2onnx raises ValueError, TypeError, KeyError ...
        raise ConversionError(f"skl2onnx failed: {type(exc).__name__}: {exc}") from exc


def _restore_input_names(graph: Any, names: list[str]) -> None:
    """skl2onnx rewrites names such as "petal width (cm)"; give clients the real ones."""
    renamed = {value.name: name for value, name in zip(graph.graph.input, names, strict=True)}
    for value in graph.graph.input:
        value.name = renamed[value.name]
    for node in graph.graph.node:
        node.input[:] = [renamed.get(i, i) for i in node.input]


def _feed_from(graph: Any, inputs: tuple[TensorSpec, ...]) -> None:
    """Replace the single 2-D input by one input per column, concatenated in order."""
    from onnx import helper

    if len(inputs) == 1:  # fitted on an array, or on documents: keep it whole
        _restore_input_names(graph, [inputs[0].name])
        return
    elem = graph.graph.input[0].type.tensor_type.elem_type
    del graph.graph.input[:]
    graph.graph.input.extend(helper.make_tensor_value_info(s.name, elem, [None, 1]) for s in inputs)
    concat = helper.make_node("Concat", [s.name for s in inputs], [_FEATURES], axis=1)
    graph.graph.node.insert(0, concat)


def _canonical(graph: Any, outputs: tuple[TensorSpec, ...]) -> Any:
    """Rename skl2onnx's outputs to the contract: label/probabilities, or prediction."""
    from onnx import TensorProto, helper

    produced = [o.name for o in graph.graph.output]
    wanted = [o.name for o in outputs]
    if wanted[0] == "label":
        keep = [o for o in graph.graph.output if o.name in wanted]
        del graph.graph.output[:]
        graph.graph.output.extend(keep)
        return graph
    # A regressor's single output is `variable` [N, n_targets]; the contract drops the
    # trailing 1 for a single target.
    new_shape = list(outputs[0].shape)
    graph.graph.initializer.append(
        helper.make_tensor("prediction_shape", TensorProto.INT64, [len(new_shape)], new_shape)
    )
    graph.graph.node.append(
        helper.make_node("Reshape", [produced[0], "prediction_shape"], ["prediction"])
    )
    dims = [None if d == -1 else d for d in new_shape]
    del graph.graph.output[:]
    graph.graph.output.append(helper.make_tensor_value_info("prediction", TensorProto.FLOAT, dims))
    return graph


def _check_matches(described: Signature, declared: Signature) -> None:
    def key(specs: tuple[TensorSpec, ...]) -> list[tuple[str, str]]:
        return [(s.name, s.datatype) for s in specs]

    if key(described.inputs) != key(declared.inputs) or key(described.outputs) != key(
        declared.outputs
    ):
        raise ConversionError(
            f"skl2onnx produced a graph with signature {described.to_dict()}, expected "
            f"{declared.to_dict()}; please report this model"
        )


CONVERTER = SklearnToOnnx()
