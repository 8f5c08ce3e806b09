"""Callbacks: code that ``fit`` runs at the start and end of training, epochs and batches.

A callback sees the model (``set_model``), the run's ``params`` (``epochs``, ``steps``,
``verbose``) and ``logs``: always a dict (empty where there is nothing to report) of floats,
``{"loss", <metric names>, "val_loss", ...}``, with the running means of the epoch in batch
logs. It steers training only through the model:
``model.stop_training``, ``model.optimizer.learning_rate``, ``get_weights``/``set_weights``
and saving.
"""

import csv
import inspect
import math
import os
import shutil
import sys
import time
import warnings

import numpy as np
from tqdm import tqdm

from juanji import backend, saving

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "ProgbarLogger",
    "EarlyStopping",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
    "CSVLogger",
    "BackupAndRestore",
    "LearningRateScheduler",
    "LambdaCallback",
    "TensorBoard",
]


def _print(message):
    """Print to stdout without breaking a progress bar that is being drawn."""
    tqdm.write(message, file=sys.stdout)


def _format_value(value):
    if isinstance(value, float) and value != 0 and abs(value) < 1e-3:
        return f"{value:.4e}"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def format_logs(logs):
    """``name: value - name: value ...`` for a logs dict."""
    return " - ".join(f"{k}: {_format_value(v)}" for k, v in (logs or {}).items())


class Callback:
    """Base class: every hook does nothing; override those you need.

    Attributes:
        model: the model being trained (set by ``set_model``).
        params: ``{"epochs", "steps", "verbose"}`` of the run (set by ``set_params``).
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        """Set ``self.model``, the model being trained, evaluated or run."""
        self.model = model

    def set_params(self, params):
        """Set ``self.params``: the loop's settings (``epochs``, ``steps``, ``verbose``)."""
        self.params = dict(params)

    def on_train_begin(self, logs=None):
        """Called once before the first epoch."""

    def on_train_end(self, logs=None):
        """Called once after training ends, normally or stopped (``logs``: last epoch's)."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called before epoch ``epoch`` (counted from 0)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called after epoch ``epoch`` with its training (and ``val_``) results."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before training step ``batch`` of the epoch."""

    def on_train_batch_end(self, batch, logs=None):
        """Called after training step ``batch`` with the epoch's running results."""

    def on_test_begin(self, logs=None):
        """Called before an evaluation."""

    def on_test_end(self, logs=None):
        """Called after an evaluation with its results."""

    def on_test_batch_begin(self, batch, logs=None):
        """Called before evaluation batch ``batch``."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after evaluation batch ``batch``."""

    def on_predict_begin(self, logs=None):
        """Called before a prediction run."""

    def on_predict_end(self, logs=None):
        """Called after a prediction run."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before prediction batch ``batch``."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after prediction batch ``batch``."""


class CallbackList(Callback):
    """Several callbacks called in order as one.

    Args:
        callbacks: Callback instances.
        model: passed to every callback's ``set_model``.
        params: passed to every callback's ``set_params``.

    Raises:
        TypeError: if an entry is not a Callback.
    """

    def __init__(self, callbacks=None, model=None, params=None):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for i, cb in enumerate(self.callbacks):
            if not isinstance(cb, Callback):
                raise TypeError(f"Expected Callback instances. Received: callbacks[{i}]={cb!r}")
        if model is not None:
            self.set_model(model)
        if params is not None:
            self.set_params(params)

    def set_model(self, model):
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def _call(self, hook, *args):
        *where, logs = args
        for cb in self.callbacks:
            getattr(cb, hook)(*where, {} if logs is None else logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs)


