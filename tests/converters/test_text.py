"""Text models (CountVectorizer / TfidfVectorizer) through the real skl2onnx + onnxruntime
and sklearn2pmml + JPMML: the artifacts must find and count the same words as scikit-learn,
on tricky text (case, punctuation, digits, accents, empty documents)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from converters.errors import ParityFailure, UnsupportedConversion
from converters.pipeline import convert_file
from converters.sklearn_text import engine_pattern
from model_repo import Manifest, Repository
from tests.converters.agreement import (
    as_source_takes_it,
    assert_answers_like_sklearn,
    column_tensors,
    save,
    served,
)

CORPUS = [
    "The cat sat on the mat.",
    "Dogs are GREAT, dogs are loyal!",
    "Café au lait, s'il vous plaît",
    "ÉCOLE élève: naïve résumé",
    "abc123 def_456 7 88 x y",
    "hello-world foo.bar (baz)",
    "Über straße; the The THE",
    "cats and dogs and cats",
]
LABELS = [0, 1, 0, 1, 0, 1, 0, 1]
# Upper case, punctuation glued to words, digits, accents (composed), one-letter words,
# text without known words, empty documents, and documents that are a stop word ("The"),
# or a letter of "english" (skl2onnx takes stop_words="english" as those letters).
TRICKY = [
    "THE CAT!",
    "café CAFÉ Café",
    "ÉCOLE",
    "über STRASSE straße ÜBER",
    "abc123,def_456",
    "élève's résumé...",
    "x²y² 3½ 7",
    "don't",
    "",
    "   ",
    "a",
    "The the tHe",
    "cat-sat:mat",
    "dogs.are.great",
    "zzz qqq",
    "The",
    "e",
]


def _kinds() -> dict[str, Callable[[], Any]]:
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    return {
        "tfidf-lr": lambda: make_pipeline(TfidfVectorizer(), LogisticRegression()),
        "count-nb": lambda: make_pipeline(CountVectorizer(), MultinomialNB()),
        "count-case-nb": lambda: make_pipeline(CountVectorizer(lowercase=False), MultinomialNB()),
        # Bigrams; sublinear term frequencies and l1 norms; English stop words.
        "tfidf-bigram-lr": lambda: make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2)), LogisticRegression()
        ),
        "tfidf-sublinear-l1-lr": lambda: make_pipeline(
            TfidfVectorizer(sublinear_tf=True, norm="l1"), LogisticRegression()
        ),
        "tfidf-stop-lr": lambda: make_pipeline(
            TfidfVectorizer(stop_words="english"), LogisticRegression()
        ),
    }


@pytest.fixture(scope="module")
def text_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    folder = tmp_path_factory.mktemp("text-models")
    models = {}
    for name, build in _kinds().items():
        model = build().fit(CORPUS, LABELS)
        models[name] = (save(folder, model, name), model)
    return models


def _documents(texts: list[str]) -> dict[str, np.ndarray]:
    return {"input": np.asarray(texts, dtype=object).reshape(-1, 1)}


def _check_serves_like_sklearn(repo: Repository, manifest: Manifest, model: Any) -> None:
    assert [(s.name, s.datatype, s.shape) for s in manifest.signature.inputs] == [
        ("input", "BYTES", (-1, 1))
    ]
    assert_answers_like_sklearn(repo, manifest, model, _documents(TRICKY), TRICKY)
    for text in ("", "CAFÉ"):  # one document alone, even one without words
        assert_answers_like_sklearn(repo, manifest, model, _documents([text]), [text])


TARGETS = ["onnx", pytest.param("pmml", marks=pytest.mark.pmml)]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", list(_kinds()))
def test_a_text_model_converts_without_a_sample_and_serves_like_sklearn(
    tmp_path: Path, text_models: dict[str, tuple[Path, Any]], kind: str, target: str
) -> None:
    path, model = text_models[kind]
    repo = Repository(tmp_path)
    manifest = convert_file(repo, path, kind, target)
    assert manifest.parity is not None and manifest.parity.passed
    assert "input: documents of the vocabulary's terms" in manifest.parity.sample_source
    _check_serves_like_sklearn(repo, manifest, model)


@pytest.mark.parametrize("target", TARGETS)
def test_a_csv_column_of_tricky_text_is_the_parity_sample(
    tmp_path: Path, text_models: dict[str, tuple[Path, Any]], target: str
) -> None:
    path, model = text_models["tfidf-lr"]
    sample = tmp_path / "reviews.csv"
    pd.DataFrame({"review": TRICKY}).to_csv(sample, index=False)  # empty cells among them
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(repo, path, "reviews", target, sample_path=sample)
    assert manifest.parity is not None and manifest.parity.passed
    assert (manifest.parity.sample_source, manifest.parity.sample_size) == (
        "file:reviews.csv",
        len(TRICKY),
    )
    _check_serves_like_sklearn(repo, manifest, model)


def test_a_npy_of_strings_is_the_parity_sample(
    tmp_path: Path, text_models: dict[str, tuple[Path, Any]]
) -> None:
    path, _model = text_models["count-nb"]
    sample = tmp_path / "docs.npy"
    np.save(sample, np.asarray(TRICKY))  # a 1-D unicode array: no pickle needed
    manifest = convert_file(Repository(tmp_path / "repo"), path, "docs", "onnx", sample_path=sample)
    assert manifest.parity is not None and manifest.parity.passed
    assert manifest.parity.sample_size == len(TRICKY)


def _reviews() -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.DataFrame({"review": CORPUS * 3, "stars": np.arange(24) % 5 + 0.5})
    return frame, np.asarray(LABELS * 3)


@pytest.mark.parametrize("target", TARGETS)
def test_a_text_column_beside_numbers_in_a_column_transformer(tmp_path: Path, target: str) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame, labels = _reviews()
    columns = ColumnTransformer(
        [("text", TfidfVectorizer(), "review"), ("num", StandardScaler(), ["stars"])]
    )
    model = make_pipeline(columns, LogisticRegression()).fit(frame, labels)
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(repo, save(tmp_path, model), "reviews", target)
    assert manifest.parity is not None and manifest.parity.passed
    assert [(s.name, s.datatype, s.shape) for s in manifest.signature.inputs] == [
        ("review", "BYTES", (-1, 1)),
        ("stars", "FP32", (-1, 1)),
    ]
    fresh = pd.DataFrame({"review": TRICKY, "stars": np.linspace(0, 5, len(TRICKY))})
    tensors = column_tensors(fresh, ["review", "stars"])
    assert_answers_like_sklearn(repo, manifest, model, tensors, as_source_takes_it(fresh))


def test_stop_words_kept_by_an_older_scikit_learn_do_not_filter_documents(tmp_path: Path) -> None:
    """scikit-learn < 1.6 kept the words it pruned in `stop_words_`, and skl2onnx then
    filters whole documents equal to one of them (or to a letter of "english") out of the
    batch; single-word vocabularies never hold them, so the ONNX graph is made without."""
    model = _kinds()["tfidf-stop-lr"]().fit(CORPUS, LABELS)
    model[0].stop_words_ = {"loyal"}  # as a model pickled by scikit-learn 1.5
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(repo, save(tmp_path, model), "old", "onnx")
    assert manifest.parity is not None and manifest.parity.passed
    texts = [*TRICKY, "loyal", "LOYAL"]
    assert_answers_like_sklearn(repo, manifest, model, _documents(texts), texts)


def test_a_text_pipeline_is_not_told_to_refit_with_a_newer_scikit_learn(
    text_models: dict[str, tuple[Path, Any]],
) -> None:
    from converters.sklearn_common import input_specs

    _path, model = text_models["tfidf-lr"]
    assert not hasattr(model, "n_features_in_")  # it takes raw text
    assert [(s.name, s.datatype) for s in input_specs(model)] == [("input", "BYTES")]


def test_a_model_of_dicts_is_refused_with_what_modelport_takes(tmp_path: Path) -> None:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(DictVectorizer(), LogisticRegression())
    model.fit([{"a": 1.0}, {"b": 2.0}, {"a": 3.0}, {"b": 1.0}], [0, 1, 0, 1])
    repo = Repository(tmp_path / "repo")
    with pytest.raises(UnsupportedConversion) as info:
        convert_file(repo, save(tmp_path, model), "dicts", "onnx")
    message = str(info.value)
    assert "DictVectorizer, records no input columns or feature count" in message
    assert "list of documents through CountVectorizer / TfidfVectorizer" in message
    assert "refit it with scikit-learn >= 1.0" not in message
    assert repo.models() == []


def test_the_default_token_pattern_is_given_unicode_word_classes() -> None:
    assert engine_pattern(r"(?u)\b\w\w+\b") == r"[\p{L}\p{N}_]{2,}"
    assert engine_pattern(r"\w+") == r"[\p{L}\p{N}_]+"
    assert engine_pattern(r"(?u)[a-z]{3,}") == r"[a-z]{3,}"  # unknown: only the flag goes


def _refusal(tmp_path: Path, model: Any, target: str) -> str:
    model.fit(CORPUS, LABELS)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(UnsupportedConversion) as info:
        convert_file(repo, save(tmp_path, model), "refused", target)
    assert repo.models() == []
    return str(info.value)


def _vectorizer_pipeline(**settings: Any) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(**settings), LogisticRegression())


def test_character_ngrams_are_refused_naming_the_step(tmp_path: Path) -> None:
    message = _refusal(tmp_path, _vectorizer_pipeline(analyzer="char", ngram_range=(2, 3)), "onnx")
    assert message.startswith("step 'Pipeline/tfidfvectorizer' (TfidfVectorizer) has analyzer=")
    assert "refit it with analyzer='word'" in message


def test_stop_words_with_ngrams_are_refused_for_onnx(tmp_path: Path) -> None:
    model = _vectorizer_pipeline(stop_words=["the", "and"], ngram_range=(1, 2))
    message = _refusal(tmp_path, model, "onnx")
    assert "removes stop words and counts n-grams (1, 2)" in message
    assert "or convert it to pmml" in message


@pytest.mark.parametrize(
    ("target", "way_out"),
    [
        ("onnx", "or with sklearn2pmml's Splitter() or Matcher() and convert it to pmml"),
        pytest.param(
            "pmml", "or with sklearn2pmml's Splitter() or Matcher()", marks=pytest.mark.pmml
        ),
    ],
)
def test_a_custom_tokenizer_is_refused(tmp_path: Path, target: str, way_out: str) -> None:
    from converters.base import SourceModel
    from converters.registry import get_converter

    model = _vectorizer_pipeline(tokenizer=str.split, token_pattern=None).fit(CORPUS, LABELS)
    source = SourceModel("sklearn", model, tmp_path / "split.joblib", "joblib")
    converter = get_converter("sklearn", target)
    with pytest.raises(UnsupportedConversion) as info:
        converter.export(source, converter.synthesize(source, 4, 0), tmp_path)
    assert "(TfidfVectorizer) has a custom tokenizer" in str(info.value)
    assert str(info.value).endswith(way_out)
    assert not (tmp_path / f"model.{target}").exists()


GREEK = ["οδος ΟΔΟΣ καλη", "καλη μερα", "ΟΔΟΣ μερα", "μερα καλη μερα"]


@pytest.mark.parametrize("target", TARGETS)
def test_a_capital_final_sigma_is_where_onnx_lowercases_differently(
    tmp_path: Path, target: str
) -> None:
    """Python lowercases a word-final capital sigma to the final form, onnxruntime to the
    medial one: the ONNX parity check catches it rather than publishing; JPMML agrees."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(CountVectorizer(), MultinomialNB()).fit(GREEK, [0, 1, 0, 1])
    sample = tmp_path / "greek.csv"
    pd.DataFrame({"text": ["ΟΔΟΣ", "οδος", "καλη ΟΔΟΣ"]}).to_csv(sample, index=False)
    repo = Repository(tmp_path / "repo")
    path = save(tmp_path, model)
    if target == "onnx":
        with pytest.raises(ParityFailure, match="output 'probabilities'"):
            convert_file(repo, path, "greek", target, sample_path=sample)
        assert repo.models() == []
        return
    manifest = convert_file(repo, path, "greek", target, sample_path=sample)
    texts = ["ΟΔΟΣ", "οδος", "καλη ΟΔΟΣ"]
    assert_answers_like_sklearn(repo, manifest, model, _documents(texts), texts)
    assert served(repo, manifest, _documents(["ΟΔΟΣ"]))["label"].shape == (1,)
