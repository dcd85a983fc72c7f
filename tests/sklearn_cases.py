"""The scikit-learn models every sklearn converter is tested on, fitted once per session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], Any]
    data: str  # key into datasets()


def datasets() -> dict[str, tuple[Any, Any, Any]]:
    """name -> (X_train, y_train, X_fresh); fresh rows are never used for fitting."""
    from sklearn.datasets import load_iris, make_classification, make_regression

    iris = load_iris(as_frame=True)
    iris_x = iris.data.set_axis(
        ["sepal_length", "sepal_width", "petal_length", "petal_width"], axis=1
    )
    rng = np.random.default_rng(7)
    cls_x, cls_y = make_classification(400, 6, n_informative=4, n_classes=3, random_state=3)
    reg_x, reg_y = make_regression(400, 5, noise=3.0, random_state=4)
    return {
        "iris": (iris_x, iris.target, iris_x.sample(40, random_state=1) + 0.05),
        "classes": (cls_x[:300], cls_y[:300], cls_x[300:]),
        "regression": (reg_x[:300], reg_y[:300], reg_x[300:]),
        "tabular": tabular(rng, 400),
    }


def tabular(rng: np.random.Generator, rows: int) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    frame = pd.DataFrame(
        {
            "color": rng.choice(["red", "green", "blue"], rows),
            "size": rng.normal(10, 3, rows),
            "weight": rng.random(rows) * 50,
        }
    )
    label = np.where((frame["size"] > 10) ^ (frame["color"] == "red"), "yes", "no")
    cut = rows * 3 // 4
    return frame[:cut], pd.Series(label[:cut]), frame[cut:]


def cases() -> list[Case]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.svm import SVC

    def column_pipeline() -> Any:
        columns = ColumnTransformer(
            [
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["color"]),
                ("num", StandardScaler(), ["size", "weight"]),
            ]
        )
        return make_pipeline(columns, LogisticRegression(max_iter=500))

    return [
        Case("logistic", lambda: LogisticRegression(max_iter=1000), "iris"),
        Case("forest", lambda: RandomForestClassifier(20, max_depth=6, random_state=0), "classes"),
        Case(
            "histgb", lambda: HistGradientBoostingClassifier(max_iter=30, random_state=0), "classes"
        ),
        Case("svc", lambda: SVC(probability=True, random_state=0), "classes"),
        Case("knn", lambda: KNeighborsClassifier(5), "classes"),
        Case("mlp", lambda: MLPClassifier((16,), max_iter=600, random_state=0), "classes"),
        Case("ridge", lambda: Ridge(alpha=0.5), "regression"),
        Case("linear", LinearRegression, "regression"),
        Case(
            "gbr", lambda: GradientBoostingRegressor(n_estimators=30, random_state=0), "regression"
        ),
        Case("scaled", lambda: make_pipeline(StandardScaler(), LogisticRegression()), "iris"),
        Case("columns", column_pipeline, "tabular"),
    ]


def fitted(case: Case, data: dict[str, tuple[Any, Any, Any]]) -> Any:
    x, y, _ = data[case.data]
    model = case.build()
    model.fit(x, y)
    return model
