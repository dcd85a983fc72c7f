"""The repository's guarantees on S3, against moto's S3 server over HTTP (tests/s3.py):
publishing is atomic, concurrent publishers get distinct numbers, a publisher killed
mid-upload leaves no version, a modified file is refused, and concurrent writers of one
document never lose each other's change."""

from __future__ import annotations

import hashlib
import itertools
import json
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_repo import (
    AliasTarget,
    Conflict,
    IntegrityError,
    ModelConfig,
    NotFound,
    Repository,
    RepositoryError,
    VersionPolicy,
    _s3lock,
)
from model_repo._objects import ObjectUrl
from model_repo.signature import Signature, TensorSpec
from tests.artifacts import publish_tiny, write_tiny_onnx
from tests.s3 import MotoS3

ROOT = Path(__file__).resolve().parents[2]


def _publisher(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.model_repo.publisher_proc", *args],
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )


def _keys(moto: MotoS3, root: str) -> dict[str, bytes]:
    url = ObjectUrl.parse(root)
    client = moto.client()
    listed = client.list_objects_v2(Bucket=url.bucket, Prefix=url.prefix + "/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    return {
        k[len(url.prefix) + 1 :]: client.get_object(Bucket=url.bucket, Key=k)["Body"].read()
        for k in keys
    }


def _put(moto: MotoS3, root: str, key: str, body: bytes) -> None:
    url = ObjectUrl.parse(root)
    moto.client().put_object(Bucket=url.bucket, Key=f"{url.prefix}/{key}", Body=body)


def _start_together(procs: list[subprocess.Popen[bytes]], go: Path) -> None:
    deadline = time.monotonic() + 60
    while len(list(go.parent.glob(f"{go.name}.*"))) < len(procs):  # all started, waiting
        assert all(p.poll() is None for p in procs)
        assert time.monotonic() < deadline
        time.sleep(0.01)
    go.touch()
    for proc in procs:
        _, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, stderr.decode()


def test_a_version_is_its_files_then_its_manifest(s3_root: str, moto: MotoS3) -> None:
    repo = Repository(s3_root)
    assert repo.remote and repo.exists()
    first = publish_tiny(repo, "adder", offset=1.0)
    second = publish_tiny(repo, "adder", offset=2.0)
    assert (first.version, second.version) == (1, 2)
    assert repo.models() == ["adder"] and repo.versions("adder") == [1, 2]
    stored = _keys(moto, s3_root)
    assert set(stored) == {
        "adder/.claims/1",
        "adder/.claims/2",
        "adder/1/model.onnx",
        "adder/1/manifest.json",
        "adder/2/model.onnx",
        "adder/2/manifest.json",
    }
    digest = hashlib.sha256(stored["adder/2/model.onnx"]).hexdigest()
    assert json.loads(stored["adder/2/manifest.json"])["files"] == {"model.onnx": digest}
    assert repo.where("adder", 2) == f"{s3_root}/adder/2"
    manifest, predictor = Repository(s3_root).open("adder", 2)  # another process's view
    out = predictor.predict({"x": np.array([[1.0, 2.0]], dtype=np.float32)})
    np.testing.assert_allclose(out["y"], [[3.0, 4.0]])
    assert manifest == repo.manifest("adder", 2)
    copy = repo.version_dir("adder", 2)  # the verified local copy the runtime opened
    assert (
        copy.name.startswith("2-")
        and (copy / "model.onnx").read_bytes() == stored["adder/2/model.onnx"]
    )


def test_aliases_config_releases_and_deletes(s3_root: str) -> None:
    repo = Repository(s3_root)
    for offset in (1.0, 2.0, 3.0):
        publish_tiny(repo, "m", offset=offset)
    publish_tiny(repo, "n")
    assert repo.resolve("m") == 3
    repo.set_alias("m", "stable", AliasTarget(version=1))
    assert repo.resolve("m") == 1 and Repository(s3_root).aliases("m")["stable"].version == 1
    with pytest.raises(Conflict, match="no such version"):
        repo.set_alias("m", "canary", AliasTarget(version=9))
    repo.set_config("m", ModelConfig(version_policy=VersionPolicy(latest=2)))
    assert Repository(s3_root).config("m").version_policy.latest == 2
    release = repo.releases.set("pair", {"m": 2, "n": 1})
    assert Repository(s3_root).releases.get("pair") == release
    with pytest.raises(Conflict, match="target of alias"):
        repo.delete_version("m", 1)
    with pytest.raises(Conflict, match="pinned by release"):
        repo.delete_version("m", 2)
    repo.delete_version("m", 3)
    assert repo.versions("m") == [1, 2]
    assert publish_tiny(repo, "m").version == 4  # 3's claim stays: never given again
    repo.delete_alias("m", "stable")
    repo.releases.delete("pair")
    assert repo.resolve("m") == 4 and repo.releases.all() == {}
    with pytest.raises(NotFound, match="model 'ghost' not found"):
        repo.set_alias("ghost", "stable", AliasTarget(version=1))
    assert repo.models() == ["m", "n"]  # the refused write left no phantom model


