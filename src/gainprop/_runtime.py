"""Threads: how many the kernels use, BLAS's while they run, and fork.

- ``n_threads``: the threads of the kernels' OpenMP loops for a requested
  count (None: every CPU available to the process, or ``OMP_NUM_THREADS``),
  never more than the CPUs available (libgomp ends the process when it cannot
  start a thread, so an absurd count is capped here, with a warning).
- BLAS: the kernels run every matrix product on one BLAS thread (their own
  threads run the blocks of a large product, so results do not depend on the
  thread count).  When the BLAS in use is an OpenBLAS, the C core holds it at
  one thread itself while any kernel runs, from whichever Python thread
  (gainprop._blas hands it the library's thread functions).  For another
  BLAS, ``blas_guard`` limits it through threadpoolctl around each call,
  which threadpoolctl lets only one Python thread do for a process-wide
  pool: results are then bit-identical for fits from that thread.
- fork: in a process forked after the kernels ran their OpenMP threads the
  C core runs serially (the OpenMP runtime's pool does not survive a fork);
  the first call there warns once.  The locks of this module and every
  estimator's ModelLock are made anew in the child: the threads that held
  them are not there.  An estimator that another thread was fitting at the
  fork may be half-written in the child, and refuses to be used there.
"""

import contextlib
import os
import threading
import warnings
import weakref

from threadpoolctl import ThreadpoolController

from . import _core

_warned = set()
_warn_lock = threading.Lock()


def _warn_once(key, message, category=UserWarning):
    with _warn_lock:
        if key in _warned:
            return
        _warned.add(key)
    warnings.warn(message, category, stacklevel=4)


def available_cpus():
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


_cpus = available_cpus()  # read once: predictions ask for it on every call


def n_threads(requested):
    """Threads for the kernels' OpenMP loops: `requested`, or all usable
    CPUs (honouring OMP_NUM_THREADS) when None; at most the CPUs available,
    and 1 in a process forked after the kernels ran threads."""
    if _core.serial_after_fork():
        _warn_once("fork", "gainprop: this process was forked after gainprop ran its OpenMP "
                   "threads, so its kernels run on one thread here (the OpenMP runtime's thread "
                   "pool does not survive fork). Use the 'spawn' or 'forkserver' start method "
                   "of multiprocessing to keep them multi-threaded.", RuntimeWarning)
        return 1
    cpus = _cpus
    if requested is None:
        env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
        requested = int(env) if env.isdigit() and int(env) > 0 else cpus
    requested = max(1, int(requested))
    if requested > cpus:
        _warn_once(("cap", requested), f"n_threads={requested} is more than the {cpus} CPUs "
                   f"available to this process; gainprop uses {cpus}.")
        return cpus
    return requested


