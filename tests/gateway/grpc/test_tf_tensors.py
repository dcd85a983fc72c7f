"""TensorProtos read and written as TF Serving does, checked against TensorFlow's own
tf.make_tensor_proto and tf.make_ndarray."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest

from gateway.errors import InvalidInput
from gateway.grpc.tf_tensors import datatype_of, to_array, to_proto
from tests.integration.models import ONNX_TYPES, sample_of

pytestmark = [
    pytest.mark.tensorflow,
    pytest.mark.skipif(
        importlib.util.find_spec("tensorflow_serving") is None,
        reason="needs tensorflow-serving-api",
    ),
]
DATATYPES = list(ONNX_TYPES)


@pytest.fixture(scope="module")
def tf():  # the client's side: TensorFlow itself
    import tensorflow

    return tensorflow


@pytest.fixture(scope="module")
def protos():
    from gateway.grpc.tf_protos import load

    return load()


def client_array(datatype: str) -> np.ndarray:
    array = sample_of(datatype)
    if datatype == "BYTES":  # TensorFlow gives strings back as bytes objects
        return np.vectorize(lambda text: text.encode())(array).astype(object)
    return array


@pytest.mark.parametrize("datatype", DATATYPES)
def test_what_make_tensor_proto_writes_is_read_as_it_was(tf, protos, datatype: str) -> None:
    array = client_array(datatype)
    proto = tf.make_tensor_proto(array)
    assert datatype_of("t", proto, protos.types.DataType) == datatype
    found = to_array("t", proto, datatype)
    np.testing.assert_array_equal(found, array)
    assert found.shape == array.shape


@pytest.mark.parametrize("datatype", DATATYPES)
def test_what_we_write_make_ndarray_reads_back(tf, protos, datatype: str) -> None:
    array = sample_of(datatype)
    proto = to_proto(array, datatype, protos.tensor.TensorProto, protos.types.DataType)
    assert not proto.tensor_content  # typed fields, as TF Serving's Predict answers
    back = tf.make_ndarray(proto)
    expected = client_array(datatype)
    np.testing.assert_array_equal(back, expected)
    assert back.dtype == expected.dtype


def test_typed_values_one_per_element_or_one_for_all(protos) -> None:
    tensor = protos.tensor.TensorProto
    dtypes = protos.types.DataType
    each = tensor(dtype=dtypes.Value("DT_FLOAT"), float_val=[1.5, 2.5])
    each.tensor_shape.dim.add(size=2)
    np.testing.assert_array_equal(to_array("x", each, "FP32"), [1.5, 2.5])
    filled = tensor(dtype=dtypes.Value("DT_INT64"), int64_val=[7])
    filled.tensor_shape.dim.add(size=2)
    filled.tensor_shape.dim.add(size=3)
    np.testing.assert_array_equal(to_array("x", filled, "INT64"), np.full((2, 3), 7))
    halves = tensor(dtype=dtypes.Value("DT_HALF"), half_val=[0x3C00, 0xC000])  # 1.0, -2.0
    halves.tensor_shape.dim.add(size=2)
    np.testing.assert_array_equal(to_array("x", halves, "FP16"), np.array([1, -2], np.float16))


def bad(protos, dtype: str, dims: list[int], **fields: object):
    proto = protos.tensor.TensorProto(dtype=protos.types.DataType.Value(dtype), **fields)
    for size in dims:
        proto.tensor_shape.dim.add(size=size)
    return proto


@pytest.mark.parametrize(
    ("dtype", "dims", "fields", "message"),
    [
        ("DT_FLOAT", [3], {"float_val": [1, 2]}, "input 'x': shape [3] needs 3 values (or one"),
        ("DT_FLOAT", [2], {"int_val": [1, 2]}, "DT_FLOAT tensor carries its values in tensor_con"),
        ("DT_INT8", [1], {"int_val": [200]}, "input 'x': a value is out of the INT8 range"),
        ("DT_FLOAT", [2], {"tensor_content": b"\0" * 4}, "tensor_content is 4 bytes but shape"),
        ("DT_STRING", [1], {"tensor_content": b"ab"}, "DT_STRING tensors carry string_val"),
        ("DT_FLOAT", [-1], {"float_val": [1]}, "tensor_shape [-1] has a negative size"),
    ],
)
def test_bad_tensors_are_refused_naming_the_input(protos, dtype, dims, fields, message) -> None:
    proto = bad(protos, dtype, dims, **fields)
    with pytest.raises(InvalidInput, match=re.escape(message)):
        to_array("x", proto, datatype_of("x", proto, protos.types.DataType))


def test_a_dtype_modelport_cannot_carry_is_refused(protos) -> None:
    proto = bad(protos, "DT_COMPLEX64", [1], scomplex_val=[1, 2])
    with pytest.raises(InvalidInput, match="input 'z': dtype DT_COMPLEX64 is not served"):
        datatype_of("z", proto, protos.types.DataType)
