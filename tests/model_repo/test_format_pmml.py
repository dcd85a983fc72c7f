"""The PMML format on small hand-written documents, evaluated by the real JPMML in a JVM."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_repo.errors import ArtifactError, InvalidArgument
from model_repo.formats import get_format
from model_repo.signature import Signature, TensorSpec

pytestmark = pytest.mark.pmml

# Three classes, softmax over two inputs; x2 is unused (pruned, as JPMML-SkLearn does), and
# the probability fields are declared out of class order on purpose.
COEF = np.array([[1.0, -2.0], [-0.5, 0.25], [0.0, 1.5]])
INTERCEPT = np.array([0.5, -1.0, 0.25])
CLASSIFIER = """<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header/>
  <DataDictionary>
    <DataField name="y" optype="categorical" dataType="integer">
      <Value value="0"/><Value value="1"/><Value value="2"/>
    </DataField>
    <DataField name="x1" optype="continuous" dataType="double"/>
    <DataField name="x3" optype="continuous" dataType="double"/>
  </DataDictionary>
  <RegressionModel functionName="classification" normalizationMethod="softmax">
    <MiningSchema>
      <MiningField name="y" usageType="target"/>
      <MiningField name="x1"/>
      <MiningField name="x3"/>
    </MiningSchema>
    <Output>
      <OutputField name="probability(2)" optype="continuous" dataType="double"
                   feature="probability" value="2"/>
      <OutputField name="probability(0)" optype="continuous" dataType="double"
                   feature="probability" value="0"/>
      <OutputField name="probability(1)" optype="continuous" dataType="double"
                   feature="probability" value="1"/>
    </Output>
    {tables}
  </RegressionModel>
</PMML>
"""
REGRESSOR = """<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4">
  <Header/>
  <DataDictionary>
    <DataField name="price" optype="continuous" dataType="double"/>
    <DataField name="color" optype="categorical" dataType="string">
      <Value value="red"/><Value value="blue"/>
    </DataField>
    <DataField name="size" optype="continuous" dataType="float"/>
  </DataDictionary>
  <RegressionModel functionName="regression">
    <MiningSchema>
      <MiningField name="price" usageType="target"/>
      <MiningField name="color"/>
      <MiningField name="size"/>
    </MiningSchema>
    <RegressionTable intercept="1.0">
      <NumericPredictor name="size" coefficient="2.0"/>
      <CategoricalPredictor name="color" value="red" coefficient="10.0"/>
      <CategoricalPredictor name="color" value="blue" coefficient="20.0"/>
    </RegressionTable>
  </RegressionModel>
