"""What model names and version numbers may look like on disk and in requests."""

from __future__ import annotations

import re

from model_repo.errors import InvalidArgument

MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# ASCII only: str.isdigit() also accepts "²" or "٣", which int() then refuses or misreads.
_VERSION_PATTERN = re.compile(r"[0-9]+")


def check_model_name(name: str) -> str:
    if not MODEL_NAME_PATTERN.match(name) or ".." in name:
        raise InvalidArgument(
            f"model name {name!r} is not valid: use 1-128 of [A-Za-z0-9_.-], "
            "starting with a letter or digit"
        )
    return name


def is_version_number(text: str) -> bool:
    """True for a decimal version number written in ASCII digits."""
    return _VERSION_PATTERN.fullmatch(text) is not None
