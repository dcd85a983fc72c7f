"""Which of the ONNX project's backend test models does modelport accept as uploads?

Scans every `*.onnx` under the installed onnx package's `backend/test/data`, keeps those
onnxruntime refuses to open as they are, imports each into a scratch repository the way an
upload is imported (`gateway.control.artifacts.import_artifact`: rewrite if needed, check,
publish), and prints one line per model plus the counts, grouped by the reason for the rest:

    .venv/bin/python -m bench.onnx_backend_scan [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any


def backend_models() -> list[Path]:
    import onnx

    data = Path(onnx.__file__).parent / "backend" / "test" / "data"
    return sorted(data.rglob("*.onnx"))


def refused_as_is(path: Path) -> str | None:
    """onnxruntime's first line of refusal, or None when it opens the file unchanged."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own error types
        return (str(exc).splitlines() or [type(exc).__name__])[0]
    return None


def try_upload(path: Path, root: Path) -> dict[str, Any]:
    from gateway.control.artifacts import import_artifact
    from model_repo.repository import Repository

    name = path.parent.name.replace("test_", "").lower()[:60] or "model"
    try:
        manifest = import_artifact(Repository(root), path, name, "onnx", source_name=path.name)
    except Exception as exc:  # every refusal is a modelport error naming its reason
        return {"accepted": False, "error": type(exc).__name__, "reason": str(exc)}
    parity = manifest.parity
    errors = [o.max_abs_error for o in parity.outputs.values()] if parity else [0.0]
    served = root / name / str(manifest.version) / manifest.artifact
    return {
        "accepted": True,
        "converter": manifest.provenance.converter,
        "max_abs_error": max(errors),
        "max_rel_error": max(o.max_rel_error for o in parity.outputs.values()) if parity else 0,
        "sample_size": parity.sample_size if parity else None,
        "vs_onnx_expected": against_expected(path.parent, served),
    }


def against_expected(test_dir: Path, served: Path) -> float | None:
    """The max abs difference between what the published artifact answers on the backend
    test's own inputs and the outputs the ONNX project recorded for them (None: no data)."""
    import numpy as np
    from onnx import TensorProto, numpy_helper

    from model_repo.formats.onnx import FORMAT

    data = test_dir / "test_data_set_0"
    if not data.is_dir():
        return None

    def read(file: Path) -> tuple[str, np.ndarray]:
        tensor = TensorProto()
        tensor.ParseFromString(file.read_bytes())
        return tensor.name, numpy_helper.to_array(tensor)

    signature = FORMAT.describe(served)
    inputs = [read(f)[1] for f in sorted(data.glob("input_*.pb"))]
    expected = [read(f)[1] for f in sorted(data.glob("output_*.pb"))]
    predictor = FORMAT.open(served, signature)
    try:
        got = predictor.predict(dict(zip(signature.input_names, inputs, strict=False)))
    finally:
        predictor.close()
    worst = 0.0
    for want, have in zip(expected, got.values(), strict=True):
        if want.dtype.kind in "OSU":
            worst = max(worst, float(np.any(want.astype(str) != np.asarray(have).astype(str))))
        else:
            worst = max(worst, float(np.max(np.abs(want - have), initial=0.0)))
    return worst


def scan() -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="onnx-scan-") as tmp:
        for path in backend_models():
            refusal = refused_as_is(path)
            if refusal is None:
                continue
            entry = {"model": str(path.relative_to(path.parents[2])), "refusal": refusal}
            results.append({**entry, **try_upload(path, Path(tmp) / "repo")})
    return results


def summary(results: list[dict[str, Any]]) -> str:
    accepted = [r for r in results if r["accepted"]]
    lines = [f"{len(results)} backend models refused by onnxruntime as they are"]
    lines.append(f"{len(accepted)} accepted as uploads after modelport's checked rewrite:")
    for converter, count in sorted(Counter(r["converter"] for r in accepted).items()):
        mine = [r for r in accepted if r["converter"] == converter]
        worst = max(r["max_abs_error"] for r in mine)
        known = [r["vs_onnx_expected"] for r in mine if r["vs_onnx_expected"] is not None]
        lines.append(
            f"  {count:3d} by {converter}: max abs error of the check {worst:.3g}; against the "
            f"ONNX project's expected outputs ({len(known)} with test data) "
            f"{max(known, default=0.0):.3g}"
        )
    lines.append(f"{len(results) - len(accepted)} still refused:")
    for result in results:
        if not result["accepted"]:
            lines.append(f"  {result['model']}: {result['error']}: {result['reason'][:160]}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    args = parser.parse_args()
    results = scan()
    for result in results:
        verdict = result["converter"] if result["accepted"] else f"refused ({result['error']})"
        print(f"{result['model']}: {verdict}")
    print(summary(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