def test_asked_for_numbers_are_above_every_number_given(s3_root: str) -> None:
    repo = Repository(s3_root)
    assert publish_tiny(repo, "m", version=5).version == 5
    with pytest.raises(Conflict, match="has had versions up to 5"):
        publish_tiny(repo, "m", version=3)
    assert publish_tiny(repo, "m").version == 6


def test_two_publisher_processes_get_distinct_numbers(s3_root: str, tmp_path: Path) -> None:
    count, go = 6, tmp_path / "go"
    procs = [
        _publisher("many", s3_root, "shared", str(count), str(first), str(go))
        for first in (0, 1000)
    ]
    _start_together(procs, go)
    repo = Repository(s3_root)
    assert repo.versions("shared") == list(range(1, 2 * count + 1))
    offsets = [repo.manifest("shared", v).notes["offset"] for v in repo.versions("shared")]
    assert sorted(offsets) == [float(i) for i in range(count)] + [1000.0 + i for i in range(count)]
    publisher = [offset >= 1000 for offset in offsets]
    assert sum(a != b for a, b in itertools.pairwise(publisher)) > 1, publisher  # interleaved


def test_a_reader_never_sees_half_a_version(s3_root: str, tmp_path: Path) -> None:
    hold = tmp_path / "hold"
    proc = _publisher("big", s3_root, "big", "24", str(hold))
    repo = Repository(s3_root)
    looks = 0

    def look() -> None:
        nonlocal looks
        for version in repo.versions("big"):
            repo.verify("big", version)  # listed means complete: every file is there
        looks += 1

    deadline = time.monotonic() + 120
    while not hold.with_suffix(".staged").exists():  # uploading, then every file is up
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline
        look()
    for _ in range(4):  # every file up, the manifest not yet written
        look()
    hold.touch()
    while proc.poll() is None:
        look()
    _, stderr = proc.communicate()
    assert proc.returncode == 0 and looks > 3, stderr.decode()
    assert repo.versions("big") == [1]
    repo.verify("big", 1)


def test_a_publisher_killed_mid_upload_leaves_no_version(s3_root: str, moto: MotoS3) -> None:
    proc = _publisher("big", s3_root, "m", "256")
    deadline = time.monotonic() + 60
    while "m/1/model.onnx" not in _keys(moto, s3_root):  # claimed, uploading
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    stored = _keys(moto, s3_root)
    assert "m/.claims/1" in stored and "m/1/manifest.json" not in stored
    repo = Repository(s3_root)
    assert repo.versions("m") == []
    with pytest.raises(NotFound, match="model 'm' not found"):
        repo.resolve("m")
    assert publish_tiny(repo, "m").version == 2  # the dead publisher's number stays taken
    assert Repository(s3_root).versions("m") == [2]


