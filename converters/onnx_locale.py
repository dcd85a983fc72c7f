"""StringNormalizer locales: onnxruntime refuses a model whose case change needs a locale the
machine lacks.

onnxruntime's StringNormalizer builds a C++ `std::locale` for LOWER/UPPER (named by the node's
`locale` attribute, `en_US.UTF-8` when it has none) while the session starts; on a minimal
machine or container without that locale (Debian slim has only C, C.UTF-8 and POSIX) the
session fails with "Failed to construct locale with name:en_US.UTF-8". glibc's C.UTF-8 has
the same Unicode case tables as every English locale (both take LC_CTYPE from `i18n_ctype`),
so for an English locale that is missing the node is pointed at C.UTF-8, and the manifest
says so. A non-English locale is refused instead: Turkish, say, upper-cases `i` to `İ`, which
C.UTF-8 does not, so the way out is to install the locale (the Docker image has en_US.UTF-8).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from model_repo.errors import ArtifactError

DEFAULT_LOCALE = "en_US.UTF-8"  # onnxruntime's on Linux and macOS when the node names none
FALLBACK_LOCALE = "C.UTF-8"
_CASE_CHANGES = (b"LOWER", b"UPPER")  # NONE builds no locale
_ENGLISH = re.compile(r"^en([_-]|$)", re.IGNORECASE)
INSTALL_HINT = (
    "install the locale where modelport runs (Debian/Ubuntu: apt-get install locales, "
    "uncomment it in /etc/locale.gen, run locale-gen; the Docker image has en_US.UTF-8)"
)


def point_at_available_locales(model: Any, source: str) -> dict[str, Any] | None:
    """Point the case-changing StringNormalizer nodes of `model` (an onnx.ModelProto,
    changed in place) whose locale this machine lacks at C.UTF-8; what was changed, for
    the manifest, or None when every locale they need is here."""
    missing = [
        (index, node, _locale_of(node))
        for index, node in _case_changing_normalizers(model)
        if not runtime_has_locale(_locale_of(node))
    ]
    if not missing:
        return None
    for _index, node, name in missing:
        _check_replaceable(node, name, source)
    if not runtime_has_locale(FALLBACK_LOCALE):
        raise ArtifactError(
            f"{source}: its StringNormalizer needs locale {missing[0][2]}, which this machine "
            f"lacks, and {FALLBACK_LOCALE} is missing too; {INSTALL_HINT}"
        )
    for _index, node, _name in missing:
        _set_locale(node, FALLBACK_LOCALE)
    return {
        "from": sorted({name for _i, _node, name in missing}),
        "to": FALLBACK_LOCALE,
        "nodes": [node.name or f"node {index}" for index, node, _name in missing],
    }


def _case_changing_normalizers(model: Any) -> list[tuple[int, Any]]:
    found = []
    for index, node in enumerate(model.graph.node):
        if node.op_type != "StringNormalizer" or node.domain not in ("", "ai.onnx"):
            continue
        action = _attribute(node, "case_change_action")
        if action is not None and action.s in _CASE_CHANGES:
            found.append((index, node))
    return found


def stopwords(model: Any) -> list[str]:
    """The stopwords of every StringNormalizer in `model`: words a text sample should hold,
    so that a check exercises their removal."""
    words: list[str] = []
    for node in model.graph.node:
        attribute = _attribute(node, "stopwords") if node.op_type == "StringNormalizer" else None
        words += [w.decode() for w in attribute.strings] if attribute is not None else []
    return words


def _attribute(node: Any, name: str) -> Any:
    return next((a for a in node.attribute if a.name == name), None)


def _locale_of(node: Any) -> str:
    attribute = _attribute(node, "locale")
    return DEFAULT_LOCALE if attribute is None or not attribute.s else attribute.s.decode()


def _check_replaceable(node: Any, name: str, source: str) -> None:
    if not _ENGLISH.match(name):
        raise ArtifactError(
            f"{source}: StringNormalizer node {node.name or '(unnamed)'!r} changes case in "
            f"locale {name}, which this machine lacks; modelport replaces only a missing "
            f"English locale (by {FALLBACK_LOCALE}, which has the same case tables), since "
            f"other languages map some letters differently; {INSTALL_HINT}"
        )


def _set_locale(node: Any, name: str) -> None:
    from onnx import helper

    kept = [a for a in node.attribute if a.name != "locale"]
    del node.attribute[:]
    node.attribute.extend([*kept, helper.make_attribute("locale", name)])


@functools.cache
def runtime_has_locale(name: str) -> bool:
    """Whether onnxruntime's StringNormalizer can build `name` here: asked of onnxruntime
    itself, on a one-node model, since its C++ locale lookup is what fails."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    node = helper.make_node(
        "StringNormalizer", ["x"], ["y"], case_change_action="UPPER", locale=name
    )
    text = [helper.make_tensor_value_info(n, TensorProto.STRING, [None]) for n in ("x", "y")]
    graph = helper.make_graph([node], "locale_probe", text[:1], text[1:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)])
    options = ort.SessionOptions()
    options.log_severity_level = 4  # a missing locale is an answer here, not an error to log
    try:
        ort.InferenceSession(
            model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception:  # onnxruntime's Fail: the locale cannot be constructed
        return False
    return True
