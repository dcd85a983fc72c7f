"""Every error the gateway can meet becomes one status and an {"error": ...} body."""

from __future__ import annotations

import pytest

from converters.errors import ModelLoadError, ParityFailure, UnsupportedConversion
from gateway.errors import translate
from model_repo import errors as repo
from model_repo.manifest import ParityReport, Tolerance

REPORT = ParityReport(False, False, Tolerance(1e-5, 1e-5), "file:s.csv", 10, {})


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (repo.NotFound("x"), 404),
        (repo.Conflict("x"), 409),
        (repo.InvalidArgument("x"), 400),
        (repo.ArtifactError("x"), 422),
        (ModelLoadError("x"), 422),
        (UnsupportedConversion("x"), 422),
        (repo.DependencyMissing("x"), 503),
        (repo.IntegrityError("x"), 503),
        (repo.NotWritable("x"), 503),
        (repo.RepositoryError("x"), 503),  # a corrupt aliases.json, config.json ...
        (RuntimeError("x"), 500),
    ],
)
def test_translation(error: Exception, status: int) -> None:
    translated = translate(error)
    assert translated.status == status
    assert set(translated.body()) == {"error"}


def test_a_parity_failure_carries_its_report() -> None:
    body = translate(ParityFailure("parity check failed", REPORT)).body()
    assert body["error"] == "parity check failed"
    assert body["parity"]["passed"] is False and body["parity"]["sample_size"] == 10


def test_a_corrupt_stored_file_is_named_not_hidden_as_an_internal_error() -> None:
    message = "alias file /r/m/aliases.json is corrupt: not valid JSON"
    assert translate(repo.RepositoryError(message)).body() == {"error": message}


def test_an_internal_error_hides_its_message() -> None:
    body = translate(KeyError("secret path /x/y")).body()
    assert "secret" not in body["error"] and "KeyError" in body["error"]
