"""gainprop: fast multi-layer perceptrons with back-propagation and adaptive
per-weight learning rates.

A compiled (C + Cython, OpenMP, BLAS) core beneath drop-in replacements for
scikit-learn's ``MLPClassifier`` and ``MLPRegressor``.
"""

__version__ = "0.1.0.dev0"

import warnings as _warnings

from . import _core
from ._multilayer_perceptron import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "show_config", "__version__"]

if not _core.openmp_enabled():  # pragma: no cover - depends on the build
    _warnings.warn(
        "gainprop was built without OpenMP: its kernels run on one thread "
        "(BLAS products still use several).",
        RuntimeWarning,
        stacklevel=2,
    )


def show_config(file=None):
    """Print how this gainprop was built: version, OpenMP, BLAS in use."""
    import sys

    from threadpoolctl import threadpool_info

    out = file or sys.stdout
    print(f"gainprop {__version__}", file=out)
    print(f"  OpenMP kernels: {'yes' if _core.openmp_enabled() else 'no (serial build)'}", file=out)
    for pool in threadpool_info():
        print(
            f"  {pool.get('user_api')}: {pool.get('internal_api')} {pool.get('version')} "
            f"({pool.get('num_threads')} threads) {pool.get('filepath')}",
            file=out,
        )
