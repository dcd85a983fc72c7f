"""`modelport kserve`: serve the one model KServe mounted, under the name KServe gives it.

A KServe ServingRuntime starts its container with the InferenceService's name templated
into the arguments (`--model-name={{.Name}}`) and the model copied to `/mnt/models` by the
storage initializer (deploy/kserve/servingruntime.yaml). This command puts that model into
a scratch repository (`--repo`; `control.model_mount` says how each layout is mapped), then
runs `modelport serve` on it with every other option given, so the runtime's arguments can
use all of serve's options (`--host`, `--port`, `--poll-interval`, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gateway.cli.options import RepoOption

err = Console(stderr=True)
Decorator = Callable[[Callable[..., None]], Callable[..., None]]
KSERVE_MODEL_DIR = Path("/mnt/models")
_PASS_ON = {"allow_extra_args": True, "ignore_unknown_options": True}


def add_command(app: typer.Typer, reports_errors: Decorator) -> None:
    def kserve(
        ctx: typer.Context,
        model_name: Annotated[
            str, typer.Option("--model-name", help="The model's name: KServe's {{.Name}}")
        ],
        model_dir: Annotated[
            Path, typer.Option("--model-dir", help="Where KServe mounted the model")
        ] = KSERVE_MODEL_DIR,
        fmt: Annotated[
            str | None,
            typer.Option("--format", help="onnx, pmml or savedmodel (default: from the files)"),
        ] = None,
        repo: RepoOption = None,
    ) -> None:
        """Serve the model mounted at --model-dir as --model-name (KServe); any other
        option is one of `modelport serve`'s."""
        from gateway.control.model_mount import mount_model
        from model_repo.errors import InvalidArgument
        from model_repo.repository import default_root, repo_root

        root = repo_root(repo) if repo else default_root()
        if not isinstance(root, Path):  # the mount is linked or imported into a directory
            raise InvalidArgument(
                f"--repo {root} is not a directory: modelport kserve places the mounted model "
                "in a local scratch repository (an emptyDir, say)"
            )
        mounted = mount_model(root, model_dir, model_name, fmt)
        err.print(mounted.describe(model_dir), highlight=False, soft_wrap=True)
        serve = typer.main.get_command(app)
        serve.main(["serve", "--repo", str(root), *ctx.args], prog_name="modelport")

    app.command("kserve", context_settings=_PASS_ON)(reports_errors(kserve))
