"""The deploy/ files as the tests read them: YAML documents, Kubernetes' own JSON schemas
(kubernetes-validate, strict: a misspelled field is an error), and a container's command
turned into the one a test runs here.

No cluster is reachable from the tests, so a manifest is checked two ways: against the
schemas the API server would apply, and by running its container's command for real, with
only what the cluster would provide (paths, the address, the port, secrets) replaced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.integration.servers import MODELPORT, ROOT

DEPLOY = ROOT / "deploy"
KUBERNETES_VERSION = "1.30"  # the oldest Kubernetes the manifests are written for


def load(relative: str) -> dict[str, Any]:
    """The one YAML document of deploy/<relative>."""
    documents = [d for d in yaml.safe_load_all((DEPLOY / relative).read_text()) if d]
    assert len(documents) == 1, f"{relative}: expected one document, found {len(documents)}"
    document: dict[str, Any] = documents[0]
    return document


def validate(resource: Mapping[str, Any]) -> None:
    """Kubernetes' schema for the resource's kind, strict; raises naming the field."""
    import kubernetes_validate

    kubernetes_validate.validate(dict(resource), KUBERNETES_VERSION, strict=True)


def validate_as(obj: Mapping[str, Any], schema: str) -> None:
    """Validate a part of a resource (`container-v1`, `volume-v1` ...) against Kubernetes'
    strict schema of that type: how a custom resource embeds core types (KServe's
    ServingRuntime holds corev1 Containers and Volumes)."""
    import jsonschema
    from kubernetes_validate.utils import schema_contents
    from referencing import Registry, Resource

    folder = f"kubernetes-json-schema/v{KUBERNETES_VERSION}.0-local-strict"
    contents = schema_contents(f"{folder}/{schema}.json", KUBERNETES_VERSION)
    definitions = schema_contents(f"{folder}/_definitions.json", KUBERNETES_VERSION)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(contents) @ Registry())
    jsonschema.Draft202012Validator(contents, registry=registry).validate(
        json.loads(json.dumps(obj))
    )


def container_command(
    container: Mapping[str, Any], replace: Mapping[str, str], name: str = ""
) -> list[str]:
    """The container's command and args as this machine runs them: `modelport` is this
    worktree's CLI, `{{.Name}}` is `name` (KServe's templating), and an argument (or the
    value of an `--option=value`) found in `replace` becomes its replacement."""
    argv = [*container.get("command", []), *container.get("args", [])]
    assert argv and argv[0] == "modelport", argv
    return [*MODELPORT, *(_replaced(arg.replace("{{.Name}}", name), replace) for arg in argv[1:])]


def _replaced(arg: str, replace: Mapping[str, str]) -> str:
    option, equals, value = arg.partition("=")
    if equals and arg.startswith("--"):
        return f"{option}={replace.get(value, value)}"
    return replace.get(arg, arg)


def container_env(container: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, str]:
    """The container's environment: its values, and `secrets[name]` for a secretKeyRef."""
    env = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secrets[f"{ref['name']}/{ref['key']}"]
    return env


def probe_paths(container: Mapping[str, Any]) -> dict[str, str]:
    """Probe kind (readinessProbe ...) -> the HTTP path it GETs."""
    kinds = ("startupProbe", "readinessProbe", "livenessProbe")
    return {k: container[k]["httpGet"]["path"] for k in kinds if k in container}


def image_user(dockerfile: Path = ROOT / "Dockerfile") -> str:
    """The Dockerfile's last USER."""
    users = [
        line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("USER ")
    ]
    assert users, "the Dockerfile sets no USER"
    return users[-1]
