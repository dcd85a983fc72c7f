"""TF Serving's own test models, rebuilt as TF1 SavedModels: half_plus_two, half_plus_three.

TF Serving ships them as binary SavedModels (TensorFlow's
`tensorflow/cc/saved_model/testdata/half_plus_two/00000123`, which TF Serving's
http_rest_api_handler_test.cc serves, and TF Serving's
`tensorflow_serving/servables/tensorflow/testdata/saved_model_half_plus_three/00000123`,
the example of its REST docs, g3doc/api_rest.md). There is no network here, so they are
built again the way TF Serving's script
`tensorflow_serving/servables/tensorflow/testdata/saved_model_half_plus_two.py` builds them,
through `tf.compat.v1` in a graph of their own: variables a = 0.5, b = 2 (3 for
half_plus_three), c = 3; a placeholder `tf_example` of serialized tf.Examples parsed for the
float features `x` and `x2` (x2 defaults to 0); y = a*x + b, y2 = a*x + c, y3 = a*x2 + c; an
asset file and an init op assigning a variable (what TF1 loaders must run); the
SavedModelBuilder's meta graph tagged `serve`. The signatures are those TF Serving's
metadata files list (testdata/saved_model_half_plus_two_2_versions_metadata.json):
`serving_default` (x -> y, predict), `regress_x_to_y`, `regress_x_to_y2`, `classify_x_to_y`
(serialized examples), `regress_x2_to_y3`, `classify_x2_to_y3` (x2, a float tensor). As
there, `tf_example` has no shape (unknown rank) and x, x2, y... are [-1, 1].

half_plus_three is the older export its docs use: `serving_default` and a regress signature
keyed by its method name, `tensorflow/serving/regress` (the docs call it with that
`signature_name`), plus a second meta graph tagged `train`, as TF1 Estimators wrote them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

VERSION_DIR = "00000123"  # TF Serving's test models are version 123


def half_plus_two(base: Path) -> Path:
    """`base/saved_model_half_plus_two/00000123/`: TensorFlow's half_plus_two."""
    export = base / "saved_model_half_plus_two" / VERSION_DIR
    _build(export, offset=2.0, legacy=False)
    return export.parent


def half_plus_three(base: Path) -> Path:
    """`base/saved_model_half_plus_three/00000123/`: the model of TF Serving's REST docs."""
    export = base / "saved_model_half_plus_three" / VERSION_DIR
    _build(export, offset=3.0, legacy=True)
    return export.parent


def _build(export: Path, offset: float, legacy: bool) -> None:
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    assets = tempfile.TemporaryDirectory(prefix="half-plus-assets-")  # copied in by the builder
    with assets, graph.as_default(), v1.Session(graph=graph) as session:
        tensors = _graph(v1, offset)
        init_op = _asset(v1, Path(assets.name))
        signatures = _signatures(v1, tensors, legacy)
        session.run(v1.global_variables_initializer())
        builder = v1.saved_model.builder.SavedModelBuilder(str(export))
        builder.add_meta_graph_and_variables(
            session,
            [v1.saved_model.tag_constants.SERVING],
            signature_def_map=signatures,
            assets_collection=v1.get_collection(v1.GraphKeys.ASSET_FILEPATHS),
            main_op=init_op,
        )
        if legacy:
            builder.add_meta_graph([v1.saved_model.tag_constants.TRAINING])
        builder.save()


def _graph(v1: Any, offset: float) -> dict[str, Any]:
    a = v1.Variable(0.5, name="a")
    b = v1.Variable(offset, name="b")
    c = v1.Variable(3.0, name="c")
    serialized = v1.placeholder(v1.string, name="tf_example")  # no shape: unknown rank
    features = v1.parse_example(
        serialized,
        {
            "x": v1.FixedLenFeature([1], v1.float32),
            "x2": v1.FixedLenFeature([1], v1.float32, default_value=[0.0]),
        },
    )
    found = {"tf_example": serialized}
    for name in ("x", "x2"):
        features[name].set_shape([None, 1])  # what parse_example gives a batch of examples
        found[name] = v1.identity(features[name], name=name)
    found["y"] = v1.identity(a * found["x"] + b, name="y")
    found["y2"] = v1.identity(a * found["x"] + c, name="y2")
    found["y3"] = v1.identity(a * found["x2"] + c, name="y3")
    return found


def _asset(v1: Any, folder: Path) -> Any:
    """An asset file and the op that assigns its name to a variable outside every
    collection: the init op a TF1 loader must run."""
    (folder / "foo.txt").write_text("asset-file-contents")
    v1.add_to_collection(v1.GraphKeys.ASSET_FILEPATHS, v1.constant(str(folder / "foo.txt")))
    filename = v1.Variable("", name="filename_tensor", trainable=False, collections=[])
    return v1.group(filename.assign("foo.txt"))


def _signatures(v1: Any, t: dict[str, Any], legacy: bool) -> dict[str, Any]:
    names = v1.saved_model.signature_constants
    build = v1.saved_model.signature_def_utils.build_signature_def
    info = v1.saved_model.utils.build_tensor_info

    def regress(source: str, target: str) -> Any:
        return build(
            {names.REGRESS_INPUTS: info(t[source])},
            {names.REGRESS_OUTPUTS: info(t[target])},
            names.REGRESS_METHOD_NAME,
        )

    def classify(source: str, target: str) -> Any:
        return build(
            {names.CLASSIFY_INPUTS: info(t[source])},
            {names.CLASSIFY_OUTPUT_SCORES: info(t[target])},
            names.CLASSIFY_METHOD_NAME,
        )

    predict = build({"x": info(t["x"])}, {"y": info(t["y"])}, names.PREDICT_METHOD_NAME)
    if legacy:
        return {"serving_default": predict, names.REGRESS_METHOD_NAME: regress("tf_example", "y")}
    return {
        "serving_default": predict,
        "regress_x_to_y": regress("tf_example", "y"),
        "regress_x_to_y2": regress("tf_example", "y2"),
        "regress_x2_to_y3": regress("x2", "y3"),
        "classify_x_to_y": classify("tf_example", "y"),
        "classify_x2_to_y3": classify("x2", "y3"),
    }