</PMML>
"""
ARRAY_SIGNATURE = Signature.of(
    [TensorSpec("input", "FP32", (-1, 3))],
    [TensorSpec("label", "INT64", (-1,)), TensorSpec("probabilities", "FP32", (-1, 3))],
)


def _tables() -> str:
    rows = []
    for k in range(3):
        predictors = "".join(
            f'<NumericPredictor name="{name}" coefficient="{COEF[k, j]}"/>'
            for j, name in enumerate(("x1", "x3"))
        )
        rows.append(
            f'<RegressionTable intercept="{INTERCEPT[k]}" targetCategory="{k}">'
            f"{predictors}</RegressionTable>"
        )
    return "".join(rows)


def _expected(x: np.ndarray) -> np.ndarray:
    """Softmax probabilities for rows of [x1, x2, x3] (x2 is ignored)."""
    scores = x[:, [0, 2]].astype(np.float64) @ COEF.T + INTERCEPT
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    probabilities: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
    return probabilities


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pmml") / "classifier.pmml"
    path.write_text(CLASSIFIER.replace("{tables}", _tables()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def regressor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pmml") / "regressor.pmml"
    path.write_text(REGRESSOR, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def array_predictor(classifier: Path) -> Any:
    predictor = get_format("pmml").open(classifier, ARRAY_SIGNATURE)
    yield predictor
    predictor.close()


def test_describe_classifier_reads_fields_types_and_classes(classifier: Path) -> None:
    signature = get_format("pmml").describe(classifier)
    assert [(t.name, t.datatype, t.shape) for t in signature.inputs] == [
        ("x1", "FP64", (-1, 1)),
        ("x3", "FP64", (-1, 1)),
    ]
    assert [(t.name, t.datatype, t.shape) for t in signature.outputs] == [
        ("label", "INT64", (-1,)),
        ("probabilities", "FP64", (-1, 3)),
    ]


def test_describe_regressor_maps_string_and_float_fields(regressor: Path) -> None:
    signature = get_format("pmml").describe(regressor)
    assert [(t.name, t.datatype) for t in signature.inputs] == [
        ("color", "BYTES"),
        ("size", "FP32"),
    ]
    assert [(t.name, t.datatype, t.shape) for t in signature.outputs] == [
        ("prediction", "FP64", (-1,))
    ]


def test_array_input_maps_x_columns_by_name_and_follows_signature_types(
    array_predictor: Any,
) -> None:
    x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    got = array_predictor.predict({"input": x})
    expected = _expected(x)
    assert got["probabilities"].dtype == np.float32 and got["label"].dtype == np.int64
    np.testing.assert_allclose(got["probabilities"], expected, rtol=1e-6)
    np.testing.assert_array_equal(got["label"], expected.argmax(axis=1))


def test_per_column_inputs_and_single_rows_give_the_same_answers(
    classifier: Path, array_predictor: Any
) -> None:
    predictor = get_format("pmml").open(classifier)
    x = np.random.default_rng(1).normal(size=(20, 3))
    columns = {"x1": x[:, :1], "x3": x[:, 2]}  # [N, 1] and [N] are both accepted
    batch = predictor.predict(columns)
    assert batch["probabilities"].dtype == np.float64
    np.testing.assert_allclose(batch["probabilities"], _expected(x), rtol=1e-12)
    for row in (0, 7):
        single = predictor.predict({"x1": x[row : row + 1, :1], "x3": x[row : row + 1, 2:]})
        np.testing.assert_array_equal(single["probabilities"][0], batch["probabilities"][row])
        assert single["label"][0] == batch["label"][row]
    empty = array_predictor.predict({"input": np.zeros((0, 3), np.float32)})
    assert empty["probabilities"].shape == (0, 3) and empty["label"].shape == (0,)


def test_strings_missing_values_and_invalid_categories(regressor: Path) -> None:
    predictor = get_format("pmml").open(regressor)
    got = predictor.predict(
        {
            "color": np.array([["red"], [b"blue"]], dtype=object),
            "size": np.array([[1.5], [0.25]], dtype=np.float32),
        }
    )
    np.testing.assert_allclose(got["prediction"], [14.0, 21.5])
    with pytest.raises(InvalidArgument, match=r"row 1: .*color.*green"):
        predictor.predict(
            {"color": np.array(["red", "green"], dtype=object), "size": np.ones((2, 1))}
        )
    with pytest.raises(InvalidArgument, match="missing input 'size'"):
        predictor.predict({"color": np.array(["red"], dtype=object)})


def test_concurrent_predictions_from_a_thread_pool(array_predictor: Any) -> None:
    import jpype

    rng = np.random.default_rng(2)
    batches = [rng.normal(size=(int(n), 3)).astype(np.float32) for n in rng.integers(1, 40, 120)]

    def predict(x: np.ndarray) -> tuple[np.ndarray, bool, bool]:
        got = array_predictor.predict({"input": x})["probabilities"]
        thread = jpype.JClass("java.lang.Thread")
        return got, bool(thread.isAttached()), bool(thread.currentThread().isDaemon())

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(predict, batches))
    for x, (got, attached, daemon) in zip(batches, results, strict=True):
        np.testing.assert_allclose(got, _expected(x), rtol=1e-6)
        assert attached and daemon  # pool threads never hold the JVM open at exit


def test_signature_that_does_not_cover_the_fields_is_refused(classifier: Path) -> None:
    wrong = Signature.of([TensorSpec("a", "FP32", (-1, 1))], ARRAY_SIGNATURE.outputs)
    with pytest.raises(ArtifactError, match="do not provide the PMML model's active fields"):
        get_format("pmml").open(classifier, wrong)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not well-formed XML"),
        (b"<html><body>hello</body></html>", "root element is <html>"),
        (b'<PMML xmlns="http://www.dmg.org/PMML-4_4"><Header/></PMML>', "without a model"),
        (
            b'<?xml version="1.0"?><!DOCTYPE PMML [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><PMML>&b;</PMML>',
            "DOCTYPE are refused",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE PMML [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<PMML>&x;</PMML>",
            "DOCTYPE are refused",
        ),
    ],
    ids=["binary", "html", "no-model", "entity-expansion", "external-entity"],
)
def test_not_a_pmml_is_a_clear_artifact_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "model.pmml"
    path.write_bytes(content)
    with pytest.raises(ArtifactError, match=message):
        get_format("pmml").describe(path)
    with pytest.raises(ArtifactError, match=message):
        get_format("pmml").open(path)


SIGNAL_SCRIPT = """
import os, signal, sys, time
from pathlib import Path
from model_repo.formats import get_format
seen = []
signal.signal(signal.SIGINT, lambda *_: seen.append("INT"))
signal.signal(signal.SIGTERM, lambda *_: seen.append("TERM"))
get_format("pmml").open(Path(sys.argv[1]))
for number in (signal.SIGINT, signal.SIGTERM):
    os.kill(os.getpid(), number)
    time.sleep(0.3)
