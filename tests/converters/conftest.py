from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.sklearn_cases import cases, datasets, fitted


@pytest.fixture(scope="session")
def sklearn_data() -> dict[str, tuple[Any, Any, Any]]:
    return datasets()


@pytest.fixture(scope="session")
def sklearn_files(
    tmp_path_factory: pytest.TempPathFactory, sklearn_data: dict[str, tuple[Any, Any, Any]]
) -> dict[str, tuple[Path, Any]]:
    """Each test model fitted and saved with skops, as a user would hand it to us."""
    import skops.io

    folder = tmp_path_factory.mktemp("sklearn-models")
    files = {}
    for case in cases():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings of tiny training runs
            model = fitted(case, sklearn_data)
        path = folder / f"{case.name}.skops"
        skops.io.dump(model, path)
        files[case.name] = (path, model)
    return files
