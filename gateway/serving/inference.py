"""An inference request and its result as the DataPlane sees them: no HTTP, no JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gateway.serving.tensors import RequestTensor
from gateway.serving.tf_example import Examples


@dataclass(slots=True)
class InferenceRequest:
    inputs: list[RequestTensor]
    outputs: list[str] | None = None  # None: every output, in signature order
    id: str | None = None
    # TF Serving's requests name a signature of the version (V2's leave it None: they go to
    # the manifest's signature), and classify / regress ones carry tf.Examples, no inputs.
    signature: str | None = None
    method: str | None = None  # CLASSIFY_METHOD or REGRESS_METHOD; None: predict
    examples: Examples | None = None


@dataclass(slots=True)
class InferenceResult:
    model_name: str
    model_version: int
    outputs: dict[str, np.ndarray]  # in the order asked for
    datatypes: Mapping[str, str]  # output name -> V2 datatype, from the manifest
    id: str | None = None