print(",".join(seen))
"""


def test_the_jvm_leaves_signals_to_python(classifier: Path) -> None:
    """A server must see SIGINT/SIGTERM to drain requests; JPype's default kills at once."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", SIGNAL_SCRIPT, str(classifier)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "INT,TERM"


@pytest.mark.parametrize(
    ("module", "package"), [("jpype", "JPype1"), ("jpmml_evaluator", "jpmml-evaluator")]
)
def test_a_missing_python_package_is_named_not_java(
    classifier: Path, module: str, package: str
) -> None:
    import subprocess
    import sys

    script = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from model_repo.errors import DependencyMissing\n"
        "from model_repo.formats import get_format\n"
        "try:\n"
        f"    get_format('pmml').open(__import__('pathlib').Path({str(classifier)!r}))\n"
        "except DependencyMissing as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert done.returncode == 0, done.stderr
    message = done.stdout.strip()
    assert f"needs the Python package {package}, which is not installed" in message
    assert "pip install 'modelport[pmml]'" in message
    assert not message.startswith("install a Java")


# PMML 4.3 makes an OutputField's dataType and optype optional; a scorecard returns reason
# codes; a transformedValue is computed from another output. Each is returned by name.
UNTYPED_OUTPUTS = """<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_3" version="4.3">
  <Header/>
  <DataDictionary>
    <DataField name="score" optype="continuous" dataType="double"/>
    <DataField name="age" optype="continuous" dataType="integer"/>
    <DataField name="income" optype="continuous" dataType="double"/>
  </DataDictionary>
  <Scorecard functionName="regression" useReasonCodes="true" reasonCodeAlgorithm="pointsBelow"
             baselineMethod="other" initialScore="0">
    <MiningSchema>
      <MiningField name="score" usageType="target"/>
      <MiningField name="age"/>
      <MiningField name="income"/>
    </MiningSchema>
    <Output>
      <OutputField name="Final Score" feature="predictedValue"/>
      <OutputField name="Reason Code 1" feature="reasonCode" rank="1"/>
      <OutputField name="Reason Code 2" feature="reasonCode" rank="2"/>
      <OutputField name="Doubled" feature="transformedValue" optype="continuous">
        <Apply function="*"><FieldRef field="Final Score"/><Constant>2</Constant></Apply>
      </OutputField>
      <OutputField name="Band" feature="transformedValue">
        <Apply function="if">
          <Apply function="greaterThan">
            <FieldRef field="Final Score"/><Constant>20</Constant>
          </Apply>
          <Constant>high</Constant><Constant>low</Constant>
        </Apply>
      </OutputField>
      <OutputField name="Hidden" feature="transformedValue" isFinalResult="false">
        <FieldRef field="Final Score"/>
      </OutputField>
    </Output>
    <Characteristics>
      <Characteristic name="ageScore" reasonCode="AGE" baselineScore="10">
        <Attribute partialScore="2">
          <SimplePredicate field="age" operator="lessThan" value="30"/>
        </Attribute>
        <Attribute partialScore="12"><True/></Attribute>
      </Characteristic>
      <Characteristic name="incomeScore" reasonCode="INCOME" baselineScore="10">
        <Attribute partialScore="3">
          <SimplePredicate field="income" operator="lessThan" value="1000"/>
        </Attribute>
        <Attribute partialScore="15"><True/></Attribute>
      </Characteristic>
    </Characteristics>
  </Scorecard>
</PMML>
"""


@pytest.fixture(scope="module")
def scorecard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pmml") / "scorecard.pmml"
    path.write_text(UNTYPED_OUTPUTS, encoding="utf-8")
    return path


