"""Read what serving needs from a PMML document, in Python, without Java.

The document is streamed through expat with every DTD refused: PMML never needs one, and
refusing the DOCTYPE rules out entity expansion ("billion laughs") and external entities
(local files, URLs) before JPMML ever sees an uploaded file. Files are also size-capped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from model_repo.errors import ArtifactError
from model_repo.signature import Signature, TensorSpec

MAX_PMML_BYTES = 512 * 1024 * 1024
# PMML dataType -> V2 datatype. Other PMML types (dates, times) are not served.
PMML_TO_V2 = {
    "double": "FP64",
    "float": "FP32",
    "integer": "INT64",
    "string": "BYTES",
    "boolean": "BOOL",
}
SERVED_FUNCTIONS = ("classification", "regression")


@dataclass(frozen=True)
class PmmlField:
    name: str
    datatype: str  # the PMML dataType
    values: tuple[str, ...] = ()  # valid categories, in document order


@dataclass(frozen=True)
class PmmlOutput:
    """An OutputField the evaluator returns: its name, feature and declared types.

    `dataType` and `optype` are optional in PMML 4.3; `datatype` then follows from the
    feature (see `output_datatype`)."""

    name: str
    feature: str = "predictedValue"
    datatype: str | None = None
    optype: str | None = None
    value: str | None = None  # the class of a probability


# Features whose value is a number whatever the model, and those whose value is text.
_NUMERIC_FEATURES = frozenset(
    {"probability", "confidence", "residual", "standardError", "standardDeviation",
     "affinity", "entityAffinity", "clusterAffinity"}
)  # fmt: skip
_TEXT_FEATURES = frozenset({"reasonCode", "entityId", "clusterId", "predictedDisplayValue"})
CANONICAL_OUTPUTS = frozenset({"label", "probabilities", "prediction"})
_TARGET_USES = ("target", "predicted")
SYNTHETIC_TARGET = ""  # a model that names no target: JPMML's result has no name (None)


@dataclass(frozen=True)
class PmmlModel:
    """The first model of a PMML document: its function, fields and outputs."""

    function: str
    active: tuple[PmmlField, ...]
    targets: tuple[PmmlField, ...]
    probability_fields: tuple[str, ...]  # OutputField names, in class order
    classes: tuple[str, ...] = ()  # the class of each probability field, in that order
    extra_outputs: tuple[PmmlOutput, ...] = ()  # the other OutputFields the evaluator returns

    def signature(self) -> Signature:
        inputs = [TensorSpec(f.name, v2(f), (-1, 1)) for f in self.active]
        return Signature.of(inputs, self.output_specs())

    def output_specs(self) -> list[TensorSpec]:
        """The canonical outputs (`prediction`, or `label` and `probabilities`), then each
        other OutputField under its own name, one value per row."""
        if self.function == "regression":
            shape = (-1,) if len(self.targets) == 1 else (-1, len(self.targets))
            specs = [TensorSpec("prediction", "FP64", shape)]
        else:
            specs = [TensorSpec("label", v2(self.targets[0]), (-1,))]
            # Probabilities exist only where the document declares them as OutputFields:
            # that is all the evaluator returns (the target itself is decoded to its label).
            if self.probability_fields:
                width = len(self.probability_fields)
                specs.append(TensorSpec("probabilities", "FP64", (-1, width)))
        specs += [TensorSpec(o.name, self.output_datatype(o), (-1,)) for o in self.extra_outputs]
        return specs

    def output_datatype(self, output: PmmlOutput) -> str:
        """The declared dataType; else a number or text by the feature; a predicted value
        has its target's type; a computed value (transformedValue ...) is FP64 when its
        optype is continuous and text otherwise."""
        if output.datatype is not None:
            return v2(PmmlField(output.name, output.datatype))
        if output.feature in _NUMERIC_FEATURES:
            return "FP64"
        if output.feature in _TEXT_FEATURES:
            return "BYTES"
        if output.feature == "predictedValue":
            return "FP64" if self.function == "regression" else v2(self.targets[0])
        return "FP64" if output.optype == "continuous" else "BYTES"

    def labels(self) -> tuple[Any, ...] | None:
        """A classifier's classes in `probabilities` column order, typed as its target."""
        if self.function != "classification":
            return None
        target = self.targets[0]
        classes = self.classes or target.values
        return tuple(_typed(c, target.datatype) for c in classes) or None


