"""An inference request and its result as the DataPlane sees them: no HTTP, no JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gateway.serving.tensors import RequestTensor


@dataclass(slots=True)
class InferenceRequest:
    inputs: list[RequestTensor]
    outputs: list[str] | None = None  # None: every output, in signature order
    id: str | None = None


@dataclass(slots=True)
class InferenceResult:
    model_name: str
    model_version: int
    outputs: dict[str, np.ndarray]  # in the order asked for
    datatypes: Mapping[str, str]  # output name -> V2 datatype, from the manifest
    id: str | None = None
