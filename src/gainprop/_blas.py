"""Which BLAS the compiled core's matrix products call.

By default the products go through numpy's own OpenBLAS when numpy ships one
(the scipy-openblas64 build in numpy's Linux and Windows wheels, and in its
macOS wheels for older systems): that is the library numpy's ``matmul`` and
so scikit-learn's MLP use, and it is often a newer OpenBLAS than scipy's (on
this project's machine numpy 2.4 bundles 0.3.31 and scipy 1.17 bundles 0.3.30,
whose float32 gemm is up to 30% slower on the shapes of a wide layer).  Its
64-bit-integer CBLAS functions (``scipy_cblas_sgemm64_``) are looked up in the
library numpy has already loaded; nothing is loaded that was not loaded.

Otherwise, or with ``GAINPROP_BLAS=scipy``, the products go through
``scipy.linalg.cython_blas`` (scipy's OpenBLAS, or whatever BLAS scipy was
built against).
"""

import ctypes
import os
import warnings

from . import _core

#: The CBLAS gemm pair of a scipy-openblas64 build (ILP64 by construction).
_SYMBOLS = ("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_")


def _numpy_dirs():
    import numpy

    package = os.path.dirname(os.path.realpath(numpy.__file__))
    # numpy.libs (Linux, Windows) beside the package, .dylibs inside it (macOS)
    return package + os.sep, os.path.join(os.path.dirname(package), "numpy.libs") + os.sep


def _loaded(path):
    """The already-loaded library at path (never a second copy of it)."""
    if os.name == "nt":  # LoadLibrary returns the loaded module's handle
        return ctypes.CDLL(path)
    return ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LOCAL)


def _is_ilp64(dll):
    """The library says it was built with 64-bit integers (its config string,
    as numpy.show_config reports it: "OpenBLAS 0.3.31 USE64BITINT ...")."""
    get_config = dll.scipy_openblas_get_config64_
    get_config.restype = ctypes.c_char_p
    get_config.argtypes = []
    return b"USE64BITINT" in (get_config() or b"")


def find_numpy_openblas():
    """(sgemm address, dgemm address, description) of numpy's OpenBLAS, or
    None when numpy does not ship an ILP64 OpenBLAS we can call."""
    from threadpoolctl import ThreadpoolController

    dirs = _numpy_dirs()
    for lib in ThreadpoolController().lib_controllers:
        path = os.path.realpath(lib.filepath or "")
        if lib.user_api != "blas" or not path.startswith(dirs):
            continue
        try:
            dll = _loaded(lib.filepath)
            if not _is_ilp64(dll):
                continue
            sgemm, dgemm = (ctypes.cast(getattr(dll, name), ctypes.c_void_p).value
                            for name in _SYMBOLS)
        except (OSError, AttributeError):
            continue
        if sgemm and dgemm:
            return sgemm, dgemm, f"numpy's OpenBLAS {lib.version} ({lib.filepath})"
    return None


_in_use = "scipy.linalg.cython_blas"


def configure():
    """Choose the BLAS for networks made from now on (GAINPROP_BLAS: 'numpy',
    the default, falls back to scipy's when numpy has no usable OpenBLAS;
    'scipy' forces scipy.linalg.cython_blas).  Returns its description."""
    global _in_use
    request = os.environ.get("GAINPROP_BLAS", "").strip().lower()
    if request not in ("", "numpy", "scipy"):
        warnings.warn(f"GAINPROP_BLAS={os.environ['GAINPROP_BLAS']!r} is not one of 'numpy', "
                      "'scipy'; using the default", RuntimeWarning, stacklevel=2)
        request = ""
    found = None
    if request != "scipy":
        try:
            found = find_numpy_openblas()
        except Exception as exc:  # never let the lookup break the import
            warnings.warn(f"gainprop could not look up numpy's OpenBLAS ({exc!r}); matrix "
                          "products use scipy.linalg.cython_blas", RuntimeWarning, stacklevel=2)
    if found is None:
        _core.set_ilp64_gemm(0, 0)
        _in_use = "scipy.linalg.cython_blas"
    else:
        _core.set_ilp64_gemm(found[0], found[1])
        _in_use = found[2]
    return _in_use


def blas_in_use():
    """Description of the gemm the core's matrix products call."""
    return _in_use
