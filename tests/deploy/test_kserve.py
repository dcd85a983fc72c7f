"""deploy/kserve: the ServingRuntime's fields (KServe's types; its containers and volumes
against Kubernetes' own schemas), the InferenceService example that uses it, and the
command the runtime declares run for real on /mnt/models layouts as KServe's storage
initializer leaves them, answered over V2 and TF Serving REST."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from model_repo.aliases import AliasTarget
from model_repo.repository import Repository
from tests.artifacts import publish_tiny, write_tiny_onnx
from tests.deploy.manifests import (
    container_command,
    container_env,
    image_user,
    load,
    probe_paths,
    validate_as,
)
from tests.integration.load import v2_body
from tests.integration.servers import MODELPORT, ROOT, Server, free_port, running

pytestmark = pytest.mark.xdist_group("deploy-kserve")

# ServingRuntimeSpec's fields (KServe's pkg/apis/serving/v1alpha1/servingruntime_types.go,
# the inlined ServingRuntimePodSpec's included) and SupportedModelFormat's.
SPEC_FIELDS = {
    "supportedModelFormats", "multiModel", "disabled", "protocolVersions", "workerSpec",
    "containers", "volumes", "nodeSelector", "affinity", "tolerations", "labels",
    "annotations", "imagePullSecrets", "hostIPC", "grpcEndpoint", "grpcDataEndpoint",
    "httpDataEndpoint", "replicas", "storageHelper", "builtInAdapter",
}  # fmt: skip
FORMAT_FIELDS = {"name", "version", "autoSelect", "priority"}
PROTOCOLS = {"v1", "v2", "grpc-v1", "grpc-v2"}  # constants.InferenceServiceProtocol
KSERVE_CONTAINER = "kserve-container"  # the container KServe mounts /mnt/models into
GRPC_PORT = "8081"  # KServe's V2 gRPC port (its Python model server's default)


def runtime() -> dict[str, Any]:
    return load("kserve/servingruntime.yaml")


def serving_container(spec: dict[str, Any]) -> dict[str, Any]:
    (container,) = [c for c in spec["containers"] if c["name"] == KSERVE_CONTAINER]
    return container


def test_the_runtime_has_kserve_servingruntime_fields() -> None:
    found = runtime()
    assert (found["apiVersion"], found["kind"]) == ("serving.kserve.io/v1alpha1", "ServingRuntime")
    spec = found["spec"]
    assert set(spec) <= SPEC_FIELDS, set(spec) - SPEC_FIELDS
    for model_format in spec["supportedModelFormats"]:
        assert set(model_format) <= FORMAT_FIELDS and isinstance(model_format["name"], str)
        assert isinstance(model_format["version"], str)  # "major", "major.minor" ...
        assert isinstance(model_format["autoSelect"], bool) and model_format["priority"] >= 1
    names = {f["name"] for f in spec["supportedModelFormats"]}
    assert {"onnx", "pmml", "tensorflow", "modelport"} <= names
    assert set(spec["protocolVersions"]) <= PROTOCOLS
    assert {"v2", "grpc-v2"} <= set(spec["protocolVersions"])
    for container in spec["containers"]:
        validate_as(container, "container-v1")
    for volume in spec.get("volumes", []):
        validate_as(volume, "volume-v1")
    mounts = {m["name"] for c in spec["containers"] for m in c.get("volumeMounts", [])}
    assert mounts <= {v["name"] for v in spec.get("volumes", [])}


def test_the_runtime_container_follows_kserve_conventions() -> None:
    spec = runtime()["spec"]
    container = serving_container(spec)
    args = container["args"]
    assert args[0] == "kserve" and "--model-name={{.Name}}" in args
    assert "--model-dir=/mnt/models" in args and "--port=8080" in args
    assert spec["annotations"]["prometheus.kserve.io/port"] == "8080"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == 8080
    assert probe_paths(container) == {
        "readinessProbe": "/v2/health/ready",
        "livenessProbe": "/v2/health/live",
    }
    # gRPC: KServe's V2 port, named to the server through its environment.
    assert container_env(container, {})["MODELPORT_GRPC_PORT"] == GRPC_PORT
    security = container["securityContext"]
    uid, _, gid = image_user().partition(":")
    assert security["runAsNonRoot"] is True
    assert (str(security["runAsUser"]), str(security["runAsGroup"])) == (uid, gid)
    assert security["allowPrivilegeEscalation"] is False and security["privileged"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    # The scratch repository is a volume of the pod, not the image's layer.
    (mount,) = container["volumeMounts"]
    assert f"--repo={mount['mountPath']}" in args


def test_the_inference_service_example_uses_the_runtime() -> None:
    service = load("kserve/inferenceservice.yaml")
    assert (service["apiVersion"], service["kind"]) == (
        "serving.kserve.io/v1beta1",
        "InferenceService",
    )
    model = service["spec"]["predictor"]["model"]
    spec = runtime()["spec"]
    assert model["runtime"] == runtime()["metadata"]["name"]
    assert model["modelFormat"]["name"] in {f["name"] for f in spec["supportedModelFormats"]}
    assert model["protocolVersion"] in spec["protocolVersions"]
    assert model["storageUri"].startswith("s3://")


# ---- the runtime's command, run ---------------------------------------------------------


def modelport_dir(folder: Path) -> tuple[Path, str, float]:
    """A modelport model dir (v1 and v2, `stable` on v1) made under another name."""
    repo = Repository(folder / "elsewhere")
    publish_tiny(repo, "tiny", 1.0)
    publish_tiny(repo, "tiny", 2.0)
    repo.set_alias("tiny", "stable", AliasTarget(version=1))
    return repo.root / "tiny", "1", 1.0


def triton_model(folder: Path) -> tuple[Path, str, float]:
    """A Triton model: versions 1 and 3 and a config.pbtxt naming the platform."""
    model = folder / "triton"
    for version, offset in ((1, 1.0), (3, 3.0)):
        (model / str(version)).mkdir(parents=True)
        write_tiny_onnx(model / str(version) / "model.onnx", offset)
    (model / "config.pbtxt").write_text('name: "triton"\nplatform: "onnxruntime_onnx"\n')
    return model, "3", 3.0


def one_onnx_file(folder: Path) -> tuple[Path, str, float]:
    """What the storage initializer leaves for a storageUri naming one file."""
    model = folder / "single"
    model.mkdir()
    write_tiny_onnx(model / "model.onnx", 5.0)
    return model, "1", 5.0


LAYOUTS: dict[str, Callable[[Path], tuple[Path, str, float]]] = {
    "modelport-dir": modelport_dir,
    "triton-model": triton_model,
    "one-onnx-file": one_onnx_file,
}


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every path under `root` with its mode, mtime and (files) content hash."""
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        found[str(path.relative_to(root))] = (info.st_mode, info.st_mtime_ns, digest)
    return found


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    """Make a tree read-only as KServe mounts /mnt/models; made writable again after."""
    done: list[Path] = []

    def make(root: Path) -> None:
        for path in [root, *root.rglob("*")]:
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        done.append(root)

    yield make
    for root in done:
        for path in [root, *root.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def run_runtime(
    tmp_path: Path, mounted: Path, name: str, env: dict[str, str] | None = None
) -> AbstractContextManager[Server]:
    """The runtime's container command on `mounted`, as model `name`, until the block ends."""
    container = serving_container(runtime()["spec"])
    port = free_port()
    scratch = tmp_path / "scratch"
    replace = {"/mnt/models": str(mounted), "/models": str(scratch)}
    replace |= {"0.0.0.0": "127.0.0.1", "8080": str(port)}
    command = container_command(container, replace, name=name)
    # The gRPC port too is the cluster's to give: a free one here, unless the test names one.
    grpc = {"MODELPORT_GRPC_PORT": str(free_port())}
    environment = {**container_env(container, {}), **grpc, **(env or {})}
    server = Server(f"http://127.0.0.1:{port}", "", scratch, tmp_path / f"{name}.log")
    return running(command, server, env=environment)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_the_runtime_command_serves_the_mounted_model(
    tmp_path: Path, read_only: Callable[[Path], None], layout: str
) -> None:
    mounted, version, offset = LAYOUTS[layout](tmp_path)
    read_only(mounted)
    before = snapshot(mounted)
    name = "iris-prod"  # the InferenceService's name: {{.Name}}
    with run_runtime(tmp_path, mounted, name) as server:
        for path in probe_paths(serving_container(runtime()["spec"])).values():
            assert httpx.get(server.url + path).status_code == 200, path
        answer = httpx.post(f"{server.url}/v2/models/{name}/infer", json=v2_body(1))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["model_name"], body["model_version"]) == (name, version)
        assert body["outputs"][0]["data"] == [1.0 + offset, 1.0 + offset]
        predict = httpx.post(
            f"{server.url}/v1/models/{name}:predict", json={"instances": [[1.0, 2.0]]}
        )
        assert predict.status_code == 200, predict.text
        assert predict.json() == {"predictions": [[1.0 + offset, 2.0 + offset]]}
        assert predict.headers["x-modelport-model-version"] == version
        assert httpx.get(f"{server.url}/v2/models/{name}").json()["name"] == name
    assert snapshot(mounted) == before  # nothing written to /mnt/models