def _typed(value: str, datatype: str) -> Any:
    try:
        if datatype == "integer":
            return int(value)
        if datatype in ("double", "float"):
            return float(value)
    except ValueError:
        pass  # a category that is not a number in a numeric field: keep the text
    return value


def v2(pmml_field: PmmlField) -> str:
    try:
        return PMML_TO_V2[pmml_field.datatype]
    except KeyError:
        raise ArtifactError(
            f"PMML field {pmml_field.name!r} has dataType {pmml_field.datatype!r}; modelport "
            f"serves {', '.join(PMML_TO_V2)}"
        ) from None


def read_pmml(path: Path) -> PmmlModel:
    """Parse `path` safely and describe its first model; ArtifactError if it is not one."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ArtifactError(f"cannot read PMML file {path}: {exc.strerror or exc}") from exc
    if size > MAX_PMML_BYTES:
        raise ArtifactError(
            f"{path.name} is {size} bytes; PMML files above {MAX_PMML_BYTES} bytes are refused"
        )
    scanner = _Scanner()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_entity
    parser.StartElementHandler = scanner.start
    parser.EndElementHandler = scanner.end
    try:
        with path.open("rb") as stream:
            parser.ParseFile(stream)
    except expat.ExpatError as exc:
        raise ArtifactError(
            f"{path.name} is not a PMML document (not well-formed XML: {exc})"
        ) from exc
    except OSError as exc:
        raise ArtifactError(f"cannot read PMML file {path}: {exc.strerror or exc}") from exc
    return scanner.model(path.name)


def _refuse_doctype(*_: Any) -> None:
    raise ArtifactError("PMML documents with a DOCTYPE are refused (DTDs and entities are unsafe)")


def _refuse_entity(*_: Any) -> None:  # unreachable without a DTD; kept as a second lock
    raise ArtifactError("PMML documents declaring XML entities are refused")


def _is_class_probability(output: PmmlOutput) -> bool:
    return output.feature == "probability" and output.value is not None


def _is_final(attrs: dict[str, str]) -> bool:
    """Whether the evaluator returns the OutputField (it keeps intermediate ones to itself)."""
    return attrs.get("isFinalResult", "true") != "false"


def _output(attrs: dict[str, str]) -> PmmlOutput:
    return PmmlOutput(
        name=attrs.get("name", ""),
        feature=attrs.get("feature", "predictedValue"),
        datatype=attrs.get("dataType"),
        optype=attrs.get("optype"),
        value=attrs.get("value"),
    )


@dataclass
class _ModelScope:
    """One model element; in a model chain, the last segment's outputs are the chain's."""

    depth: int
    outputs: list[PmmlOutput] = field(default_factory=list)  # its final OutputFields
    targets: list[str] = field(default_factory=list)  # what its MiningSchema predicts
    chain: bool = False
    last_segment: _ModelScope | None = None

    def exposed(self) -> list[PmmlOutput]:
        chained = self.last_segment.exposed() if self.chain and self.last_segment else []
        return [*self.outputs, *chained]


@dataclass
class _Scanner:
    """Collects the DataDictionary, the first model's MiningSchema and its probability
    OutputFields (JPMML exposes those of the top model and of a model chain's last step)."""

    path: list[str] = field(default_factory=list)
    data_fields: dict[str, PmmlField] = field(default_factory=dict)
    function: str | None = None
    mining: list[tuple[str, str]] = field(default_factory=list)  # (name, usageType)
    top: _ModelScope | None = None
    scopes: list[_ModelScope] = field(default_factory=list)
    _field: tuple[str, str] | None = None
    _values: list[str] = field(default_factory=list)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local, depth = name.rpartition("}")[2], len(self.path)
        parent = self.path[-1] if self.path else ""
        if depth == 0 and local != "PMML":
            raise ArtifactError(f"not a PMML document: the root element is <{local}>")
        if "functionName" in attrs and ((depth == 1 and self.top is None) or parent == "Segment"):
            self._open_model(attrs["functionName"], depth)
        scope = self.scopes[-1] if self.scopes else None
        if depth == 2 and parent == "DataDictionary" and local == "DataField":
            self._field, self._values = (attrs.get("name", ""), attrs.get("dataType", "")), []
        elif depth == 3 and parent == "DataField" and local == "Value":
            if attrs.get("property", "valid") == "valid":
                self._values.append(attrs.get("value", ""))
        elif scope is not None and depth == scope.depth + 1 and local == "Segmentation":
            scope.chain = attrs.get("multipleModelMethod") == "modelChain"
        elif scope is not None and depth == scope.depth + 2:
            self._model_part(scope, parent, local, attrs)
        self.path.append(local)

    def end(self, name: str) -> None:
        depth = len(self.path) - 1
        if depth == 2 and self.path[-1] == "DataField" and self._field is not None:
            field_name, datatype = self._field
            self.data_fields[field_name] = PmmlField(field_name, datatype, tuple(self._values))
        if self.scopes and self.scopes[-1].depth == depth:
            closed = self.scopes.pop()
            if self.scopes:
                self.scopes[-1].last_segment = closed
        self.path.pop()

    def _open_model(self, function: str, depth: int) -> None:
        scope = _ModelScope(depth)
        if self.top is None:
            self.top, self.function = scope, function
        self.scopes.append(scope)

    def _model_part(
        self, scope: _ModelScope, parent: str, local: str, attrs: dict[str, str]
    ) -> None:
        if parent == "MiningSchema" and local == "MiningField":
            usage = attrs.get("usageType", "active")
            if usage in _TARGET_USES:
                scope.targets.append(attrs.get("name", ""))
            if scope is self.top:
                self.mining.append((attrs.get("name", ""), usage))
        elif (parent, local) == ("Output", "OutputField") and _is_final(attrs):
            scope.outputs.append(_output(attrs))

    def model(self, file_name: str) -> PmmlModel:
        if self.function is None:
            raise ArtifactError(f"{file_name} is a PMML document without a model")
        if self.function not in SERVED_FUNCTIONS:
            raise ArtifactError(
                f"{file_name}: PMML {self.function} models are not served; modelport serves "
                f"{' and '.join(SERVED_FUNCTIONS)} models"
            )
        active = tuple(self._lookup(n, file_name) for n, use in self.mining if use == "active")
        targets = tuple(self._lookup(n, file_name) for n in self._returned_targets())
        if not targets:  # JPMML then evaluates into a target of its own, without a name
            datatype = "double" if self.function == "regression" else "string"
            targets = (PmmlField(SYNTHETIC_TARGET, datatype),)
        if self.function == "classification" and len(targets) != 1:
            raise ArtifactError(f"{file_name}: a classifier must have exactly one target field")
        outputs = self.top.exposed() if self.top else []
        probabilities = self._in_class_order(targets[0], outputs)
        taken = {name for name, _ in probabilities} | CANONICAL_OUTPUTS
        extras = {o.name: o for o in outputs if o.name not in taken}  # one per name
        return PmmlModel(
            self.function,
            active,
            targets,
            tuple(name for name, _ in probabilities),
            tuple(value for _, value in probabilities),
            tuple(extras.values()),
        )

    def _returned_targets(self) -> list[str]:
        """The targets the evaluator returns: the top model's, except that a model chain
        returns only what its last segment predicts (the others feed the next segments)."""
        declared = [n for n, use in self.mining if use in _TARGET_USES]
        last = self.top.last_segment if self.top is not None and self.top.chain else None
        if last is not None:
            return [n for n in declared if n in last.targets] or declared
        return declared

    def _lookup(self, name: str, file_name: str) -> PmmlField:
        try:
            return self.data_fields[name]
        except KeyError:
            raise ArtifactError(
                f"{file_name}: MiningField {name!r} has no DataField in the DataDictionary"
            ) from None

    def _in_class_order(
        self, target: PmmlField, outputs: list[PmmlOutput]
    ) -> list[tuple[str, str]]:
        """(field, class) of each class probability, ordered like the target's categories
        (in document order when they do not name the same classes)."""
        found = [(o.name, str(o.value)) for o in outputs if _is_class_probability(o)]
        by_class = {value: name for name, value in found}
        if target.values and set(by_class) == set(target.values):
            return [(by_class[value], value) for value in target.values]
        return found
