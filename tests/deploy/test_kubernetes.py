"""deploy/kubernetes: Kubernetes' own schemas, the references between the manifests, and the
Deployment's container run for real with its probes and its Service's port answering."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from model_repo.repository import Repository
from tests.artifacts import publish_tiny
from tests.deploy.manifests import (
    container_command,
    container_env,
    image_user,
    load,
    probe_paths,
    validate,
)
from tests.integration.load import v2_body
from tests.integration.servers import Server, free_port, running

pytestmark = pytest.mark.xdist_group("deploy-kubernetes")
FILES = ("deployment.yaml", "service.yaml", "hpa.yaml", "pvc.yaml")


def manifests() -> dict[str, dict[str, Any]]:
    return {name: load(f"kubernetes/{name}") for name in FILES}


def only_container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def option(args: list[str], name: str) -> str:
    values = [a.split("=", 1)[1] for a in args if a.startswith(f"{name}=")]
    assert len(values) == 1, (name, args)
    return values[0]


@pytest.mark.parametrize("name", FILES)
def test_each_manifest_passes_kubernetes_strict_schema(name: str) -> None:
    validate(manifests()[name])


def test_service_hpa_and_volume_point_at_the_deployment() -> None:
    found = manifests()
    deployment, service, hpa, pvc = (found[n] for n in FILES)
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    container = only_container(deployment)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] in ports
    # The port the server is told to listen on is the one the Service and probes reach.
    assert int(option(container["args"], "--port")) == ports[service_port["targetPort"]]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] in ports
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"],
        deployment["kind"],
        deployment["metadata"]["name"],
    )
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    # Utilization is a share of the requests: without a CPU request the HPA cannot scale.
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert "cpu" in container["resources"]["requests"]
    (volume,) = pod["spec"]["volumes"]
    assert volume["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    (mount,) = container["volumeMounts"]
    assert (mount["name"], mount["mountPath"]) == (
        volume["name"],
        option(container["args"], "--repo"),
    )
    # Replicas see each other's uploads only through the repository poll.
    assert float(option(container["args"], "--poll-interval")) > 0


def test_the_pod_runs_as_the_image_user_without_privileges() -> None:
    deployment = manifests()["deployment.yaml"]
    pod_security = deployment["spec"]["template"]["spec"]["securityContext"]
    uid, _, gid = image_user().partition(":")
    assert pod_security["runAsNonRoot"] is True
    assert (str(pod_security["runAsUser"]), str(pod_security["runAsGroup"])) == (uid, gid)
    assert str(pod_security["fsGroup"]) == gid  # the volume is writable by that group
    container_security = only_container(deployment)["securityContext"]
    assert container_security["allowPrivilegeEscalation"] is False
    assert container_security["capabilities"]["drop"] == ["ALL"]


def test_the_container_command_serves_and_answers_its_probes(tmp_path: Path) -> None:
    """The Deployment's command, as written, on a repository with one model: every probe
    path answers 200 and the model answers through the port the Service targets."""
    deployment = manifests()["deployment.yaml"]
    container = only_container(deployment)
    repo = Repository(tmp_path / "models")
    publish_tiny(repo, "tiny", 1.0)
    port = free_port()
    replace = {"/models": str(repo.root), "0.0.0.0": "127.0.0.1", "8080": str(port)}
    command = container_command(container, replace)
    env = container_env(container, {"modelport-admin/token": "k8s-admin-token"})
    server = Server(f"http://127.0.0.1:{port}", "", repo.root, tmp_path / "server.log")
    with running(command, server, env=env):
        for kind, path in probe_paths(container).items():
            assert httpx.get(server.url + path).status_code == 200, kind
        answer = httpx.post(server.url + "/v2/models/tiny/infer", json=v2_body(1))
        assert answer.status_code == 200, answer.text
        assert answer.json()["outputs"][0]["data"] == [2.0, 2.0]
        # The admin token is the Secret's: a write with it is accepted, one without is not.
        unload = "/v2/repository/models/tiny/unload"
        assert httpx.post(server.url + unload).status_code == 401
        headers = {"Authorization": "Bearer k8s-admin-token"}
        assert httpx.post(server.url + unload, headers=headers).status_code == 200
