"""deploy/ray/serve.yaml and gateway.ray_serve: the config as Ray Serve's own schema reads
it, the builder's arguments, and a local Ray instance (`serve run`, the documented command)
running 2 replicas on one shared repository while a new version is published under load:
no request fails, and every answer names its version and the replica that gave it.

The repository is a fixture parametrised by kind: a local directory both replicas see, and
a bucket on moto's S3 server (`s3://...`, tests/s3.py), each with its URI and a publisher
(see `SharedRepo`).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from model_repo.errors import InvalidArgument
from model_repo.manifest import Manifest
from model_repo.repository import Repository
from tests.artifacts import publish_tiny
from tests.deploy.manifests import load
from tests.deploy.ray_cluster import REPLICA_HEADER, serve_run
from tests.integration.load import Call, Clients, post, v2_body
from tests.integration.servers import free_port

pytestmark = pytest.mark.xdist_group("deploy-ray")
LOAD_SECONDS = 12.0
PUBLISH_AFTER = 3.0  # seconds into the load
SETTLED_AFTER = 5.0  # seconds after publishing: every replica has polled, loaded, switched
OFFSETS = {"1": 1.0, "2": 2.0}  # y = x + offset: an answer shows which version computed it


@dataclass(frozen=True)
class SharedRepo:
    """One repository every replica serves: what `args.repo` names, and how a publisher
    elsewhere adds a version (`modelport convert` on another machine, say)."""

    uri: str
    publish: Callable[[str, float], Manifest]
    env: dict[str, str]  # what the replicas need to reach it


@pytest.fixture(params=["local-dir", "s3"])
def shared_repo(request: pytest.FixtureRequest, tmp_path: Path) -> SharedRepo:
    if request.param == "s3":
        root = request.getfixturevalue("s3_root")  # AWS_* set for this process and its children
        repo = Repository(root)
        env = {"MODELPORT_CACHE_DIR": str(tmp_path / "replica-cache")}  # the replicas' copies
        return SharedRepo(root, lambda name, offset: publish_tiny(repo, name, offset), env)
    repo = Repository(tmp_path / "shared-repo")
    return SharedRepo(str(repo.root), lambda name, offset: publish_tiny(repo, name, offset), {})


def shipped() -> dict[str, Any]:
    return load("ray/serve.yaml")


def the_deployment(config: dict[str, Any]) -> dict[str, Any]:
    (application,) = config["applications"]
    (deployment,) = application["deployments"]
    return dict(deployment)


def test_the_config_passes_ray_serves_schema() -> None:
    from ray.serve._private.utils import import_attr
    from ray.serve.config import AutoscalingConfig
    from ray.serve.schema import ServeDeploySchema

    config = ServeDeploySchema.model_validate(shipped())
    (application,) = config.applications
    assert (application.import_path, application.route_prefix) == ("gateway.ray_serve:app", "/")
    assert callable(import_attr(application.import_path))
    deployment = the_deployment(shipped())
    assert deployment["name"] == "modelport"  # the deployment the builder binds
    scaling = AutoscalingConfig(**deployment["autoscaling_config"])
    assert 2 <= scaling.min_replicas <= scaling.initial_replicas <= scaling.max_replicas


def test_the_builder_turns_args_into_one_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from ray.serve import Application

    from gateway.ray_serve import app, server_config

    monkeypatch.setenv("MODELPORT_ADMIN_TOKEN", "ray-admin")
    monkeypatch.delenv("MODELPORT_INFERENCE_TOKEN", raising=False)
    args = shipped()["applications"][0]["args"]
    config = server_config(args)
    assert (str(config.repo_root), config.poll_interval) == (args["repo"], args["poll_interval"])
    assert config.admin_token == "ray-admin" and config.inference_token is None
    assert isinstance(app(args), Application)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"repo": "/m", "poll_interval": 0}, "poll_interval: Input should be greater than 0"),
        ({"repo": "/m", "replicas": 2}, "replicas: Extra inputs are not permitted"),
        ({}, "name no repository: set args.repo"),
        ({"repo": "models"}, "repo 'models' must be an absolute path"),
    ],
)
def test_bad_args_are_refused_naming_the_arg(
    monkeypatch: pytest.MonkeyPatch, args: dict[str, Any], message: str
) -> None:
    from gateway.ray_serve import server_config

    monkeypatch.delenv("MODELPORT_REPO", raising=False)
    with pytest.raises(InvalidArgument, match=message):
        server_config(args)


def local_config(repo_uri: str, port: int) -> dict[str, Any]:
    """The shipped config on this machine: the proxy on loopback, the shared repository,
    exactly 2 replicas (autoscaling bounds pinned) of half a CPU each beside the test."""
    config = copy.deepcopy(shipped())
    config["http_options"] = {"host": "127.0.0.1", "port": port}
    application = config["applications"][0]
    application["args"]["repo"] = repo_uri
    deployment = application["deployments"][0]
    deployment["autoscaling_config"].update(min_replicas=2, initial_replicas=2, max_replicas=2)
    deployment["ray_actor_options"]["num_cpus"] = 0.5
    return config


@pytest.mark.slow
def test_two_replicas_roll_a_version_under_load(tmp_path: Path, shared_repo: SharedRepo) -> None:
    shared_repo.publish("roll", OFFSETS["1"])
    config = local_config(shared_repo.uri, free_port())
    env = {"MODELPORT_ADMIN_TOKEN": "ray-admin", **shared_repo.env}
    with serve_run(config, tmp_path, env, 2) as url:
        body = v2_body(1)
        with Clients(url, 4, lambda http: [post(http, "/v2/models/roll/infer", body)]) as load:
            began = time.monotonic()
            time.sleep(PUBLISH_AFTER)
            published = time.monotonic()
            shared_repo.publish("roll", OFFSETS["2"])
            time.sleep(LOAD_SECONDS - PUBLISH_AFTER)
        took = time.monotonic() - began
    calls = sorted(load.calls, key=lambda c: c.started)
    failed = [c for c in calls if c.status != 200]
    by_version = {v: sum(c.version == v for c in calls) for v in OFFSETS}
    print(f"\nray: {len(calls)} requests in {took:.1f} s, by version {by_version}")
    assert not failed, failed[:5]
    assert len(calls) >= 100
    check_answers(calls)
    check_every_replica_rolled(calls, published)


def check_answers(calls: list[Call]) -> None:
    """Every answer names its version and replica, and holds what that version computes."""
    for call in calls:
        assert call.version in OFFSETS, call
        assert REPLICA_HEADER in call.headers, call
        (output,) = json.loads(call.text)["outputs"]
        assert output["data"] == [1.0 + OFFSETS[call.version]] * 2, call


def check_every_replica_rolled(calls: list[Call], published: float) -> None:
    replicas = {c.headers[REPLICA_HEADER] for c in calls}
    assert len(replicas) == 2, replicas
    before = [c for c in calls if c.ended < published]
    assert {c.version for c in before} == {"1"}
    settled = [c for c in calls if c.started > published + SETTLED_AFTER]
    assert settled and {c.version for c in settled} == {"2"}
    for replica in replicas:
        served = [c for c in calls if c.headers[REPLICA_HEADER] == replica]
        assert {c.version for c in served} == {"1", "2"}, replica
        # Once a replica has answered from v2, whatever it starts afterwards is v2.
        first_v2 = min(c.ended for c in served if c.version == "2")
        assert {c.version for c in served if c.started > first_v2} == {"2"}, replica
