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

The kernels run every product on one BLAS thread (their own threads run the
blocks of a large product); when the library in use is an OpenBLAS, its
thread-count functions are handed to the core, which holds it at one thread
while any kernel runs (gainprop._runtime).
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


def _address(dll, name):
    return ctypes.cast(getattr(dll, name), ctypes.c_void_p).value


def _blas_libraries(dirs):
    """threadpoolctl's BLAS controllers of the libraries loaded from dirs."""
    from threadpoolctl import ThreadpoolController

    for lib in ThreadpoolController().lib_controllers:
        path = os.path.realpath(lib.filepath or "")
        if lib.user_api == "blas" and path.startswith(dirs):
            yield lib


def thread_functions(dll):
    """(get, set) addresses of an OpenBLAS's openblas_get_num_threads and
    openblas_set_num_threads (whatever prefix and suffix its build gave
    them), or None."""
    for prefix in ("scipy_", ""):
        for suffix in ("64_", "_64", ""):
            try:
                return (_address(dll, f"{prefix}openblas_get_num_threads{suffix}"),
                        _address(dll, f"{prefix}openblas_set_num_threads{suffix}"))
            except AttributeError:
                continue
    return None


def find_numpy_openblas():
    """(sgemm address, dgemm address, description, thread functions) of
    numpy's OpenBLAS, or None when numpy does not ship an ILP64 OpenBLAS we
    can call."""
    for lib in _blas_libraries(_numpy_dirs()):
        try:
            dll = _loaded(lib.filepath)
            if not _is_ilp64(dll):
                continue
            sgemm, dgemm = (_address(dll, name) for name in _SYMBOLS)
            threads = thread_functions(dll)
        except (OSError, AttributeError):
            continue
        if sgemm and dgemm:
            return sgemm, dgemm, f"numpy's OpenBLAS {lib.version} ({lib.filepath})", threads
    return None


def find_scipy_openblas_threads():
    """The thread functions of scipy's BLAS when it is an OpenBLAS (the one
    scipy.linalg.cython_blas calls), else None."""
    import scipy

    package = os.path.dirname(os.path.realpath(scipy.__file__))
    dirs = (package + os.sep, os.path.join(os.path.dirname(package), "scipy.libs") + os.sep)
    for lib in _blas_libraries(dirs):
        if lib.internal_api != "openblas":
            continue
        try:
            found = thread_functions(_loaded(lib.filepath))
        except OSError:
            continue
        if found:
            return found
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
        try:
            threads = find_scipy_openblas_threads()
        except Exception:  # never let the lookup break the import
            threads = None
    else:
        _core.set_ilp64_gemm(found[0], found[1])
        _in_use, threads = found[2], found[3]
    _core.set_blas_threads(*(threads or (0, 0)))
    return _in_use


def blas_in_use():
    """Description of the gemm the core's matrix products call."""
    return _in_use