class _ThreadpoolctlLimit:
    """BLAS limited through threadpoolctl while the kernels run, for a BLAS
    whose thread functions the C core does not have: the first call to enter
    sets the limit, the last to leave restores it, so that calls in several
    Python threads never leave BLAS limited.  threadpoolctl's view of the
    loaded libraries is made once per process (scanning them costs about a
    millisecond)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._controller = None
        self._limiter = None
        self._active = 0

    def _after_fork_in_child(self):
        # the calls in flight in other threads ended with them; the limit
        # they set stays (threadpoolctl cannot be asked safely here)
        self._lock = threading.Lock()
        self._active = 0
        self._limiter = None

    @contextlib.contextmanager
    def __call__(self, limit):
        with self._lock:
            if self._active == 0:
                if self._controller is None:
                    self._controller = ThreadpoolController()
                self._limiter = self._controller.limit(limits=limit, user_api="blas")
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    self._limiter.restore_original_limits()
                    self._limiter = None


_threadpoolctl_limit = _ThreadpoolctlLimit()


def blas_guard(threads):
    """The context a kernel call runs in: nothing when the C core holds BLAS
    at one thread itself (an OpenBLAS, in an OpenMP build); threadpoolctl's
    limit otherwise (one thread, or `threads` in a build without OpenMP,
    where BLAS's own threads are the only parallelism)."""
    if _core.blas_threads_held():
        return contextlib.nullcontext()
    return _threadpoolctl_limit(1 if _core.openmp_enabled() else threads)


class ModelLock:
    """One estimator's lock: any number of readers (predictions) or one
    writer (a fit).  Both re-enter (a prediction made of other predictions;
    a callback that fits its own estimator), and the writer's thread may
    read (a callback that predicts with the model being trained).  A waiting
    writer keeps new readers out, so a stream of predictions cannot hold a
    fit back for ever; a prediction started while a fit runs waits for the
    fit to end."""

    def __init__(self):
        self._mutex = threading.Lock()  # the condition's own lock (the C-level `with`)
        self._cond = threading.Condition(self._mutex)
        self._readers = {}  # thread ident -> depth
        self._writer = None
        self._depth = 0
        self._waiting_writers = 0
        self._torn = False
        _all_locks.add(self)

    def _after_fork_in_child(self):
        """In a forked child only the forking thread exists: the others'
        places in the lock are dropped (their predictions ended with them;
        a fit they ran leaves the model possibly half-written: torn)."""
        me = threading.get_ident()
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._readers = {me: self._readers[me]} if me in self._readers else {}
        if self._writer is not None and self._writer != me:
            self._torn = True
            self._writer, self._depth = None, 0
        self._waiting_writers = 0

    def _check_whole(self):
        if self._torn:
            raise RuntimeError(
                "This estimator was being fitted by another thread when this process was "
                "forked, so its state here may be half-written; it cannot be used in this "
                "process. Fit a fresh estimator (sklearn.base.clone) here, pass the model to "
                "the child by pickling it after the fit, or use multiprocessing's 'spawn' or "
                "'forkserver' start method.")

    def reading(self):
        """Context: hold the lock as a reader."""
        return _Reading(self)

    def _read_acquire(self):
        me = threading.get_ident()
        with self._mutex:  # (holding it is holding the condition; `with` on it is cheaper)
            if self._torn:
                self._check_whole()
            if self._writer == me:
                return False  # the fitting thread reads its own model
            readers = self._readers
            if me not in readers:
                while self._writer is not None or self._waiting_writers:
                    self._cond.wait()
            readers[me] = readers.get(me, 0) + 1
            return True

    def _read_release(self):
        me = threading.get_ident()
        with self._mutex:
            readers = self._readers
            depth = readers[me] - 1
            if depth:
                readers[me] = depth
            else:
                del readers[me]
                if not readers:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def writing(self):
        me = threading.get_ident()
        with self._cond:
            self._check_whole()
            if self._writer != me:
                if me in self._readers:
                    raise RuntimeError("an estimator cannot be fitted while the same thread is "
                                       "predicting with it")
                self._waiting_writers += 1
                try:
                    while self._writer is not None or self._readers:
                        self._cond.wait()
                finally:
                    self._waiting_writers -= 1
                self._writer = me
            self._depth += 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._writer = None
                    self._cond.notify_all()


class _Reading:
    __slots__ = ("lock", "counted")

    def __init__(self, lock):
        self.lock = lock

    def __enter__(self):
        self.counted = self.lock._read_acquire()

    def __exit__(self, *exc):
        if self.counted:
            self.lock._read_release()


class _Process:
    """What this process keeps for one estimator, outside its __dict__ (so
    that predictions change no attribute, and pickles and copies carry none
    of it): its lock and its cached prediction network."""

    __slots__ = ("lock", "predictor", "__weakref__")

    def __init__(self):
        self.lock = ModelLock()
        self.predictor = None


_process = weakref.WeakKeyDictionary()
_process_creation = threading.Lock()


def process_state(estimator):
    """The _Process entry of an estimator, made on first use."""
    entry = _process.get(estimator)
    if entry is None:
        with _process_creation:
            entry = _process.get(estimator)
            if entry is None:
                entry = _process[estimator] = _Process()
    return entry


_all_locks = weakref.WeakSet()


def _after_fork_in_child():
    """Locks held by threads that did not survive the fork are made anew."""
    global _warn_lock, _process_creation
    _warn_lock = threading.Lock()
    _process_creation = threading.Lock()
    _threadpoolctl_limit._after_fork_in_child()
    for lock in list(_all_locks):
        lock._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
