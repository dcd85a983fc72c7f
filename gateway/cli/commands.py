"""The `modelport` command line: convert, models, serve, push, predict.

Only typer and rich are imported at start; each command imports what it needs, so that
`modelport --help` stays fast and works without the optional frameworks.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from gateway.cli.exit_codes import exit_code_for
from gateway.cli.kserve import add_command as add_kserve
from gateway.cli.options import RepoOption, open_repo
from gateway.cli.releases import add_commands
from model_repo.errors import ModelportError

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="modelport",
    help="Convert trained models into verified artifacts, keep them versioned, serve them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(
    help="List, inspect, alias and delete stored versions.", no_args_is_help=True
)
app.add_typer(models_app, name="models")

out = Console()
err = Console(stderr=True)


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print a modelport error as one readable paragraph and exit with its own code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ModelportError as exc:
            # The message is text, not markup: rich would eat `[pmml]` in a pip hint.
            message = f"[bold red]error:[/] {escape(str(exc))}"
            err.print(message, markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(exit_code_for(exc)) from None

    return wrapper


@app.command()
@reports_errors
def convert(
    model_path: Annotated[Path, typer.Argument(help="Trained model file or SavedModel dir")],
    name: Annotated[str, typer.Option("--name", help="Model name in the repository")],
    to: Annotated[str, typer.Option("--to", help="Target format: onnx, pmml or savedmodel")],
    repo: RepoOption = None,
    sample: Annotated[
        Path | None,
        typer.Option("--sample", help="Parity sample (.csv, .parquet, .npy, .npz)"),
    ] = None,
    alias: Annotated[str | None, typer.Option("--alias", help="Point this alias at it")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Publish even if the parity check fails")
    ] = False,
) -> None:
    """Convert a model, check parity against the original, publish a new version."""
    from converters.pipeline import convert_file
    from gateway.cli.report import print_conversion

    repository = open_repo(repo, must_exist=False)  # publishing creates it
    with err.status("starting", spinner="dots") as status:
        manifest = convert_file(
            repository,
            model_path,
            name,
            to,
            sample_path=sample,
            alias=alias,
            force=force,
            progress=lambda step: status.update(step),
        )
    print_conversion(out, manifest, repository.where(name, manifest.version), alias)


@models_app.command("list")
@reports_errors
def models_list(
    repo: RepoOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Every model with its versions, formats and aliases."""
    from gateway.cli.report import print_models

    repository = open_repo(repo)
    rows = []
    for name in repository.models():
        versions = repository.versions(name)
        if not versions:
            continue
        rows.append(
            {
                "name": name,
                "versions": versions,
                "formats": {v: repository.manifest(name, v).format for v in versions},
                "aliases": {a: t.to_dict() for a, t in repository.aliases(name).items()},
            }
        )
    if as_json:
        out.print_json(json.dumps(rows))
    else:
        print_models(out, rows, repository.root)


@models_app.command("show")
@reports_errors
def models_show(
    name: str,
    version: Annotated[str | None, typer.Option("--version", help="Number or alias")] = None,
    repo: RepoOption = None,
) -> None:
    """Print a version's manifest (default: the stable alias, else the latest)."""
    repository = open_repo(repo)
    resolved = repository.resolve(name, version)
    out.print_json(repository.manifest(name, resolved).to_json())


@models_app.command("verify")
@reports_errors
def models_verify(
    name: str,
    version: Annotated[str | None, typer.Option("--version", help="Number or alias")] = None,
    repo: RepoOption = None,
) -> None:
    """Check every file of a version against the sha256 in its manifest."""
    repository = open_repo(repo)
    resolved = repository.resolve(name, version)
    manifest = repository.verify(name, resolved)
    out.print(f"{name} version {resolved}: {len(manifest.files)} file(s) match their sha256")


@models_app.command("import")
@reports_errors
def models_import(
    path: Annotated[
        Path,
        typer.Argument(
            help="An artifact (.onnx, .pmml, a SavedModel dir), a dir of numbered versions "
            "(a TF Serving model_base_path, a Triton model) or a Triton model repository"
        ),
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Model name (default: the dir or file name)")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="onnx, pmml or savedmodel (default: read from the files)"),
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", help="Publish one artifact as this number")
    ] = None,
    repo: RepoOption = None,
) -> None:
    """Publish ready-made artifacts; numbered version dirs keep their numbers."""
    from gateway.control.model_dirs import import_path

    repository = open_repo(repo, must_exist=False)  # publishing creates it
    with err.status("importing", spinner="dots"):
        published = import_path(repository, path, name, fmt, version)
    for model, manifests in published.items():
        for manifest in manifests:
            where = repository.where(model, manifest.version)
            out.print(
                f"published {model} version {manifest.version} ({manifest.format}) at {where}"
            )


@models_app.command("alias")
@reports_errors
def models_alias(
    name: str,
    alias: str,
    version: int,
    repo: RepoOption = None,
) -> None:
    """Point ALIAS of model NAME at VERSION (atomically)."""
    from model_repo.aliases import AliasTarget

    repository = open_repo(repo)
    repository.set_alias(name, alias, AliasTarget(version=version))
    out.print(f"{name}:{alias} -> version {version}")