def test_a_modified_stored_file_is_refused(
    s3_root: str, moto: MotoS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo = Repository(s3_root)
    publish_tiny(repo, "m")
    repo.verify("m", 1)  # this machine holds a verified copy of the published bytes
    _put(moto, s3_root, "m/1/model.onnx", b"not the published bytes")
    repo.open("m", 1)  # and keeps serving them
    monkeypatch.setenv("MODELPORT_CACHE_DIR", str(tmp_path / "another-machine"))
    with pytest.raises(IntegrityError, match=r"model.onnx does not match its sha256.*s3://"):
        Repository(s3_root).open("m", 1)  # a new copy is checked, and refused
    publish_tiny(repo, "n")
    _put(moto, s3_root, "n/1/extra.bin", b"x")
    with pytest.raises(IntegrityError, match=r"extra\.bin is not in the manifest"):
        repo.verify("n", 1)


def test_a_tampered_local_copy_is_fetched_again(s3_root: str) -> None:
    repo = Repository(s3_root)
    publish_tiny(repo, "m")
    artifact = repo.artifact_path("m", 1)
    artifact.write_bytes(b"changed on this machine")
    manifest, _ = repo.open("m", 1)  # S3 still holds the published bytes
    assert (
        hashlib.sha256(repo.artifact_path("m", 1).read_bytes()).hexdigest()
        == (manifest.files["model.onnx"])
    )


def test_concurrent_alias_writers_lose_nothing(s3_root: str, tmp_path: Path) -> None:
    repo = Repository(s3_root)
    publish_tiny(repo, "m")
    go = tmp_path / "go"
    procs = [_publisher("aliases", s3_root, "m", prefix, "8", str(go)) for prefix in "ab"]
    _start_together(procs, go)
    assert sorted(repo.aliases("m")) == sorted(f"{p}{i}" for p in "ab" for i in range(8))


def test_a_document_changed_since_it_was_read_is_not_overwritten(
    s3_root: str, moto: MotoS3
) -> None:
    repo = Repository(s3_root)
    publish_tiny(repo, "m")
    repo.set_alias("m", "stable", AliasTarget(version=1))
    read = repo.storage.read_doc("m/aliases.json", RepositoryError, "alias file")
    _put(moto, s3_root, "m/aliases.json", b'{"other": {"version": 1}}')  # by hand, meanwhile
    with pytest.raises(Conflict, match="changed by another writer since it was read"):
        repo.storage.write_doc(read, {"mine": {"version": 1}})
    assert list(repo.aliases("m")) == ["other"]


def test_a_held_lock_is_waited_for_and_a_dead_ones_taken_over(
    s3_root: str, moto: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Repository(s3_root)
    publish_tiny(repo, "m")
    held = threading.Event()

    def hold_the_lock() -> None:
        with repo.storage.model_lock("m"):
            held.set()
            time.sleep(0.5)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    held.wait()
    started = time.monotonic()
    repo.set_alias("m", "stable", AliasTarget(version=1))
    assert time.monotonic() - started > 0.3  # it waited for the holder
    holder.join()
    monkeypatch.setattr(_s3lock, "STALE_S", 1.0)  # not 30 s of waiting in a test
    _put(moto, s3_root, "m/.lock", b'{"pid": 0}')  # left by a writer that died
    repo.set_alias("m", "canary", AliasTarget(version=1))
    assert "canary" in repo.aliases("m") and "m/.lock" not in _keys(moto, s3_root)


def test_an_unusable_bucket_is_named(moto: MotoS3, s3_root: str) -> None:
    missing = Repository("s3://no-such-bucket-here/repo")
    assert not missing.exists()
    with pytest.raises(RepositoryError, match="bucket 'no-such-bucket-here' does not exist"):
        publish_tiny(missing, "m")
    with pytest.raises(RepositoryError, match="not an S3 repository URL"):
        Repository("s3://B/x")
    with pytest.raises(RepositoryError, match="only local directories and s3://"):
        Repository("gs://bucket/x")


def _write_matmul_onnx(path: Path, offset: float = 0.0) -> Signature:
    """y = x @ W for a 512 x 512 FP32 W: a 1 MiB ONNX model."""
    from onnx import TensorProto, helper, save

    weights = np.full((512, 512), offset, dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 512])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 512])],
        initializer=[helper.make_tensor("w", TensorProto.FLOAT, [512, 512], weights.ravel())],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(path))
    spec = (TensorSpec("x", "FP32", (-1, 512)),), (TensorSpec("y", "FP32", (-1, 512)),)
    return Signature.of(*spec)


@pytest.mark.parametrize("write", [write_tiny_onnx, _write_matmul_onnx], ids=["tiny", "1MiB"])
def test_publish_and_open_times_of_a_small_onnx_model(
    s3_root: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, write: Any
) -> None:
    repo = Repository(s3_root)
    objects = repo.storage.objects
    publishes, opens, requests = [], [], []
    for i in range(5):
        before, started = objects.requests, time.perf_counter()
        manifest = publish_tiny(repo, "m", float(i), write=write)
        publishes.append(time.perf_counter() - started)
        requests.append(objects.requests - before)
        monkeypatch.setenv("MODELPORT_CACHE_DIR", str(tmp_path / f"machine-{i}"))
        started = time.perf_counter()
        Repository(s3_root).open("m", manifest.version)  # fetched, checked, opened
        opens.append(time.perf_counter() - started)
    size = repo.artifact_path("m", 1).stat().st_size
    print(
        f"\nS3 publish of a {size:,} B ONNX model: median {statistics.median(publishes) * 1000:.0f}"
        f" ms, {statistics.median(requests):.0f} requests; first open on a new machine "
        f"(fetch, sha256, onnxruntime): median {statistics.median(opens) * 1000:.0f} ms"
    )
    assert max(publishes) < 5 and max(opens) < 5


@pytest.mark.tensorflow
def test_a_savedmodel_of_nested_files_round_trips(s3_root: str, tmp_path: Path) -> None:
    """TF Serving's half_plus_three (variables/, assets/), imported keeping version 123."""
    pytest.importorskip("tensorflow")
    from gateway.control.model_dirs import import_path
    from tests.integration.tfserving_models import half_plus_three

    repo = Repository(s3_root)
    published = import_path(repo, half_plus_three(tmp_path))
    [manifest] = published["saved_model_half_plus_three"]
    assert manifest.version == 123 and any("/variables/" in f for f in manifest.files)
    served, predictor = Repository(s3_root).open("saved_model_half_plus_three", 123)
    out = predictor.predict({"x": np.array([1.0, 2.0, 5.0], dtype=np.float32)})
    np.testing.assert_allclose(next(iter(out.values())), [3.5, 4.0, 5.5])
    assert served.files == manifest.files