class History(Callback):
    """Records every epoch's logs; ``fit`` returns it and sets it as ``model.history``.

    Attributes:
        history: ``{"loss": [...], "val_loss": [...], ...}``, one value per epoch.
        epoch: the epoch numbers recorded (from 0).
        nan_stop: None, or where and why ``fit`` stopped at a step it did not apply (a NaN
            or infinite loss, gradient or weight): ``{"epoch", "batch", "reason", "weights"}``.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        self.nan_stop = None

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.nan_stop = None

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        self.model.history = self


class ProgbarLogger(Callback):
    """Prints progress to stdout as ``params["verbose"]`` asks.

    ``verbose=1``: an ``Epoch i/N`` line, then a bar per epoch with the step count, the time
    spent and left, and the running logs; when the epoch ends the bar gives way to one final
    line with its time and every log (``val_`` ones included), wrapped to the terminal's
    width (80 columns when there is no terminal). ``verbose=2``: one line per epoch with its
    time and every log. ``verbose=0``: nothing.
    """

    def __init__(self):
        super().__init__()
        self._bar = None
        self._start = 0.0
        self._steps_done = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._steps_done = 0
        if self.params.get("verbose", 1) == 1:
            _print(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}")
            self._bar = tqdm(
                total=self.params.get("steps"),
                file=sys.stdout,
                unit="step",
                leave=False,
                ncols=_columns(),
                bar_format="{n_fmt}/{total_fmt} |{bar:16}| {elapsed}<{remaining}{postfix}",
            )

    def on_train_batch_end(self, batch, logs=None):
        self._steps_done += 1
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(logs), refresh=False)
            self._bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        verbose = self.params.get("verbose", 1)
        if not verbose:
            return
        self._close()
        seconds = time.perf_counter() - self._start
        steps = self._steps_done
        timing = f"{seconds:.0f}s {1000 * seconds / steps:.0f}ms/step" if steps else ""
        if verbose == 1:
            parts = [f"{steps}/{steps}", timing, *_log_items(logs)]
            _print("\n".join(_wrap(parts, _columns())))
        else:
            head = f"Epoch {epoch + 1}/{self.params.get('epochs', '?')} - {seconds:.1f}s"
            if steps:
                head += f" - {1000 * seconds / steps:.0f}ms/step"
            _print(f"{head} - {format_logs(logs)}")

    def on_train_end(self, logs=None):
        self._close()

    def _close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _columns():
    return shutil.get_terminal_size((80, 24)).columns


def _log_items(logs):
    return [f"{k}: {_format_value(v)}" for k, v in (logs or {}).items()]


def _wrap(parts, width):
    """``parts`` joined by " - " into lines of at most ``width`` characters (a part longer
    than that gets a line of its own); continuation lines are indented."""
    lines, line = [], ""
    for part in (p for p in parts if p):
        candidate = f"{line} - {part}" if line else part
        if line and len(candidate) > width:
            lines.append(line)
            candidate = f"    {part}"
        line = candidate
    return [*lines, line] if line else lines


def _direction(monitor, mode):
    """+1 when a larger ``monitor`` is better, -1 when a smaller one is."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"Expected mode 'auto', 'min' or 'max'. Received: mode={mode!r}")
    if mode != "auto":
        return 1 if mode == "max" else -1
    name = monitor.removeprefix("val_")
    if any(word in name for word in ("acc", "auc", "precision", "recall")):
        return 1
    if any(word in name for word in ("loss", "error", "mse", "mae")):
        return -1
    raise ValueError(
        f"Cannot tell whether `{monitor}` should be minimised or maximised: pass mode='min' or "
        f"mode='max'. Received: monitor={monitor!r}, mode='auto'"
    )


class _Monitored(Callback):
    """A callback watching one logged quantity for improvements of more than ``min_delta``."""

    def __init__(self, monitor, mode, min_delta):
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"Expected a log name for `monitor`. Received: monitor={monitor!r}")
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(float(min_delta))
        self._sign = _direction(monitor, mode)

    def _improved(self, current, best):
        return best is None or self._sign * (current - best) > self.min_delta

    def _current(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"{type(self).__name__} watches `{self.monitor}`, which is not in the logs. "
                f"Available: {sorted(logs or {})}",
                stacklevel=3,
            )
        return value