def test_a_mounted_dir_without_a_model_stops_the_container_saying_why(tmp_path: Path) -> None:
    mounted = tmp_path / "mnt-models"
    mounted.mkdir()
    (mounted / "README.md").write_text("no model here")
    container = serving_container(runtime()["spec"])
    replace = {"/mnt/models": str(mounted), "/models": str(tmp_path / "scratch")}
    command = container_command(container, replace | {"8080": str(free_port())}, name="iris")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 12, done.stderr  # an artifact that cannot be opened
    assert "holds no model modelport can serve (it holds README.md)" in done.stderr
    assert "modelport serving" not in done.stdout


def test_the_grpc_port_the_runtime_declares_listens(tmp_path: Path) -> None:
    """Once `modelport serve` has a gRPC server (--grpc-port, read from MODELPORT_GRPC_PORT
    as the runtime sets it), the runtime's container listens on KServe's gRPC port too."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    help_text = subprocess.run(
        [*MODELPORT, "serve", "--help"], cwd=ROOT, capture_output=True, text=True, env=env
    ).stdout
    if "--grpc-port" not in help_text:
        pytest.skip("modelport serve has no --grpc-port yet: the runtime serves REST only")
    assert "MODELPORT_GRPC_PORT" in help_text  # the variable the runtime sets
    mounted, _, _ = one_onnx_file(tmp_path)
    grpc_port = free_port()
    with run_runtime(tmp_path, mounted, "iris", {"MODELPORT_GRPC_PORT": str(grpc_port)}):
        import socket

        with socket.create_connection(("127.0.0.1", grpc_port), timeout=10):
            pass
