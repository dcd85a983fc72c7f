"""The CLI on an `s3://` repository (moto's S3 server, tests/s3.py), through a subprocess:
the same commands, outputs and exit codes as on a directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.gateway.cli.test_cli import models, run
from tests.s3 import MotoS3

__all__ = ["models"]  # the module's fixture, shared


def test_convert_list_alias_verify_delete_releases(s3_root: str, models: dict[str, Path]) -> None:
    first = run("convert", models["iris"], "--name", "iris", "--to", "onnx", "--repo", s3_root)
    assert first.returncode == 0, first.stderr
    assert f"published iris version 1 (onnx) at {s3_root}/iris/1" in first.stdout.replace("\n", "")
    env = {**os.environ, "MODELPORT_REPO": s3_root}  # the variable works as --repo does
    second = run(
        "convert", models["iris"], "--name", "iris", "--to", "onnx", "--alias", "stable", env=env
    )
    assert second.returncode == 0 and "version 2" in second.stdout, second.stderr
    listed = run("models", "list", "--json", env=env)
    assert json.loads(listed.stdout) == [
        {
            "name": "iris",
            "versions": [1, 2],
            "formats": {"1": "onnx", "2": "onnx"},
            "aliases": {"stable": {"version": 2}},
        }
    ], listed.stderr
    assert s3_root in run("models", "list", "--repo", s3_root).stdout.replace("\n", "")
    assert run("models", "alias", "iris", "stable", "1", "--repo", s3_root).returncode == 0
    assert json.loads(run("models", "show", "iris", "--repo", s3_root).stdout)["version"] == 1
    verified = run("models", "verify", "iris", "--version", "2", "--repo", s3_root)
    assert verified.returncode == 0 and "match their sha256" in verified.stdout
    pinned = run("releases", "set", "r", "iris=2", "--repo", s3_root)
    assert pinned.returncode == 0, pinned.stderr
    refused = run("models", "delete", "iris", "2", "--repo", s3_root)
    assert refused.returncode == 10 and "pinned by release" in refused.stderr
    assert run("releases", "delete", "r", "--repo", s3_root).returncode == 0
    assert run("models", "delete", "iris", "2", "--repo", s3_root).returncode == 0
    assert json.loads(run("models", "list", "--json", env=env).stdout)[0]["versions"] == [1]


def test_a_missing_bucket_or_a_bad_url_is_refused(moto: MotoS3, s3_root: str) -> None:
    missing = run("models", "list", "--repo", "s3://no-such-bucket-here/models")
    assert missing.returncode == 13, missing.stderr
    assert "does not exist" in missing.stderr
    bad = run("models", "list", "--repo", "s3://Bad_Bucket")
    assert bad.returncode == 13 and "not an S3 repository URL" in bad.stderr
    no_keys = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ACCESS_KEY")}
    no_keys.update(AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_CONFIG_FILE="/nonexistent")
    anonymous = run("models", "list", "--repo", s3_root, env=no_keys)
    assert anonymous.returncode == 13, anonymous.stderr
    assert "no AWS credentials" in anonymous.stderr