def test_output_fields_without_datatypes_are_described_and_returned(scorecard: Path) -> None:
    fmt = get_format("pmml")
    signature = fmt.describe(scorecard)
    assert [(o.name, o.datatype, o.shape) for o in signature.outputs] == [
        ("prediction", "FP64", (-1,)),
        ("Final Score", "FP64", (-1,)),  # predictedValue of a regression
        ("Reason Code 1", "BYTES", (-1,)),
        ("Reason Code 2", "BYTES", (-1,)),
        ("Doubled", "FP64", (-1,)),  # continuous
        ("Band", "BYTES", (-1,)),  # no optype: its values as text
    ]  # "Hidden" is not a final result: JPMML keeps it to itself
    predictor = fmt.open(scorecard, signature)
    got = predictor.predict(
        {"age": np.array([[25], [40]], dtype=np.int64), "income": np.array([[500.0], [5000.0]])}
    )
    np.testing.assert_allclose(got["prediction"], [5.0, 27.0])
    np.testing.assert_allclose(got["Final Score"], [5.0, 27.0])
    np.testing.assert_allclose(got["Doubled"], [10.0, 54.0])
    assert got["Band"].tolist() == ["low", "high"]
    # pointsBelow: the characteristic furthest below its baseline first; none below: "".
    assert got["Reason Code 1"].tolist() == ["AGE", ""]
    assert got["Reason Code 2"].tolist() == ["INCOME", ""]
    one = predictor.predict({"age": np.array([[25]]), "income": np.array([[5000.0]])})
    assert one["Reason Code 1"].tolist() == ["AGE"] and one["Reason Code 2"].tolist() == [""]


def test_a_classifier_names_its_classes_in_probability_column_order(
    classifier: Path, regressor: Path
) -> None:
    # CLASSIFIER declares its probability fields as 2, 0, 1: the columns follow the target's
    # categories (0, 1, 2), and so do the labels, typed as the target (integers).
    assert get_format("pmml").labels(classifier) == (0, 1, 2)
    assert get_format("pmml").labels(regressor) is None


NO_TARGET = """<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_3" version="4.3">
  <Header/>
  <DataDictionary>
    <DataField name="x" optype="continuous" dataType="double"/>
  </DataDictionary>
  <RegressionModel functionName="regression">
    <MiningSchema><MiningField name="x"/></MiningSchema>
    <RegressionTable intercept="1.0">
      <NumericPredictor name="x" coefficient="3.0"/>
    </RegressionTable>
  </RegressionModel>
</PMML>
"""
# Segment 1 predicts Class (which segment 2 reads as its probabilities), segment 2 the
# index; the top MiningSchema lists both, and JPMML returns only the last segment's.
CHAIN = """<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_3" version="4.3">
  <Header/>
  <DataDictionary>
    <DataField name="x" optype="continuous" dataType="double"/>
    <DataField name="Class" optype="categorical" dataType="string">
      <Value value="a"/><Value value="b"/>
    </DataField>
    <DataField name="Index" optype="continuous" dataType="double"/>
  </DataDictionary>
  <MiningModel functionName="regression">
    <MiningSchema>
      <MiningField name="x"/>
      <MiningField name="Class" usageType="predicted"/>
      <MiningField name="Index" usageType="predicted"/>
    </MiningSchema>
    <Segmentation multipleModelMethod="modelChain">
      <Segment id="1"><True/>
        <TreeModel functionName="classification">
          <MiningSchema>
            <MiningField name="x"/><MiningField name="Class" usageType="predicted"/>
          </MiningSchema>
          <Output>
            <OutputField name="p_b" optype="continuous" dataType="double"
                         feature="probability" value="b"/>
          </Output>
          <Node score="a">
            <True/>
            <ScoreDistribution value="a" recordCount="1"/>
            <ScoreDistribution value="b" recordCount="1"/>
            <Node score="b"><SimplePredicate field="x" operator="greaterThan" value="0"/>
              <ScoreDistribution value="a" recordCount="1"/>
              <ScoreDistribution value="b" recordCount="3"/>
            </Node>
            <Node score="a"><True/>
              <ScoreDistribution value="a" recordCount="3"/>
              <ScoreDistribution value="b" recordCount="1"/>
            </Node>
          </Node>
        </TreeModel>
      </Segment>
      <Segment id="2"><True/>
        <RegressionModel functionName="regression">
          <MiningSchema>
            <MiningField name="p_b"/><MiningField name="Index" usageType="predicted"/>
          </MiningSchema>
          <RegressionTable intercept="0"><NumericPredictor name="p_b" coefficient="100"/>
          </RegressionTable>
        </RegressionModel>
      </Segment>
    </Segmentation>
  </MiningModel>
</PMML>
"""


@pytest.mark.parametrize(
    ("document", "expected"), [(NO_TARGET, [4.0, -5.0]), (CHAIN, [75.0, 25.0])]
)
def test_a_model_without_a_target_and_a_model_chain_serve_their_prediction(
    tmp_path: Path, document: str, expected: list[float]
) -> None:
    path = tmp_path / "model.pmml"
    path.write_text(document, encoding="utf-8")
    fmt = get_format("pmml")
    signature = fmt.describe(path)
    assert [(o.name, o.shape) for o in signature.outputs] == [("prediction", (-1,))]
    got = fmt.open(path, signature).predict({"x": np.array([[1.0], [-2.0]])})
    np.testing.assert_allclose(got["prediction"], expected)
