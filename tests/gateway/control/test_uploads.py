"""What an upload is taken for, decided from its name before any work is done."""

from __future__ import annotations

import pytest

from converters.loading import SOURCE_SUFFIXES
from gateway.control.archives import ARCHIVE_SUFFIXES
from gateway.control.uploads import ARTIFACT_SUFFIXES, UploadPolicy, plan_upload, safe_filename
from gateway.errors import Forbidden, GatewayError, InvalidInput, UnsupportedMediaType

PLANS = [
    ("model.onnx", None, ("artifact", "onnx", False)),
    ("model.onnx", "onnx", ("artifact", "onnx", False)),
    ("Model.PMML", None, ("artifact", "pmml", False)),
    ("sm.tar.gz", None, ("archive", "savedmodel", False)),
    ("sm.zip", "savedmodel", ("archive", "savedmodel", True)),
    ("iris.skops", "pmml", ("source", "pmml", True)),
    ("net.pt2", "onnx", ("source", "onnx", True)),
    ("net.keras", "savedmodel", ("source", "savedmodel", True)),
    # native booster files: the content decides once the file is read
    ("model.json", "onnx", ("source", "onnx", True)),
    ("model.ubj", "pmml", ("source", "pmml", True)),
    ("Model.TXT", "onnx", ("source", "onnx", True)),
]


@pytest.mark.parametrize(("filename", "to", "expected"), PLANS)
def test_plans(filename: str, to: str | None, expected: tuple[str, str, bool]) -> None:
    plan = plan_upload(filename, to, UploadPolicy())
    assert (plan.kind, plan.format, plan.convert) == expected


REFUSALS = [
    ("model.onnx", "pmml", InvalidInput, "stored as is; to=pmml does not apply"),
    ("model.pkl", "onnx", Forbidden, "is a pickle"),
    ("model.joblib", "onnx", Forbidden, "--allow-pickle"),
    ("iris.skops", None, InvalidInput, "add the form field to=FORMAT"),
    ("iris.skops", "tflite", InvalidInput, "to='tflite' is not a format"),
    ("notes.docx", None, UnsupportedMediaType, "notes.docx: modelport stores"),
    ("model.txt", None, InvalidInput, r"taken for a lightgbm model file \(its content decides\)"),
    ("noext", "onnx", UnsupportedMediaType, "a file without a suffix is none of them"),
    ("", None, InvalidInput, "needs a file name"),
]


@pytest.mark.parametrize(("filename", "to", "error", "message"), REFUSALS)
def test_refusals(filename: str, to: str | None, error: type[GatewayError], message: str) -> None:
    with pytest.raises(error, match=message):
        plan_upload(filename, to, UploadPolicy())


def test_an_unsupported_upload_lists_every_accepted_suffix() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        plan_upload("notes.docx", "onnx", UploadPolicy())
    for suffix in (*ARTIFACT_SUFFIXES, *ARCHIVE_SUFFIXES, *SOURCE_SUFFIXES):
        assert suffix in caught.value.message, suffix
    assert ".pth" in SOURCE_SUFFIXES and ".hdf5" in SOURCE_SUFFIXES
    assert {".json", ".ubj", ".txt"} <= set(SOURCE_SUFFIXES)


def test_pickles_pass_when_the_operator_allows_them() -> None:
    plan = plan_upload("model.pkl", "onnx", UploadPolicy(allow_pickle=True))
    assert (plan.kind, plan.format) == ("source", "onnx")


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\models\\m.onnx", "m.onnx"),
        (".hidden.onnx", "hidden.onnx"),
        ("a b;c.pt2", "a_b_c.pt2"),
    ],
)
def test_file_names_are_made_safe(given: str, safe: str) -> None:
    assert safe_filename(given) == safe
