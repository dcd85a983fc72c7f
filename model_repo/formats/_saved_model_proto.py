"""A SavedModel's protocol buffer, read without loading the model: the meta graph served
(tagged `serve`) and its signatures. `saved_model.pb`, or its text form `saved_model.pbtxt`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model_repo.errors import ArtifactError
from model_repo.formats._tensorflow import import_tensorflow
from model_repo.signature_defs import DEFAULT_SIGNATURE, SignatureDef, TensorInfo

SERVE_TAG = "serve"
SAVED_MODEL_PB = "saved_model.pb"
SAVED_MODEL_PBTXT = "saved_model.pbtxt"


def signature_defs(path: Path) -> dict[str, SignatureDef]:
    """Every signature of the served meta graph, by key, as saved_model.pb declares it.

    A signature with a sparse or composite tensor is left out: it cannot be fed from JSON.
    """
    meta_graph = _serving_meta_graph(path)
    from tensorflow.core.framework import types_pb2

    found = {}
    for key in sorted(meta_graph.signature_def):
        proto = meta_graph.signature_def[key]
        tensors = [
            [_tensor_info(name, proto_map[name], types_pb2) for name in sorted(proto_map)]
            for proto_map in (proto.inputs, proto.outputs)
        ]
        if any(t is None for group in tensors for t in group):
            if key == DEFAULT_SIGNATURE:
                raise ArtifactError(
                    f"{path.name}: the {DEFAULT_SIGNATURE} signature has a sparse or composite "
                    "tensor; only dense tensors can be served"
                )
            continue
        inputs, outputs = ([t for t in group if t is not None] for group in tensors)
        defaults = {name: _json(value) for name, value in sorted(proto.defaults.items())}
        found[key] = SignatureDef(key, proto.method_name, tuple(inputs), tuple(outputs), defaults)
    return found


def serving_tags(path: Path) -> list[str] | None:
    """The tags of the meta graph served (None when the SavedModel names none)."""
    tags = list(_serving_meta_graph(path).meta_info_def.tags)
    return tags or None


def _serving_meta_graph(path: Path) -> Any:
    """The meta graph tagged `serve` alone, else one tagged `serve` among others, else the
    only one there is."""
    graphs = list(_read_saved_model(path).meta_graphs)
    tagged = [g for g in graphs if SERVE_TAG in g.meta_info_def.tags]
    exact = [g for g in tagged if set(g.meta_info_def.tags) == {SERVE_TAG}]
    chosen = exact or tagged or (graphs if len(graphs) == 1 else [])
    if not chosen:
        tag_sets = "; ".join(",".join(g.meta_info_def.tags) or "(none)" for g in graphs)
        raise ArtifactError(
            f"the SavedModel {path.name} has {len(graphs)} meta graphs and none is tagged "
            f"{SERVE_TAG!r} (tag sets: {tag_sets or 'none'}); TF Serving and modelport serve "
            "the one tagged 'serve': export it with tags=['serve']"
        )
    return chosen[0]


def _read_saved_model(path: Path) -> Any:
    binary, text = path / SAVED_MODEL_PB, path / SAVED_MODEL_PBTXT
    if not binary.is_file() and not text.is_file():
        raise ArtifactError(
            f"{path.name} is not a TensorFlow SavedModel directory: it has no {SAVED_MODEL_PB}. "
            "Write one with model.export(path) (Keras 3) or tf.saved_model.save(module, path)"
        )
    import_tensorflow()
    from google.protobuf import text_format
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        if binary.is_file():
            proto.ParseFromString(binary.read_bytes())
        else:
            text_format.Parse(text.read_text(encoding="utf-8"), proto)
    except Exception as exc:  # protobuf's DecodeError or ParseError, OSError
        name = binary.name if binary.is_file() else text.name
        raise ArtifactError(f"{path.name}/{name} cannot be read: {exc}") from exc
    return proto


def _tensor_info(key: str, info: Any, types_pb2: Any) -> TensorInfo | None:
    if info.WhichOneof("encoding") != "name":
        return None
    shape = info.tensor_shape
    dims = None if shape.unknown_rank else tuple(max(int(d.size), -1) for d in shape.dim)
    return TensorInfo(key, info.name, types_pb2.DataType.Name(info.dtype), dims)


def _json(proto: Any) -> Any:
    from google.protobuf import json_format

    return json_format.MessageToDict(proto, preserving_proto_field_name=True)
