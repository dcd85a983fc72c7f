"""Malformed and hostile requests: each gets a 4xx naming the problem, and nothing is lost.

One table, one real server with small limits (1 MiB bodies, 2 MiB uploads, so archives may
unpack to 8 MiB). After the whole table, the server still answers a valid request and the
repository holds exactly the files it held before.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest

from tests.integration import hostile
from tests.integration.servers import ADMIN_TOKEN, Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-bad-input")

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ROW = [5.1, 3.5, 1.4, 0.2]
GOOD = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": ROW}]}
INFER = "/v2/models/iris_array/infer"
UPLOAD = "/v2/repository/models/uploaded/versions"


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    status: int
    phrase: str
    request: Callable[[Path], dict[str, Any]] = field(default=lambda _: {})


def tensor(**changes: Any) -> dict[str, Any]:
    return {
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": ROW, **changes}]
    }


def binary(
    header: dict[str, Any], payload: bytes, header_length: int | None = None
) -> dict[str, Any]:
    raw = orjson.dumps(header)
    length = len(raw) if header_length is None else header_length
    return {
        "content": raw + payload,
        "headers": {"Inference-Header-Content-Length": str(length)},
    }


def binary_input(
    size: int, shape: list[int] | None = None, datatype: str = "FP32"
) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "name": "input",
                "datatype": datatype,
                "shape": shape or [1, 4],
                "parameters": {"binary_data_size": size},
            }
        ]
    }


def types_request(name: str, datatype: str, data: list[Any]) -> dict[str, Any]:
    return {
        "json": {"inputs": [{"name": name, "datatype": datatype, "shape": [1, 2], "data": data}]}
    }


def upload(filename: str, content: bytes | Path, **fields: str) -> Callable[[Path], dict[str, Any]]:
    def build(_: Path) -> dict[str, Any]:
        data = content.read_bytes() if isinstance(content, Path) else content
        return {"files": {"file": (filename, data)}, "data": fields, "headers": ADMIN}

    return build


def upload_built(
    filename: str, make: Callable[[Path], Path], **fields: str
) -> Callable[[Path], dict[str, Any]]:
    def build(folder: Path) -> dict[str, Any]:
        return {
            "files": {"file": (filename, make(folder / filename).read_bytes())},
            "data": fields,
            "headers": ADMIN,
        }

    return build


def parity_upload(folder: Path) -> dict[str, Any]:
    model = hostile.parity_breaker(folder / "cancel.skops")
    rng = np.random.default_rng(1)
    base = 1e6 + rng.normal(0, 1, 40)
    sample = folder / "cancel.npy"
    np.save(sample, np.column_stack([base, base + rng.normal(0, 1, 40)]))
    return {
        "files": {
            "file": ("cancel.skops", model.read_bytes()),
            "sample": ("cancel.npy", sample.read_bytes()),
        },
        "data": {"to": "onnx"},
        "headers": ADMIN,
    }


def chunked(size: int) -> dict[str, Any]:
    def chunks() -> Iterator[bytes]:
        for _ in range(size // 65536):
            yield b" " * 65536

    return {"content": chunks()}


def _plain_zip(path: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", b"no model here")
    return path


def _smashed_tar_gz(path: Path) -> Path:
    """A SavedModel-shaped .tar.gz with 0xFF bytes in its deflate stream (zlib.error inside)."""
    import io
    import tarfile

    payload = b"".join(i.to_bytes(4, "little") for i in range(50_000))
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("model/saved_model.pb")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    return path


def _truncated_zip(path: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model/saved_model.pb", bytes(range(256)) * 400)
    path.write_bytes(path.read_bytes()[:-40])  # the central directory's end is gone
    return path


def _iris_skops(folder: Path) -> bytes:
    import skops.io
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=200).fit(np.eye(4), [0, 1, 0, 1])
    skops.io.dump(model, folder / "tiny.skops")
    return (folder / "tiny.skops").read_bytes()


CASES = [
    # ---- malformed V2 bodies --------------------------------------------------------------
    Case(
        "malformed-json",
        "POST",
        INFER,
        400,
        "malformed JSON",
        lambda _: {"content": b'{"inputs": ['},
    ),
    Case(
        "not-an-object", "POST", INFER, 400, "must be a JSON object", lambda _: {"content": b"[1]"}
    ),
    Case(
        "no-inputs", "POST", INFER, 400, "'inputs' must be a non-empty list", lambda _: {"json": {}}
    ),
    Case(
        "unknown-datatype",
        "POST",
        INFER,
        400,
        "unknown datatype 'FP8'",
        lambda _: {"json": tensor(datatype="FP8")},
    ),
    Case(
        "true-among-numbers",
        "POST",
        INFER,
        400,
        "input 'input': FP32 data must be numbers, got true/false",
        lambda _: {"json": tensor(data=[5.1, True, 1.4, 0.2])},
    ),
    Case(
        "negative-shape",
        "POST",
        INFER,
        400,
        "non-negative integers",
        lambda _: {"json": tensor(shape=[-1, 4])},
    ),
    Case(
        "shape-vs-data",
        "POST",
        INFER,
        400,
        "shape [2, 4] needs 8 values, data holds 4",
        lambda _: {"json": tensor(shape=[2, 4])},
    ),
    Case(
        "ragged-data",
        "POST",
        INFER,
        400,
        "not a rectangular array",
        lambda _: {"json": tensor(data=[[1, 2], [3]])},
    ),
    Case(
        "strings-for-numbers",
        "POST",
        INFER,
        400,
        "FP32 data must be numbers, got 'a'",
        lambda _: {"json": tensor(data=["a", "b", "c", "d"])},
    ),
    # ---- requests that do not fit the model --------------------------------------------------
    Case(
        "unknown-model",
        "POST",
        "/v2/models/nope/infer",
        404,
        "unknown model 'nope'",
        lambda _: {"json": GOOD},
    ),
    Case(
        "unknown-version",
        "POST",
        "/v2/models/iris/versions/9/infer",
        404,
        "has no version 9 (versions: 1, 2)",
        lambda _: {"json": GOOD},
    ),
    Case(
        "unknown-alias",
        "POST",
        "/v2/models/iris/versions/beta/infer",
        404,
        "has no alias 'beta'",
        lambda _: {"json": GOOD},
    ),
    Case(
        "wrong-datatype",
        "POST",
        INFER,
        400,
        "input 'input': expected datatype FP32, got FP64, and value 5.1",
        lambda _: {"json": tensor(datatype="FP64")},
    ),
    Case(
        "bytes-for-fp32",
        "POST",
        INFER,
        400,
        "input 'input': expected datatype FP32, got BYTES",
        lambda _: {"json": tensor(datatype="BYTES", data=["a", "b", "c", "d"])},
    ),
    Case(
        "wrong-shape",
        "POST",
        INFER,
        400,
        "input 'input': expected shape [-1, 4] (-1 = any size), got [1, 3]",
        lambda _: {"json": tensor(shape=[1, 3], data=ROW[:3])},
    ),
    Case(
        "unknown-input",
        "POST",
        INFER,
        400,
        "unknown input 'x'; the model takes input",
        lambda _: {"json": tensor(name="x")},
    ),
    Case(
        "missing-column",
        "POST",
        "/v2/models/iris/infer",
        400,
        "missing input(s) 'sepal_width', 'petal_length', 'petal_width'",
        lambda _: {
            "json": {
                "inputs": [
                    {"name": "sepal_length", "datatype": "FP32", "shape": [1, 1], "data": [1.0]}
                ]
            }
        },
    ),
    Case(
        "unknown-output",
        "POST",
        INFER,
        400,
        "unknown output 'score'; the model has label, probabilities",
        lambda _: {"json": {**GOOD, "outputs": [{"name": "score"}]}},
    ),
    Case(
        "non-integer",
        "POST",
        "/v2/models/types/infer",
        400,
        "input 'int64_in': INT64 data holds non-integer value 1.5",
        lambda _: types_request("int64_in", "INT64", [1.5, 2]),
    ),
    Case(
        "out-of-range",
        "POST",
        "/v2/models/types/infer",
        400,
        "input 'int8_in': a value is out of the INT8 range",
        lambda _: types_request("int8_in", "INT8", [300, 1]),
    ),
    Case(
        "shared-memory",
        "POST",
        INFER,
        400,
        "shared-memory extension is not supported",
        lambda _: {"json": tensor(parameters={"shared_memory_region": "r"})},
    ),
    # ---- Triton's binary extension --------------------------------------------------------
    Case(
        "binary-size-vs-shape",
        "POST",
        INFER,
        400,
        "binary_data_size is 12 bytes but shape [1, 4] of FP32 needs 16",
        lambda _: binary(binary_input(12), bytes(12)),
    ),
    Case(
        "binary-runs-past-end",
        "POST",
        INFER,
        400,
        "binary_data_size 32 runs past the end of the body (16 bytes left)",
        lambda _: binary(binary_input(32), bytes(16)),
    ),
    Case(
        "binary-trailing-bytes",
        "POST",
        INFER,
        400,
        "is 20 bytes, but the inputs' binary_data_size add up to 16",
        lambda _: binary(binary_input(16), bytes(20)),
    ),
    Case(
        "header-length-too-big",
        "POST",
        INFER,
        400,
        "Inference-Header-Content-Length is '9999'",
        lambda _: binary(binary_input(16), bytes(16), header_length=9999),
    ),
    Case(
        "bytes-length-prefix-lies",
        "POST",
        "/v2/models/echo/infer",
        400,
        "does not hold exactly 1 length-prefixed elements",
        lambda _: binary(
            {
                "inputs": [
                    {
                        "name": "bytes_in",
                        "datatype": "BYTES",
                        "shape": [1],
                        "parameters": {"binary_data_size": 6},
                    }
                ]
            },
            struct.pack("<I", 100) + b"hi",
        ),
    ),
    # ---- limits ------------------------------------------------------------------------------
    Case(
        "body-too-large",
        "POST",
        INFER,
        413,
        "at most 1048576 bytes",
        lambda _: {"content": b" " * (hostile.MIB + 10)},
    ),
    Case(
        "chunked-body-too-large",
        "POST",
        INFER,
        413,
        "at most 1048576 bytes",
        lambda _: chunked(2 * hostile.MIB),
    ),
    Case(
        "gzip-bomb",
        "POST",
        INFER,
        413,
        "once inflated",
        lambda _: {"content": hostile.gzip_bomb(8), "headers": {"Content-Encoding": "gzip"}},
    ),
    Case(
        "upload-too-large",
        "POST",
        UPLOAD,
        413,
        "at most 2097152 bytes",
        upload("big.onnx", bytes(3 * hostile.MIB)),
    ),
    # ---- tokens ------------------------------------------------------------------------------
    Case(
        "missing-token",
        "POST",
        UPLOAD,
        401,
        "missing 'Authorization: Bearer <token>' header",
        lambda _: {"files": {"file": ("m.onnx", b"x")}},
    ),
    Case(
        "wrong-token",
        "PUT",
        "/v2/repository/models/iris/aliases/stable",
        401,
        "not the admin token",
        lambda _: {"json": {"version": 2}, "headers": {"Authorization": "Bearer guess"}},
    ),
    Case(
        "not-bearer",
        "DELETE",
        "/v2/repository/models/iris/versions/2",
        401,
        "must be 'Bearer <token>'",
        lambda _: {"headers": {"Authorization": "Basic YTpi"}},
    ),
    Case(
        "unload-without-token",
        "POST",
        "/v2/repository/models/iris/unload",
        401,
        "missing 'Authorization",
        lambda _: {},
    ),
    # ---- uploads -----------------------------------------------------------------------------
    Case(
        "unsupported-upload",
        "POST",
        UPLOAD,
        415,
        "model.docx: modelport stores .onnx and .pmml artifacts",
        upload("model.docx", b"hello"),
    ),
    Case(  # a .txt may be a LightGBM model: its content decides, once converted
        "txt-upload-without-a-target",
        "POST",
        UPLOAD,
        400,
        "its content decides): add the form field to=FORMAT",
        upload("model.txt", b"hello"),
    ),
    Case(
        "upload-not-multipart",
        "POST",
        UPLOAD,
        415,
        "multipart/form-data",
        lambda _: {"json": {"file": "x"}, "headers": ADMIN},
    ),
    Case(
        "upload-without-file",
        "POST",
        UPLOAD,
        400,
        "no file in the field 'file'",
        lambda _: {"data": {"to": "onnx"}, "files": {"other": ("a.onnx", b"x")}, "headers": ADMIN},
    ),
    Case(
        "garbage-onnx",
        "POST",
        UPLOAD,
        422,
        "model.onnx is not a readable ONNX model",
        upload("model.onnx", b"\x00garbage"),
    ),
    Case(
        "pickle-upload",
        "POST",
        UPLOAD,
        403,
        "is a pickle, and loading a pickle runs arbitrary code",
        upload("model.pkl", b"\x80\x04K\x01.", to="onnx"),
    ),
    Case(
        "model-without-to",
        "POST",
        UPLOAD,
        400,
        "add the form field to=FORMAT",
        upload("iris.skops", b"PK"),
    ),
    Case(
        "unknown-target",
        "POST",
        UPLOAD,
        400,
        "to='tflite' is not a format",
        upload("iris.skops", b"PK", to="tflite"),
    ),
    Case(
        "zip-slip",
        "POST",
        UPLOAD,
        400,
        "member '../../escaped.txt' climbs out with '..'",
        upload_built("slip.zip", hostile.zip_slip),
    ),
    Case(
        "symlink-in-tar",
        "POST",
        UPLOAD,
        400,
        "member 'model/variables' is a link",
        upload_built("link.tar.gz", hostile.tar_with_symlink),
    ),
    Case(
        "absolute-path-in-tar",
        "POST",
        UPLOAD,
        400,
        "has an absolute path",
        upload_built("abs.tar.gz", hostile.tar_with_absolute_path),
    ),
    Case(
        "zip-bomb",
        "POST",
        UPLOAD,
        413,
        "unpacks to more than 8388608 bytes",
        upload_built("bomb.zip", lambda p: hostile.zip_bomb(p, 9)),
    ),
    Case(
        "corrupt-tar-gz",
        "POST",
        UPLOAD,
        400,
        "broken.tar.gz is not a readable tar archive",
        upload_built("broken.tar.gz", _smashed_tar_gz),
    ),
    Case(
        "truncated-zip",
        "POST",
        UPLOAD,
        400,
        "cut.zip is not a readable zip archive",
        upload_built("cut.zip", _truncated_zip),
    ),
    Case(
        "archive-without-savedmodel-or-mlmodel",
        "POST",
        UPLOAD,
        422,
        "holds neither saved_model.pb nor MLmodel",
        upload_built("empty.zip", _plain_zip),
    ),
    Case(
        "parity-failure",
        "POST",
        UPLOAD,
        422,
        "parity check failed: the onnx artifact does not reproduce the sklearn model",
        parity_upload,
    ),
    Case(
        "no-converter",
        "POST",
        UPLOAD,
        422,
        "no converter from sklearn to savedmodel",
        lambda folder: {
            "files": {"file": ("iris.skops", _iris_skops(folder))},
            "data": {"to": "savedmodel"},
            "headers": ADMIN,
        },
    ),
    Case(
        "bad-model-name",
        "POST",
        "/v2/repository/models/bad%20name!/versions",
        400,
        "model name 'bad name!' is not valid",
        upload("m.onnx", b"x"),
    ),
    # ---- repository actions ------------------------------------------------------------------
    Case(
        "delete-aliased-version",
        "DELETE",
        "/v2/repository/models/iris/versions/1",
        409,
        "is the target of alias(es) stable",
        lambda _: {"headers": ADMIN},
    ),
    Case(
        "delete-by-alias",
        "DELETE",
        "/v2/repository/models/iris/versions/stable",
        400,
        "delete a version by its number",
        lambda _: {"headers": ADMIN},
    ),
    Case(
        "alias-to-missing-version",
        "PUT",
        "/v2/repository/models/iris/aliases/stable",
        404,
        "model 'iris' has no version 9",
        lambda _: {"json": {"version": 9}, "headers": ADMIN},
    ),
    Case(
        "alias-body-malformed",
        "PUT",
        "/v2/repository/models/iris/aliases/stable",
        400,
        "version must be a positive integer, got 'x'",
        lambda _: {"json": {"version": "x"}, "headers": ADMIN},
    ),
    Case(
        "split-not-100",
        "PUT",
        "/v2/repository/models/iris/aliases/canary",
        400,
        "split weights must sum to 100, they sum to 90",
        lambda _: {"json": {"weights": {"1": 80, "2": 10}}, "headers": ADMIN},
    ),
    Case(
        "load-unknown-model",
        "POST",
        "/v2/repository/models/ghost/load",
        404,
        "unknown model 'ghost'",
        lambda _: {"headers": ADMIN},
    ),
    Case(
        "no-such-endpoint",
        "GET",
        "/v3/everything",
        404,
        "no such endpoint: /v3/everything",
        lambda _: {},
    ),
    Case("wrong-method", "GET", INFER, 405, "Method Not Allowed", lambda _: {}),
]


@pytest.fixture(scope="module")
def server(
    repo_copy: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("bad-log") / "server.log"
    limits = ("--max-body-mib", "1", "--max-upload-mib", "2")
    with running_server(repo_copy("bad-input"), log, *limits) as running:
        yield running


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under the repository, staging and trash included."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture(scope="module")
def before(server: Server) -> dict[str, str]:
    return snapshot(server.repo)


def test_the_table_is_long_enough() -> None:
    assert len(CASES) >= 25
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_request_gets_a_clear_4xx(
    server: Server, before: dict[str, str], case: Case, tmp_path: Path
) -> None:
    response = httpx.request(
        case.method, server.url + case.path, timeout=120, **case.request(tmp_path)
    )
    assert response.status_code == case.status, response.text
    body = response.json()
    assert isinstance(body["error"], str)
    assert case.phrase in body["error"], body["error"]
    if case.id == "parity-failure":
        assert body["parity"]["passed"] is False


def test_afterwards_the_server_answers_and_nothing_changed(
    server: Server, before: dict[str, str]
) -> None:
    response = httpx.post(server.url + INFER, json=GOOD)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == [0]
    after = snapshot(server.repo)
    assert after == before
    assert not list((server.repo / ".staging").glob("*"))
    assert not (server.repo.parent / "escaped.txt").exists()
    assert not Path("/tmp/modelport-absolute.pb").exists()
