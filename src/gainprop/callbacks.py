"""Callbacks: called after every epoch of a stochastic fit.

Pass a list of callables as ``callbacks=`` to an estimator.  Each is called
once per epoch with an :class:`EpochRecord`; a callback that returns True
stops training after that epoch (the model keeps its weights, as when
scikit-learn's stopping rule fires).
"""

import sys
import time
from dataclasses import dataclass

__all__ = ["EpochRecord", "ProgressBar"]


@dataclass(frozen=True)
class EpochRecord:
    """What a callback sees after an epoch.

    Attributes
    ----------
    epoch : int
        Epochs completed in this fit (1 after the first); ``n_iter_``.
    loss : float
        Training loss of the epoch (``loss_curve_[-1]``).
    validation_score : float or None
        Early-stopping validation score of the epoch, or None.
    learning_rate : float
        Rate used in the epoch (mean over its mini-batches for
        per-iteration schedules); ``learning_rate_curve_[-1]``.
    elapsed : float
        Seconds since the fit started.
    max_iter : int
        The estimator's ``max_iter``.
    estimator : object
        The estimator being trained.
    """

    epoch: int
    loss: float
    validation_score: object
    learning_rate: float
    elapsed: float
    max_iter: int
    estimator: object = None


class ProgressBar:
    """A progress display for long fits: epoch, loss, validation score, rate.

    Uses ``tqdm`` when it is installed (and ``use_tqdm`` allows), else a
    plain one-line display rewritten in place with a carriage return.

    Parameters
    ----------
    use_tqdm : bool or None, default=None
        None: tqdm if importable.  False: always the plain display.
    file : file-like, default=sys.stderr
        Where to write.
    min_interval : float, default=0.1
        Seconds between two refreshes of the plain display.

    Examples
    --------
    >>> from gainprop import MLPClassifier
    >>> from gainprop.callbacks import ProgressBar
    >>> clf = MLPClassifier(callbacks=[ProgressBar()])  # doctest: +SKIP
    """

    def __init__(self, use_tqdm=None, file=None, min_interval=0.1):
        self.use_tqdm = use_tqdm
        self.file = file
        self.min_interval = min_interval
        self._bar = None
        self._last = 0.0

    def _describe(self, record):
        parts = [f"loss {record.loss:.6g}"]
        if record.validation_score is not None:
            parts.append(f"val {record.validation_score:.4g}")
        parts.append(f"lr {record.learning_rate:.3g}")
        return ", ".join(parts)

    def _tqdm(self):
        if self.use_tqdm is False:
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            if self.use_tqdm:
                raise
            return None
        return tqdm

    def __call__(self, record):
        out = self.file or sys.stderr
        if record.epoch == 1 or self._bar is None:
            self.close()
            tqdm = self._tqdm()
            self._bar = (tqdm(total=record.max_iter, unit="epoch", file=out) if tqdm
                         else _PlainBar(record.max_iter, out))
        bar = self._bar
        now = time.perf_counter()
        last_epoch = record.epoch >= record.max_iter
        if isinstance(bar, _PlainBar) and not last_epoch and now - self._last < self.min_interval:
            bar.n = record.epoch
            return False
        self._last = now
        bar.set_postfix_str(self._describe(record), refresh=False)
        bar.update(record.epoch - bar.n)
        if last_epoch:
            self.close()
        return False

    def close(self):
        """End the display (called at the last epoch; call it yourself when
        training stops early and you want the line finished)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_bar"] = None
        return state

    def __deepcopy__(self, memo):
        return ProgressBar(self.use_tqdm, self.file, self.min_interval)


class _PlainBar:
    """tqdm's small interface, as one line rewritten with a carriage return."""

    def __init__(self, total, file):
        self.total = total
        self.file = file
        self.n = 0
        self.postfix = ""
        self.start = time.perf_counter()

    def set_postfix_str(self, text, refresh=False):
        self.postfix = text

    def update(self, k):
        self.n += k
        width = 24
        done = int(width * self.n / max(1, self.total))
        elapsed = time.perf_counter() - self.start
        line = (f"\r[{'#' * done}{'.' * (width - done)}] epoch {self.n}/{self.total} "
                f"{elapsed:6.1f}s  {self.postfix}")
        self.file.write(line)
        self.file.flush()

    def close(self):
        self.file.write("\n")
        self.file.flush()
