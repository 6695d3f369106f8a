"""gainprop: fast multi-layer perceptrons with back-propagation and adaptive
per-weight learning rates.

A compiled (C + Cython, OpenMP, BLAS) core beneath drop-in replacements for
scikit-learn's ``MLPClassifier`` and ``MLPRegressor``.
"""

__version__ = "0.1.0.dev0"

import os as _os
import warnings as _warnings

# Our OpenMP loops alternate with BLAS's own threads.  An OpenMP runtime whose
# idle threads keep spinning starves BLAS's threads of cores (on 2 cores it made
# full-batch training 3-10x slower); letting idle threads sleep costs a few
# microseconds per parallel region.  The runtime reads this when gainprop's
# extension loads it; a value the user set is kept.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import _blas, _core  # noqa: E402

_blas.configure()
from ._multilayer_perceptron import MLPClassifier, MLPRegressor  # noqa: E402

__all__ = ["MLPClassifier", "MLPRegressor", "show_config", "__version__"]

if not _core.openmp_enabled():  # pragma: no cover - depends on the build
    _warnings.warn(
        "gainprop was built without OpenMP: its kernels run on one thread "
        "(BLAS products still use several).",
        RuntimeWarning,
        stacklevel=2,
    )


def show_config(file=None):
    """Print how this gainprop was built: version, OpenMP, kernels, BLAS in use.

    Parameters
    ----------
    file : file-like, default=None
        Where to print; None is ``sys.stdout``.

    Examples
    --------
    >>> import gainprop
    >>> gainprop.show_config()  # doctest: +SKIP
    gainprop 0.1.0.dev0
      OpenMP kernels: yes
    ...
    """
    import sys

    from threadpoolctl import threadpool_info

    out = file or sys.stdout
    print(f"gainprop {__version__}", file=out)
    print(f"  OpenMP kernels: {'yes' if _core.openmp_enabled() else 'no (serial build)'}", file=out)
    print(f"  instruction set of the kernels: {_core.kernel_isa()}", file=out)
    print(f"  matrix products: {_blas.blas_in_use()}", file=out)
    for pool in threadpool_info():
        print(
            f"  {pool.get('user_api')}: {pool.get('internal_api')} {pool.get('version')} "
            f"({pool.get('num_threads')} threads) {pool.get('filepath')}",
            file=out,
        )
