"""Text in scikit-learn models: CountVectorizer and TfidfVectorizer, in ONNX and in PMML.

Which inputs are text is the contract's business (`sklearn_common.text_inputs`); this module
makes both formats split and count the words exactly as scikit-learn does.

Tokens. scikit-learn finds tokens with a Python regex, in which `\\w` is any Unicode letter,
digit or underscore. onnxruntime's Tokenizer (RE2) and JPMML (java.util.regex) read `\\w` as
ASCII only, so "café" would become "caf". The common patterns are therefore handed to both
engines as `[\\p{L}\\p{N}_]`, which matches exactly the characters Python's `\\w` matches
(checked over every code point: they differ only on code points Python's Unicode database
leaves unassigned): the default `(?u)\\b\\w\\w+\\b` becomes `[\\p{L}\\p{N}_]{2,}` (a maximal run of
two or more word characters is what the `\\b`s select). Other patterns go to the engines as
they are; the parity check is the judge.

Lower case. scikit-learn lowercases with `str.lower`. JPMML's `lowercase` (Java's) agrees.
onnxruntime's StringNormalizer lowercases one character at a time in a C locale, here
`C.UTF-8` (its default, en_US.UTF-8, is missing from most containers): it agrees except for
U+0130 (dotted capital I, which Python turns into two characters) and a capital sigma ending
a word (Python writes the final form U+03C2, onnxruntime U+03C3). An ONNX artifact needs
the C.UTF-8 locale where it is served (glibc has it built in since 2.35; Debian and Ubuntu
ship it).

What each format refuses, before converting, is in `check_vectorizers`.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import numpy as np

from converters.errors import UnsupportedConversion
from converters.sklearn_common import is_vectorizer, iter_steps

ONNX_LOCALE = "C.UTF-8"
_WORD = r"[\p{L}\p{N}_]"  # exactly Python's \w, in RE2 and in Java
_TRANSLATED = {
    r"(?u)\b\w\w+\b": _WORD + "{2,}",  # scikit-learn's default
    r"\b\w\w+\b": _WORD + "{2,}",
    r"\w\w+": _WORD + "{2,}",
    r"(?u)\b\w+\b": _WORD + "+",
    r"\b\w+\b": _WORD + "+",
    r"(?u)\w+": _WORD + "+",
    r"\w+": _WORD + "+",  # sklearn2pmml's Matcher default
}


def engine_pattern(pattern: str) -> str:
    """`pattern` (Python's dialect) for RE2 and Java: translated when known, else as it is
    without the `(?u)` flag (Unicode is Python's default for text; RE2 refuses the flag)."""
    return _TRANSLATED.get(pattern, pattern.removeprefix("(?u)"))


def vectorizers(model: Any) -> list[tuple[str, Any]]:
    return [(path, step) for path, step in iter_steps(model) if is_vectorizer(step)]


# ---- what each format refuses ---------------------------------------------------------------


def check_vectorizers(model: Any, target: str) -> None:
    """Raise UnsupportedConversion naming the first vectorizer setting `target` cannot
    reproduce, and what to do instead."""
    for path, vectorizer in vectorizers(model):
        problem = _problem(vectorizer, target)
        if problem:
            name = type(vectorizer).__name__
            raise UnsupportedConversion(f"step {path!r} ({name}) {problem}")


def _problem(vectorizer: Any, target: str) -> str | None:
    if vectorizer.analyzer != "word":
        return (
            f"has analyzer={vectorizer.analyzer!r}: only word tokens convert, to every "
            "format (character n-grams do not); refit it with analyzer='word'"
        )
    if vectorizer.preprocessor is not None or vectorizer.strip_accents is not None:
        return (
            "has a preprocessor or strip_accents, Python code no format can hold; refit it "
            "with both None and prepare the text before the model"
        )
    if vectorizer.tokenizer is not None and target == "onnx":
        return (
            "has a custom tokenizer, Python code ONNX cannot hold; refit it with a "
            "token_pattern, or with sklearn2pmml's Splitter() or Matcher() and convert it "
            "to pmml"
        )
    if vectorizer.tokenizer is not None and not _pmml_tokenizer(vectorizer):
        return (
            "has a custom tokenizer, Python code PMML cannot hold; refit it with a "
            "token_pattern, or with sklearn2pmml's Splitter() or Matcher()"
        )
    return _onnx_stop_words_problem(vectorizer) if target == "onnx" else None


def _pmml_tokenizer(vectorizer: Any) -> bool:
    cls = type(vectorizer.tokenizer)
    return cls.__module__ == "sklearn2pmml.feature_extraction.text" and cls.__name__ in (
        "Splitter",
        "Matcher",
    )


def _onnx_stop_words_problem(vectorizer: Any) -> str | None:
    """skl2onnx removes no stop words from the tokens: with scikit-learn >= 1.6 it finds
    none, and from a model that kept `stop_words_` (older scikit-learn) it filters whole
    documents equal to one out of the batch (see `without_stop_words`). With single words
    that changes nothing (stop words never enter the vocabulary), with n-grams it changes
    which words are neighbours; sklearn2pmml removes them as scikit-learn does."""
    stop_words = vectorizer.get_stop_words() or frozenset()
    if not stop_words:
        return None
    if tuple(vectorizer.ngram_range) != (1, 1):
        return (
            f"removes stop words and counts n-grams {tuple(vectorizer.ngram_range)}, which "
            "skl2onnx cannot reproduce; refit it with stop_words=None or ngram_range=(1, 1), "
            "or convert it to pmml"
        )
    kept = sorted(set(stop_words) & set(vectorizer.vocabulary_))[:3]
    if kept:
        return (
            f"has stop words in its fixed vocabulary ({', '.join(kept)}), which skl2onnx "
            "would count; take them out of the vocabulary or the stop words"
        )
    return None


# ---- ONNX -------------------------------------------------------------------------------------


def onnx_options(model: Any) -> dict[int, dict[str, Any]]:
    """skl2onnx options per vectorizer: the translated token pattern, the C.UTF-8 locale."""
    return {
        id(vectorizer): {
            "tokenexp": engine_pattern(vectorizer.token_pattern),
            "locale": ONNX_LOCALE,
        }
        for _path, vectorizer in vectorizers(model)
    }


def without_stop_words(model: Any) -> Any:
    """A copy of `model` whose vectorizers keep no stop words, or `model` itself: given the
    `stop_words_` of an older scikit-learn (and then stop_words="english" read as the
    letters e, n, g ...), skl2onnx would drop the documents equal to one from the batch. For
    single words, the only case `check_vectorizers` lets through, they change nothing."""
    if not any(v.get_stop_words() for _p, v in vectorizers(model)):
        return model
    model = copy.deepcopy(model)
    for _path, vectorizer in vectorizers(model):
        vectorizer.stop_words = None
        if hasattr(vectorizer, "stop_words_"):  # scikit-learn < 1.6 kept the pruned words
            del vectorizer.stop_words_
    return model


def repair_sublinear_tf(graph: Any, model: Any) -> None:
    """skl2onnx writes a sublinear term frequency as log(1 + tf); scikit-learn's is
    1 + log(tf), and 0 where tf is 0. Rewrite each `Log(Add(tf, ones))` of the graph of a
    model with sublinear_tf into `Where(tf > 0, Add(Log(tf), ones), 0)`."""
    if not any(getattr(step, "sublinear_tf", False) for _p, step in iter_steps(model)):
        return
    from onnx import TensorProto, helper, numpy_helper

    ones = {i.name for i in graph.graph.initializer if np.all(numpy_helper.to_array(i) == 1.0)}
    nodes = list(graph.graph.node)
    produced_by = {out: node for node in nodes for out in node.output}
    for log in [n for n in nodes if n.op_type == "Log"]:
        add = produced_by.get(log.input[0])
        if add is None or add.op_type != "Add" or add.input[1] not in ones:
            continue
        tf, result = add.input[0], log.output[0]
        zero = f"{result}_zero"
        graph.graph.initializer.append(helper.make_tensor(zero, TensorProto.FLOAT, [], [0.0]))
        log.input[0], log.output[0] = tf, f"{result}_log_tf"
        add.input[0], add.output[0] = log.output[0], f"{result}_1_plus_log_tf"
        where = [
            helper.make_node("Greater", [tf, zero], [f"{result}_counted"]),
            helper.make_node("Where", [f"{result}_counted", add.output[0], zero], [result]),
        ]
        nodes = _reordered(nodes, log, add, where)
    del graph.graph.node[:]
    graph.graph.node.extend(nodes)


def _reordered(nodes: list[Any], log: Any, add: Any, after: list[Any]) -> list[Any]:
    """`log` moved before `add`, and the `after` nodes right behind them (the graph's
    nodes must stay in topological order)."""
    nodes = [n for n in nodes if n is not log]
    at = next(i for i, n in enumerate(nodes) if n is add)
    return [*nodes[:at], log, add, *after, *nodes[at + 1 :]]


# ---- PMML ------------------------------------------------------------------------------------


def translate_for_pmml(model: Any) -> None:
    """Give the vectorizers of `model` (a copy) their token patterns in Java's dialect."""
    for _path, vectorizer in vectorizers(model):
        if vectorizer.tokenizer is None:
            vectorizer.token_pattern = engine_pattern(vectorizer.token_pattern)
        elif type(vectorizer.tokenizer).__name__ == "Matcher":
            vectorizer.tokenizer.word_re = engine_pattern(vectorizer.tokenizer.word_re)


_TEXT_INDEX = re.compile(r"<TextIndex (?![^>]*isCaseSensitive)")
_NORM = re.compile(r'<DerivedField name="(norm\(l[12]\)[^"]*)"[^>]*>.*?</DerivedField>', re.DOTALL)


def fix_pmml_document(path: Path) -> None:
    """Two repairs of sklearn2pmml's text encoding, so JPMML counts like scikit-learn:
    - terms are matched case-sensitively (PMML's default ignores case, so "The" would count
      as "the" for a vectorizer with lowercase=False);
    - a document without known words has norm 0, and JPMML's 0/0 is an invalid value where
      scikit-learn leaves the zero vector: the norm of such a document is taken as 1."""
    text = path.read_text(encoding="utf-8")
    fixed = _NORM.sub(_guarded_norm, _TEXT_INDEX.sub('<TextIndex isCaseSensitive="true" ', text))
    if fixed != text:
        path.write_text(fixed, encoding="utf-8")


def _guarded_norm(match: re.Match[str]) -> str:
    name = match.group(1)
    raw = f"{name}/raw"
    return (
        match.group(0).replace(f'name="{name}"', f'name="{raw}"', 1)
        + f'<DerivedField name="{name}" optype="continuous" dataType="double">'
        + '<Apply function="if"><Apply function="greaterThan">'
        + f'<FieldRef field="{raw}"/><Constant dataType="double">0</Constant></Apply>'
        + f'<FieldRef field="{raw}"/><Constant dataType="double">1</Constant>'
        + "</Apply></DerivedField>"
    )


# ---- synthetic documents -----------------------------------------------------------------------

# Separators with punctuation, and words no vocabulary is likely to hold: accents, digits,
# one-letter words (below the default pattern's two), underscores.
_SEPARATORS = (" ", " ", " ", ", ", ". ", "! ", "? ", " - ", "; ", " (", ") ", "'s ", '"', "\n")
_UNKNOWN = ("zqxj", "Überquert", "ñandú", "x", "7", "2024", "naïveté", "oov_word", "ÉTÉ", "q9")


def documents(vectorizer: Any, rng: np.random.Generator, rows: int) -> np.ndarray:
    """`rows` documents [rows, 1] of the vectorizer's own terms (in lower, upper and title
    case when it lowercases), unknown words and punctuation; some are empty."""
    terms = sorted(vectorizer.vocabulary_)
    cased = bool(vectorizer.lowercase)
    docs = []
    for _ in range(rows):
        count = int(rng.integers(0, 12))
        words = [_word(terms, rng, cased) for _ in range(count)]
        separators = rng.choice(np.asarray(_SEPARATORS, dtype=object), count)
        docs.append("".join(w + s for w, s in zip(words, separators, strict=True)).strip())
    return np.asarray(docs, dtype=object).reshape(-1, 1)


def _word(terms: list[str], rng: np.random.Generator, cased: bool) -> str:
    if not terms or rng.random() < 0.15:
        return str(rng.choice(np.asarray(_UNKNOWN, dtype=object)))
    term = terms[int(rng.integers(len(terms)))]
    if not cased:
        return term
    return (term, term, term.upper(), term.title())[int(rng.integers(4))]
