"""Callbacks: code that runs when a fit begins, after every epoch, and when it ends.

Pass a list as ``callbacks=`` to an estimator.  Each element is either

- an object with any of the three hooks of :class:`Callback`
  (``on_fit_begin``, ``on_epoch_end``, ``on_fit_end``), or
- a plain callable, called after every epoch with an :class:`EpochRecord`.

``on_epoch_end`` (or the callable) returning True stops training after that
epoch; the model keeps its weights, as when scikit-learn's stopping rule
fires.  ``on_fit_end`` is always called, however the fit ends: its last
epoch, early stopping, ``target_loss``, a callback's stop, divergence, an
exception or Ctrl-C (the ``reason`` says which).  The stochastic solvers
call the hooks per epoch, ``solver='lbfgs'`` per L-BFGS iteration (a stop
request ends it too); each ``partial_fit`` call is a fit of one epoch.

Callbacks are parameters of the estimator, so, as scikit-learn requires of
parameters, they must be picklable for the model to be: use classes or
functions defined at module level, not lambdas or local functions.

With scikit-learn 1.9 or later the estimators also take scikit-learn's own
callbacks (``sklearn.callback``) through ``set_callbacks``.
"""

import sys
import time
from dataclasses import dataclass

__all__ = ["Callback", "EpochRecord", "FitInfo", "ProgressBar", "STOP_REASONS"]

#: The values of ``reason`` in :meth:`Callback.on_fit_end`.
STOP_REASONS = {
    "max_iter": "max_iter epochs (or L-BFGS iterations) done",
    "converged": "the training loss (or L-BFGS's criteria) stopped improving",
    "early_stopping": "the validation score stopped improving",
    "target_loss": "the training loss fell below target_loss",
    "callback": "a callback asked to stop",
    "partial_fit": "the one epoch of a partial_fit call is done",
    "diverged": "the loss or a weight became NaN or infinite",
    "interrupted": "Ctrl-C (KeyboardInterrupt)",
    "error": "an exception ended the fit",
}


@dataclass(frozen=True)
class FitInfo:
    """What a callback sees when a fit begins and ends.

    Parameters
    ----------
    estimator : object
        The estimator being trained.
    max_epochs : int
        Epochs (L-BFGS: iterations) this call may run: ``max_iter``, or 1 for
        ``partial_fit``.
    incremental : bool
        True for a ``partial_fit`` call.
    solver : str
        ``'lbfgs'`` or ``'stochastic'``.
    """

    estimator: object
    max_epochs: int
    incremental: bool
    solver: str


@dataclass(frozen=True)
class EpochRecord:
    """What a callback sees after an epoch (L-BFGS: an iteration).

    Parameters
    ----------
    epoch : int
        Epochs completed in this fit (1 after the first); ``n_iter_``.
    loss : float
        Training loss of the epoch (``loss_curve_[-1]``).
    validation_score : float or None
        Early-stopping validation score of the epoch, or None.
    learning_rate : float
        Rate used in the epoch (mean over its mini-batches for
        per-iteration schedules); ``learning_rate_curve_[-1]``; NaN for
        L-BFGS.
    elapsed : float
        Seconds since the fit started.
    max_iter : int
        Epochs this call may run (``FitInfo.max_epochs``).
    estimator : object
        The estimator being trained.
    validation_loss : float or None
        Early-stopping validation loss of the epoch
        (``validation_loss_curve_[-1]``), or None.
    """

    epoch: int
    loss: float
    validation_score: object
    learning_rate: float
    elapsed: float
    max_iter: int
    estimator: object = None
    validation_loss: object = None


class Callback:
    """Base class of callbacks with a lifecycle: override any hook.

    See Also
    --------
    ProgressBar : a callback that shows the progress of a fit.
    """

    def on_fit_begin(self, info):
        """Called before the first epoch of a fit or partial_fit call.

        Parameters
        ----------
        info : FitInfo
            The estimator, the epochs this call may run, and whether it is a
            ``partial_fit``.
        """

    def on_epoch_end(self, record):
        """Called after every epoch; return True to stop training.

        Parameters
        ----------
        record : EpochRecord
            What the epoch did: its number, loss, validation score and loss,
            rate and the time so far.

        Returns
        -------
        stop : bool
            True stops training after this epoch.
        """
        return False

    def on_fit_end(self, info, reason):
        """Called once when the fit ends, however it ends.

        Parameters
        ----------
        info : FitInfo
            As given to :meth:`on_fit_begin`.
        reason : str
            Why the fit ended: a key of ``STOP_REASONS``.
        """