class EarlyStopping(_Monitored):
    """Stops training when ``monitor`` has stopped improving.

    Args:
        monitor: the log to watch, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        verbose: 1 prints a line when stopping and when restoring weights.
        mode: "min", "max", or "auto" (from the name: accuracies up, losses down).
        baseline: training stops if ``monitor`` does not beat this within ``patience`` epochs.
        restore_best_weights: at the end, put back the weights of the best epoch.
        start_from_epoch: epochs to wait before watching at all (a warm-up).

    Example:
        >>> stop = EarlyStopping(monitor="val_loss", patience=2)
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta)
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = self._current(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # NOTE: as Keras, patience restarts only when the baseline is beaten too.
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch and self.verbose:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                _print(
                    f"Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitored):
    """Saves the model (or its weights) after each epoch, or only when ``monitor`` improves.

    Args:
        filepath: where to save; may hold ``{epoch}`` (from 1) and log names, formatted with
            the epoch's logs, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.juanji"``.
        monitor: the log that decides what is best (with ``save_best_only``).
        verbose: 1 prints a line per save (and per skipped epoch with ``save_best_only``).
        save_best_only: save only when ``monitor`` improves on the best so far.
        save_weights_only: write only the weights (``saving.save_weights``) instead of the
            full model file (``model.save``).
        mode: "min", "max", or "auto" (from the name of ``monitor``).
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
    ):
        super().__init__(monitor, mode, 0.0)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as error:
            raise KeyError(
                f"ModelCheckpoint's filepath names {error}, which is not in the logs. "
                f"Available: {['epoch', *logs]}. Received: filepath={self.filepath!r}"
            ) from None
        if self.save_best_only:
            current = self._current(logs)
            if current is None:
                return
            if not self._improved(current, self.best):
                if self.verbose:
                    _print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best}")
                return
            if self.verbose:
                _print(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {self.best} to "
                    f"{current}, saving model to {path}"
                )
            self.best = current
        elif self.verbose:
            _print(f"Epoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            saving.save_weights(self.model, path)
        else:
            self.model.save(path)


class ReduceLROnPlateau(_Monitored):
    """Multiplies the learning rate by ``factor`` when ``monitor`` stops improving.

    Adds the current ``learning_rate`` to each epoch's logs (as Keras 3 does).

    Args:
        monitor: the log to watch.
        factor: the multiplier, in (0, 1).
        patience: epochs without improvement before reducing.
        verbose: 1 prints a line per reduction.
        mode: "min", "max", or "auto".
        min_delta: the smallest change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the learning rate is never reduced below this.

    Raises:
        ValueError: if ``factor`` is not in (0, 1).
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__(monitor, mode, min_delta)
        if not 0 < factor < 1:
            raise ValueError(f"Expected `factor` in (0, 1). Received: factor={factor}")
        self.factor = float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)

    def on_train_begin(self, logs=None):
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if logs is not None:
            logs["learning_rate"] = float(optimizer.learning_rate)
        current = self._current(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current, self.best):
            self.best = current
            self.wait = 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        old_lr = float(optimizer.learning_rate)
        if self.wait >= self.patience and old_lr > self.min_lr:
            optimizer.learning_rate = max(old_lr * self.factor, self.min_lr)
            if self.verbose:
                _print(
                    f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                    f"{optimizer.learning_rate:.4g}."
                )
            self.cooldown_counter = self.cooldown
            self.wait = 0


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch's loss is NaN or infinite, saying where.

    ``fit`` itself never applies such a step (see its docstring): the model keeps the weights
    of the last step applied, and the history's ``nan_stop`` says where it stopped.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            _print(
                f"Epoch {self._epoch + 1}, batch {batch}: the loss is {loss}; terminating "
                "training. (A learning rate that is too high, or unscaled inputs, are the "
                "usual causes.)"
            )
            self.model.stop_training = True


class CSVLogger(Callback):
    """Writes one CSV row per epoch: ``epoch`` (from 0) then every log, in sorted order.

    Args:
        filename: the CSV file.
        separator: the field separator.
        append: add to an existing file (a resumed run) instead of overwriting it.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append
        self._file = None
        self._writer = None

    def on_train_begin(self, logs=None):
        has_rows = self.append and os.path.isfile(self.filename) and os.path.getsize(self.filename)
        self._header_written = bool(has_rows)
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._writer is None:
            fields = ["epoch", *sorted(logs)]
            self._writer = csv.DictWriter(
                self._file,
                fieldnames=fields,
                delimiter=self.separator,
                restval="NA",
                extrasaction="ignore",
            )
            if not self._header_written:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **logs})
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class BackupAndRestore(Callback):
    """Backs up the training state at every epoch end; an interrupted ``fit`` resumes from it.

    The backup (``backup_dir/backup.juanji``, written atomically) holds the weights, the
    optimizer state, the number of finished epochs and the random generator's state, so a
    resumed run continues exactly as the uninterrupted one would have. At the start of
    training an existing backup is loaded and ``fit`` skips the finished epochs. The backup
    is deleted when training ends normally.

    Args:
        backup_dir: the folder of the backup (created if needed).
        delete_checkpoint: delete the backup when training ends. Pass False when the final
            model is saved after ``fit`` returns, and delete the backup once it is on disk:
            otherwise a crash between the two leaves neither.
        extra: JSON values stored in every backup (e.g. a digest of the run's options).
    """

    def __init__(self, backup_dir, delete_checkpoint=True, extra=None):
        super().__init__()
        if not isinstance(backup_dir, (str, os.PathLike)) or not os.fspath(backup_dir):
            raise ValueError(f"Expected a folder path. Received: backup_dir={backup_dir!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.delete_checkpoint = delete_checkpoint
        self.extra = dict(extra or {})
        self.path = os.path.join(self.backup_dir, "backup.juanji")

    def on_train_begin(self, logs=None):
        if not os.path.exists(self.path):
            return
        extra = saving.restore_state(self.model, self.path)
        backend.rng().bit_generator.state = extra["rng_state"]
        self.model._resume_epoch = int(extra["finished_epochs"])

    def on_epoch_end(self, epoch, logs=None):
        extra = {"finished_epochs": epoch + 1, "rng_state": backend.rng().bit_generator.state}
        saving.save_model(self.model, self.path, extra={**self.extra, **extra})

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.path):
            os.remove(self.path)


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of every epoch from ``schedule``.

    Args:
        schedule: ``schedule(epoch, lr)`` (or ``schedule(epoch)``) giving the epoch's rate
            from its index (from 0) and the current rate.
        verbose: 1 prints the rate each epoch.

    Adds ``learning_rate`` to each epoch's logs, as Keras 3 does.

    Example:
        >>> scheduler = LearningRateScheduler(lambda epoch, lr: lr * 0.9 if epoch else lr)
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"Expected a callable schedule. Received: schedule={schedule!r}")
        self.schedule = schedule
        self.verbose = verbose
        self._takes_lr = len(inspect.signature(schedule).parameters) >= 2

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        current = float(optimizer.learning_rate)
        lr = self.schedule(epoch, current) if self._takes_lr else self.schedule(epoch)
        lr = float(lr)
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(
                f"The schedule gave learning rate {lr} at epoch {epoch}: expected a finite "
                "number >= 0."
            )
        optimizer.learning_rate = lr
        if self.verbose:
            _print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


