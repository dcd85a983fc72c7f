"""The gateway as a Ray Serve application: each replica runs the whole gateway.

`serve run deploy/ray/serve.yaml` (one machine) or `serve deploy deploy/ray/serve.yaml` (a
running cluster) imports `gateway.ray_serve:app`, the application builder: it turns the
config's `args` into a `ServerConfig` once, so that every replica shares one admin token,
and binds the `Gateway` deployment to it. Replicas, autoscaling and resources are the
config's `deployments` settings.

A replica builds the gateway's ASGI app (`create_app`) after its constructor
(`__serve_build_asgi_app__`, Ray Serve's late-bound ingress), and Ray Serve runs the app's
lifespan before the replica takes traffic: the first load of the repository is done by
then, and the repository poll keeps every replica in line with it on its own, as the
worker processes of `modelport serve --workers N` are. Responses name the replica that
answered (`X-Modelport-Replica`).

Ray is imported here and nowhere else (the `ray` extra).
"""

import logging
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ray import serve
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.config import MIB, ServerConfig, new_token
from model_repo.errors import InvalidArgument

log = logging.getLogger("modelport.ray")
REPLICA_HEADER = b"x-modelport-replica"


class GatewayArgs(BaseModel):
    """The `args` of the application in the Serve config (or `key=value` after `serve run`)."""

    model_config = ConfigDict(extra="forbid")

    repo: str | None = None  # default: $MODELPORT_REPO
    # Replicas see each other's writes (uploads, aliases) only by polling the repository.
    poll_interval: float = Field(1.0, gt=0)
    release_grace: float = Field(10.0, ge=0)
    drain_timeout: float = Field(30.0, ge=0)
    max_body_mib: int = Field(64, ge=1)
    max_upload_mib: int = Field(1024, ge=1)
    allow_pickle: bool = False


def app(args: dict[str, Any]) -> serve.Application:
    """The application builder `serve run` / `serve deploy` call with the config's args."""
    return DEPLOYMENT.bind(server_config(args))


def server_config(args: dict[str, Any]) -> ServerConfig:
    """Every replica's ServerConfig; tokens come from the environment, never the config."""
    try:
        given = GatewayArgs.model_validate(args)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidArgument(f"modelport's Ray Serve args: {problems}") from None
    repo = given.repo or os.environ.get("MODELPORT_REPO")
    if not repo:
        raise InvalidArgument(
            "modelport's Ray Serve args name no repository: set args.repo in the Serve config "
            "(a directory every node sees) or MODELPORT_REPO"
        )
    if "://" not in repo and not Path(repo).is_absolute():
        raise InvalidArgument(
            f"modelport's Ray Serve args: repo {repo!r} must be an absolute path: every replica "
            "runs in a working directory of Ray's own"
        )
    admin_token = os.environ.get("MODELPORT_ADMIN_TOKEN")
    if not admin_token:
        admin_token = new_token()
        log.warning("admin token (generated; set MODELPORT_ADMIN_TOKEN to choose): %s", admin_token)
    return ServerConfig(
        repo_root=repo if "://" in repo else Path(repo),  # an s3:// URL stays text
        admin_token=admin_token,
        inference_token=os.environ.get("MODELPORT_INFERENCE_TOKEN") or None,
        allow_pickle=given.allow_pickle,
        max_body_bytes=given.max_body_mib * MIB,
        max_upload_bytes=given.max_upload_mib * MIB,
        drain_timeout=given.drain_timeout,
        poll_interval=given.poll_interval,
        release_grace=given.release_grace,
    )


class Gateway:
    """One replica: the gateway's ASGI app for `config`, built once the replica starts."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config

    def __serve_build_asgi_app__(self) -> ASGIApp:
        from gateway.app import create_app

        replica = serve.get_replica_context().replica_id.unique_id
        return NamedReplica(create_app(self.config), replica)


# Late-bound ingress: `__serve_build_asgi_app__` supplies the app on the replica. Applied as
# calls rather than decorators so that the type checker keeps knowing the class.
DEPLOYMENT = serve.deployment(name="modelport")(serve.ingress()(Gateway))


class NamedReplica:
    """Adds the replica's id to every HTTP response, so that a client (or a test) can tell
    which replica answered; lifespan messages pass through untouched."""

    def __init__(self, app: ASGIApp, replica: str) -> None:
        self.app = app
        self.header = (REPLICA_HEADER, replica.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), self.header]}
            await send(message)

        await self.app(scope, receive, named)