@models_app.command("delete")
@reports_errors
def models_delete(name: str, version: int, repo: RepoOption = None) -> None:
    """Delete one version (refused while an alias or a stored release points at it)."""
    repository = open_repo(repo)
    repository.delete_version(name, version)
    out.print(f"deleted {name} version {version}")


@app.command()
@reports_errors
def serve(
    repo: RepoOption = None,
    host: Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 exposes it")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    grpc_port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            envvar="MODELPORT_GRPC_PORT",  # how deploy/kserve's runtime sets KServe's 8081
            help="gRPC port (KServe V2 and TF Serving's services); 0: off",
        ),
    ] = 8001,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes sharing the port, each serving every model")
    ] = 1,
    admin_token: Annotated[
        str | None,
        typer.Option(
            envvar="MODELPORT_ADMIN_TOKEN",
            help="Bearer token for writes (generated and printed when not given)",
        ),
    ] = None,
    inference_token: Annotated[
        str | None,
        typer.Option(envvar="MODELPORT_INFERENCE_TOKEN", help="Require this token for reads"),
    ] = None,
    allow_pickle: Annotated[
        bool,
        typer.Option(
            "--allow-pickle", help="Accept uploads of pickles (.pkl, .joblib): they run code"
        ),
    ] = False,
    max_body_mib: Annotated[int, typer.Option(min=1, help="Largest request body")] = 64,
    max_upload_mib: Annotated[int, typer.Option(min=1, help="Largest model upload")] = 1024,
    poll_interval: Annotated[
        float, typer.Option(min=0, help="Seconds between looks for repository changes; 0: off")
    ] = 1.0,
    release_grace: Annotated[
        float, typer.Option(min=0, help="Seconds a replaced release revision serves pinned calls")
    ] = 10.0,
) -> None:
    """Serve every model of the repository over the V2 and TF Serving APIs (REST and gRPC)."""
    from gateway.config import MIB, ServerConfig, new_token
    from gateway.server import serve as run_server
    from model_repo.repository import Repository

    if workers > 1 and poll_interval <= 0:
        hint = "--workers"
        raise typer.BadParameter("several workers need --poll-interval above 0", param_hint=hint)
    repository = Repository(repo)
    root = repository.root
    if not repository.exists():
        err.print(
            f"warning: repository {escape(str(root))} does not exist yet; serving no model "
            "until one is published there (check --repo or MODELPORT_REPO)",
            style="yellow",
            highlight=False,
            soft_wrap=True,
        )
    if not admin_token:
        admin_token = new_token()
        print(f"admin token (generated; set MODELPORT_ADMIN_TOKEN to choose): {admin_token}")
    config = ServerConfig(
        repo_root=root,
        admin_token=admin_token,
        inference_token=inference_token or None,
        host=host,
        port=port,
        grpc_port=grpc_port,
        allow_pickle=allow_pickle,
        max_body_bytes=max_body_mib * MIB,
        max_upload_bytes=max_upload_mib * MIB,
        poll_interval=poll_interval,
        release_grace=release_grace,
    )
    run_server(config, announce=lambda line: print(line, flush=True), workers=workers)


UrlOption = Annotated[str, typer.Option("--url", help="Gateway URL, e.g. http://127.0.0.1:8000")]


@app.command()
@reports_errors
def push(
    path: Annotated[Path, typer.Argument(help="Artifact, model file or SavedModel directory")],
    name: Annotated[str, typer.Option("--name", help="Model name in the repository")],
    url: UrlOption,
    to: Annotated[
        str | None, typer.Option("--to", help="Convert on the server: onnx, pmml or savedmodel")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="MODELPORT_ADMIN_TOKEN", help="Admin token")
    ] = None,
    alias: Annotated[str | None, typer.Option("--alias", help="Point this alias at it")] = None,
) -> None:
    """Upload an artifact (or a model to convert) to a running gateway as a new version."""
    from gateway.cli.client import push_model

    manifest = push_model(url, path, name, to=to, token=token, alias=alias)
    out.print(
        f"published [bold]{manifest['name']}[/] version [bold]{manifest['version']}[/] "
        f"({manifest['format']}) on {url}"
    )


@app.command()
@reports_errors
def predict(
    name: Annotated[str, typer.Argument(help="Model name")],
    url: UrlOption,
    data: Annotated[Path, typer.Option("--data", help="Rows as .json or .csv")],
    version: Annotated[str | None, typer.Option("--version", help="Number or alias")] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="MODELPORT_INFERENCE_TOKEN", help="Inference token"),
    ] = None,
) -> None:
    """Send rows to a model on a running gateway and print its outputs as JSON."""
    from gateway.cli.client import predict_file

    out.print_json(json.dumps(predict_file(url, name, data, version=version, token=token)))


add_commands(app, models_app, reports_errors)
add_kserve(app, reports_errors)


def main() -> None:
    app()