_HOOKS = [
    name for name in vars(Callback) if name.startswith("on_") and callable(getattr(Callback, name))
]


class LambdaCallback(Callback):
    """A callback made of functions given for the hooks wanted, e.g.
    ``LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))``.

    Each function takes the hook's arguments: ``(epoch, logs)`` for the epoch hooks,
    ``(batch, logs)`` for the batch hooks and ``(logs)`` for the others.

    Raises:
        TypeError: naming an argument that is not a hook, or a hook that is not callable.
    """

    def __init__(self, **hooks):
        super().__init__()
        for name, fn in hooks.items():
            if name not in _HOOKS:
                raise TypeError(f"LambdaCallback has no hook {name!r}. Expected one of {_HOOKS}")
            if fn is not None:
                if not callable(fn):
                    raise TypeError(f"Expected a callable for {name}. Received: {fn!r}")
                setattr(self, name, fn)


class TensorBoard(Callback):
    """Writes TensorBoard event files: ``tensorboard --logdir LOG_DIR`` shows the run.

    Into ``log_dir/train``: ``epoch_<metric>`` scalars each epoch (``epoch_loss``,
    ``epoch_accuracy``...), ``epoch_learning_rate``, and with ``update_freq`` a number N,
    ``batch_<metric>`` every N training steps (the epoch's running values, as the progress
    bar shows them); with ``histogram_freq`` N, every N epochs, a histogram of every weight
    (tagged ``layer/weight``) and, with ``write_images``, the first convolution layer's
    filters as one image. Into ``log_dir/validation``: the ``val_`` results as
    ``epoch_<metric>``. The files are written through tensorboardX (``pip install
    juanji[tensorboard]``).

    Args:
        log_dir: the folder of the run's logs.
        histogram_freq: epochs between weight histograms (and images); 0 for none.
        write_images: add the first convolution layer's filters as an image.
        update_freq: ``"epoch"`` (scalars once an epoch), ``"batch"`` (every step) or a
            number of steps between batch-level scalars.

    Raises:
        ImportError: when training starts without tensorboardX installed, saying how to
            install it.
        ValueError: for a bad ``histogram_freq`` or ``update_freq``.
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_images=False, update_freq="epoch"):
        super().__init__()
        if (
            isinstance(histogram_freq, bool)
            or not isinstance(histogram_freq, int)
            or histogram_freq < 0
        ):
            raise ValueError(
                f"Expected an int >= 0 for `histogram_freq`. Received: {histogram_freq!r}"
            )
        steps = 1 if update_freq == "batch" else update_freq
        if steps != "epoch" and (
            isinstance(steps, bool) or not isinstance(steps, int) or steps < 1
        ):
            raise ValueError(
                "Expected `update_freq` 'epoch', 'batch' or a positive int. "
                f"Received: update_freq={update_freq!r}"
            )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_images = write_images
        self.update_freq = steps
        self._writers = {}
        self._step = 0

    def _writer(self, part):
        if part not in self._writers:
            try:
                from tensorboardX import SummaryWriter
            except ImportError:
                raise ImportError(
                    "The TensorBoard callback writes through tensorboardX: "
                    "pip install 'juanji[tensorboard]' (or tensorboardX)."
                ) from None
            self._writers[part] = SummaryWriter(os.path.join(self.log_dir, part))
        return self._writers[part]

    def on_train_begin(self, logs=None):
        self._writer("train")

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.update_freq != "epoch" and self._step % self.update_freq == 0:
            for name, value in (logs or {}).items():
                self._writer("train").add_scalar(f"batch_{name}", float(value), self._step)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        logs.setdefault("learning_rate", float(self.model.optimizer.learning_rate))
        for name, value in logs.items():
            part, name = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
            self._writer(part).add_scalar(f"epoch_{name}", float(value), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        for writer in self._writers.values():
            writer.flush()

    def _log_weights(self, epoch):
        writer = self._writer("train")
        for layer in _all_layers(self.model):
            for weight in layer.weights:
                writer.add_histogram(weight.name, weight.data, epoch)
        kernel = next(
            (layer.kernel.data for layer in _all_layers(self.model) if _conv_kernel(layer)), None
        )
        if self.write_images and kernel is not None:
            writer.add_image("filters", filter_grid(kernel), epoch, dataformats="HWC")

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def _all_layers(model):
    """The model's layers, those of nested models included, in order."""
    for layer in getattr(model, "layers", []):
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)
        else:
            yield layer