class ProgressBar(Callback):
    """A progress display for fits: epoch, loss, validation score, rate.

    On a terminal it draws one line rewritten in place (with ``tqdm`` when it
    is installed and ``use_tqdm`` allows); elsewhere (a file, a pipe, a
    notebook's captured output) it writes plain lines, at most one every
    ``min_interval`` seconds, and always the last.  When a fit ends early it
    says why and finishes its line, so later output starts on a line of its
    own.  ``partial_fit`` calls print one line each (call number, loss).

    Parameters
    ----------
    use_tqdm : bool or None, default=None
        None: tqdm if importable and the output is a terminal.  False: never.
        True: always (an error when tqdm is missing).
    file : file-like, default=None
        Where to write; None is ``sys.stderr`` at the time of the fit.
    min_interval : float or None, default=None
        Seconds between two updates: None is 0.1 on a terminal and 1.0 for
        plain lines.

    Examples
    --------
    >>> from gainprop import MLPClassifier
    >>> from gainprop.callbacks import ProgressBar
    >>> clf = MLPClassifier(max_iter=20, callbacks=[ProgressBar()])
    """

    def __init__(self, use_tqdm=None, file=None, min_interval=None):
        self.use_tqdm = use_tqdm
        self.file = file
        self.min_interval = min_interval
        self._bar = None
        self._calls = 0

    def _out(self):
        return self.file or sys.stderr

    def _terminal(self):
        isatty = getattr(self._out(), "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # a closed file
            return False

    def _tqdm(self):
        if self.use_tqdm is False or (self.use_tqdm is None and not self._terminal()):
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            if self.use_tqdm:
                raise
            return None
        return tqdm

    def on_fit_begin(self, info):
        """Start a display (or count a ``partial_fit`` call).

        Parameters
        ----------
        info : FitInfo
            The fit about to start.
        """
        self.close()
        if info.incremental:
            self._calls += 1
            return
        self._calls = 0
        tqdm = self._tqdm()
        out = self._out()
        if tqdm is not None:
            self._bar = _TqdmBar(tqdm(total=info.max_epochs, unit="epoch", file=out))
        else:
            interval = self.min_interval
            if interval is None:
                interval = 0.1 if self._terminal() else 1.0
            self._bar = _PlainBar(info.max_epochs, out, self._terminal(), interval)

    def on_epoch_end(self, record):
        """Show the epoch's loss, validation score and rate.

        Parameters
        ----------
        record : EpochRecord
            The epoch just done.

        Returns
        -------
        stop : bool
            Always False: a progress display never stops training.
        """
        if self._bar is None:  # a partial_fit call: one line
            out = self._out()
            out.write(f"partial_fit call {self._calls}: {_describe(record)}\n")
            out.flush()
            return False
        self._bar.update(record.epoch, _describe(record))
        return False

    def on_fit_end(self, info, reason):
        """Finish the display, saying why the fit ended when it ended early.

        Parameters
        ----------
        info : FitInfo
            The fit that ended.
        reason : str
            Why it ended: a key of ``STOP_REASONS``.
        """
        if self._bar is not None and reason not in ("max_iter", "partial_fit"):
            self._bar.note(STOP_REASONS.get(reason, reason))
        self.close()

    def close(self):
        """Finish the display.

        The end of a fit does it; call it only to finish a display yourself.
        """
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_bar"] = None
        return state

    def __deepcopy__(self, memo):
        return ProgressBar(self.use_tqdm, self.file, self.min_interval)


def _describe(record):
    parts = [f"loss {record.loss:.6g}"]
    if record.validation_score is not None:
        parts.append(f"val {record.validation_score:.4g}")
    if record.learning_rate == record.learning_rate:  # not NaN
        parts.append(f"lr {record.learning_rate:.3g}")
    return ", ".join(parts)


class _TqdmBar:
    """A tqdm bar behind ProgressBar's small interface."""

    def __init__(self, bar):
        self.bar = bar

    def update(self, epoch, text):
        self.bar.set_postfix_str(text, refresh=False)
        self.bar.update(epoch - self.bar.n)

    def note(self, text):
        # the bar ends where training ended, not at a total it never reached
        self.bar.total = self.bar.n
        self.bar.set_postfix_str(f"{self.bar.postfix}; stopped: {text}", refresh=False)

    def close(self):
        self.bar.close()


class _PlainBar:
    """One line rewritten with a carriage return on a terminal; plain lines
    elsewhere."""

    def __init__(self, total, file, terminal, interval):
        self.total = total
        self.file = file
        self.terminal = terminal
        self.interval = interval
        self.start = self.last = time.perf_counter()
        self.epoch = 0
        self.text = ""
        self.shown = -1

    def update(self, epoch, text):
        self.epoch, self.text = epoch, text
        now = time.perf_counter()
        if now - self.last >= self.interval or epoch >= self.total:
            self.last = now
            self._show()

    def _show(self, suffix=""):
        elapsed = time.perf_counter() - self.start
        if self.terminal:
            width = 24
            done = int(width * self.epoch / max(1, self.total))
            line = (f"\r[{'#' * done}{'.' * (width - done)}] epoch {self.epoch}/{self.total} "
                    f"{elapsed:6.1f}s  {self.text}{suffix}")
        else:
            line = f"epoch {self.epoch}/{self.total} {elapsed:.1f}s  {self.text}{suffix}\n"
        self.file.write(line)
        self.file.flush()
        self.shown = self.epoch

    def note(self, text):
        if self.terminal or self.shown != self.epoch:
            self._show(f"; stopped: {text}")
        else:  # the epoch's line is out: say it on a line of its own
            self.file.write(f"stopped after epoch {self.epoch}: {text}\n")
            self.file.flush()

    def close(self):
        if self.shown != self.epoch and self.epoch > 0:
            self._show()
        if self.terminal and self.shown >= 0:
            self.file.write("\n")
            self.file.flush()
