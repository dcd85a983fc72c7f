"""Which types a `.skops` file may hold beyond the ones skops trusts by itself.

skops refuses to load any type it does not trust by default and names them
(`get_untrusted_types`). Trusting whole packages would be too broad: `builtins.eval` or
`builtins.exec` as a FunctionTransformer's `func`, or any class from `collections` or from a
scipy or numpy module that runs code, would then load and run at predict time. So only the
types below are trusted, each named exactly: scikit-learn's own fitted internals (tree
structures, neighbour indexes, distance metrics, optimiser state, GP kernels), the scipy
B-splines SplineTransformer keeps, numpy's dtype, and the four XGBoost and LightGBM wrappers
modelport converts with their Booster (whose state is the booster's own model bytes or text,
parsed by the library, never code) and the OrderedDict LightGBM uses as a `defaultdict`
factory. Whatever else is refused by name.
"""

from __future__ import annotations

from collections.abc import Iterable

# Distance metrics the neighbour indexes pickle (32- and 64-bit variants). PyFuncDistance,
# which holds an arbitrary Python function, is left out on purpose.
_METRICS = (
    "BrayCurtis",
    "Canberra",
    "Chebyshev",
    "Dice",
    "Euclidean",
    "Hamming",
    "Haversine",
    "Jaccard",
    "Kulsinski",
    "Mahalanobis",
    "Manhattan",
    "Matching",
    "Minkowski",
    "RogersTanimoto",
    "RussellRao",
    "SEuclidean",
    "SokalMichener",
    "SokalSneath",
)
_KERNELS = (
    "CompoundKernel",
    "ConstantKernel",
    "DotProduct",
    "ExpSineSquared",
    "Exponentiation",
    "Matern",
    "PairwiseKernel",
    "Product",
    "RBF",
    "RationalQuadratic",
    "Sum",
    "WhiteKernel",
)
TRUSTED_TYPES = frozenset(
    {
        "numpy.dtype",
        # XGBoost's and LightGBM's scikit-learn wrappers (converters.boosters).
        "collections.OrderedDict",
        "xgboost.core.Booster",
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn.utils._bunch.Bunch",
        # SplineTransformer keeps scipy B-splines, which keep the array-API `asarray`.
        "scipy.interpolate._bsplines.BSpline",
        "scipy._lib.array_api_compat.numpy._aliases.asarray",
        *(
            f"sklearn.metrics._dist_metrics.{m}Distance{bits}"
            for m in _METRICS
            for bits in (32, 64)
        ),
        *(f"sklearn.gaussian_process.kernels.{kernel}" for kernel in _KERNELS),
    }
)


def refused_types(untrusted: Iterable[str]) -> list[str]:
    """The types skops reported as untrusted that modelport does not trust either."""
    return sorted(t for t in set(untrusted) if t not in TRUSTED_TYPES)