def _conv_kernel(layer):
    kernel = getattr(layer, "kernel", None)
    return kernel is not None and kernel.ndim == 4


def filter_grid(kernel, pad=1):
    """A convolution kernel ``(KH, KW, C, F)`` as one image of its F filters side by side in
    a near-square grid, each scaled to [0, 1] alone: RGB when C is 3, else the mean over C.

    Returns:
        float32 ``(rows * (KH + pad) - pad, cols * (KW + pad) - pad, 3)``.
    """
    KH, KW, C, F = kernel.shape
    filters = kernel if C == 3 else np.repeat(kernel.mean(axis=2, keepdims=True), 3, axis=2)
    filters = filters.transpose(3, 0, 1, 2)  # (F, KH, KW, 3)
    low = filters.min(axis=(1, 2, 3), keepdims=True)
    span = filters.max(axis=(1, 2, 3), keepdims=True) - low
    filters = (filters - low) / np.where(span > 0, span, 1)
    cols = math.ceil(math.sqrt(F))
    rows = math.ceil(F / cols)
    tiles = np.zeros((rows * cols, KH + pad, KW + pad, 3), np.float32)  # blank past F
    tiles[:F, :KH, :KW] = filters
    grid = tiles.reshape(rows, cols, KH + pad, KW + pad, 3).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * (KH + pad), cols * (KW + pad), 3)[: -pad or None, : -pad or None]
