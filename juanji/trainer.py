"""compile, fit, evaluate and predict: Keras 3's training API as a mixin of ``Model``.

``Trainer`` holds the loop: batches come from one :class:`~juanji.data.adapters.EpochIterator`
whatever the data's kind, every callback hook receives a logs dict, validation inside ``fit``
runs the ``on_test_*`` hooks, and a model of several outputs has one loss (and weight and
metrics) per output. Logs are ``loss`` (the weighted sum of the outputs' losses plus the
layers' penalties), ``<output>_loss`` per output when there are several, and each metric,
named ``<output>_<metric>`` when there are several outputs.
"""

import sys
import warnings

import numpy as np

from juanji import callbacks as callbacks_module
from juanji import losses, optimizers, pairing, registry
from juanji import metrics as metrics_module
from juanji.autograd import Tensor, no_grad
from juanji.data import checks
from juanji.data.adapters import EpochIterator, as_inputs, is_dataset, split_arrays

__all__ = ["Trainer", "resolve_verbose"]


def resolve_verbose(verbose):
    """``"auto"`` becomes 1 (a progress bar) on a terminal and 2 (a line per epoch) otherwise."""
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return verbose


def _is_structure(value):
    return isinstance(value, dict) or (
        isinstance(value, (list, tuple)) and all(isinstance(v, np.ndarray) for v in value)
    )


def _per_output(value, names, what):
    """``value`` (one for all, a list in output order, or a dict by name) as one per output."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"Unknown output names in {what}: {unknown}. Outputs: {names}")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and len(names) > 1:
        if len(value) != len(names):
            raise ValueError(
                f"Expected one {what} entry per output ({len(names)}: {names}). "
                f"Received: {len(value)} entries"
            )
        return list(value)
    return [value] * len(names)


class _Head:
    """One output's loss, loss weight and metrics, and the names it logs under."""

    def __init__(self, name, loss, weight, metric_ids, prefix):
        self.name = name
        self.loss = losses.get(loss) if loss is not None else None
        self.weight = 1.0 if weight is None else float(weight)
        self.metrics = [metrics_module.resolve_metric(m, self.loss) for m in metric_ids]
        self.prefix = prefix
        self.loss_mean = metrics_module.Mean(name=f"{name}_loss")

    def key(self, metric):
        return f"{self.prefix}{metric.name}"


class Trainer:
    """The training half of ``Model``: ``compile``, ``fit``, ``evaluate``, ``predict``."""

    # --- compiling -----------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None):
        """Choose the optimizer, the loss(es) and the metrics, by name or instance.

        Args:
            optimizer: a name (``"adam"``) or an Optimizer.
            loss: a name, a Loss, a function ``f(y_true, y_pred)``; for a model of several
                outputs, a list in output order or a dict by output name (one loss for all
                outputs otherwise). None trains on the losses the layers add alone
                (``add_loss``), as Keras does.
            metrics: a list of metric names or objects (applied to every output), or per
                output a list of lists or a dict of lists.
            loss_weights: per-output multipliers of the losses (a list or a dict).

        Raises:
            ValueError: for an unknown optimizer, loss or metric name.
        """
        self.optimizer = optimizers.get(optimizer)
        names = list(getattr(self, "output_names", None) or ["output"])
        loss_list = _per_output(loss, names, "loss")
        weights = _per_output(loss_weights, names, "loss_weights")
        if isinstance(metrics, dict) or (
            metrics and len(names) > 1 and all(isinstance(m, (list, tuple)) for m in metrics)
        ):
            metric_lists = _per_output(metrics, names, "metrics")
        else:
            metric_lists = [metrics] * len(names)
        several = len(names) > 1
        self._heads = [
            _Head(name, head_loss, weight, list(m or []), f"{name}_" if several else "")
            for name, head_loss, weight, m in zip(names, loss_list, weights, metric_lists)
        ]
        self.loss = self._heads[0].loss if not several else [h.loss for h in self._heads]
        pairing.check_pairing(self, self.loss)
        self._compile_args = {"loss": loss, "metrics": metrics, "loss_weights": loss_weights}
        self._loss_mean = metrics_module.Mean(name="loss")
        self.compiled = True

    def compile_config(self):
        """The compile settings as JSON values (for model files)."""

        def serialize(value, metric=False):
            if isinstance(value, dict):
                return {k: serialize(v, metric) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [serialize(v, metric) for v in value]
            if metric and isinstance(value, str):
                return value
            return registry.serialize(value)

        args = self._compile_args
        return {
            "optimizer": registry.serialize(self.optimizer),
            "loss": serialize(args["loss"]),
            "metrics": serialize(args["metrics"] or [], metric=True),
            "loss_weights": args["loss_weights"],
        }

    @staticmethod
    def compile_from_config(config):
        """``compile`` keyword arguments rebuilt from ``compile_config()``."""

        def rebuild(value, kind):
            if isinstance(value, dict) and "class_name" not in value:
                return {k: rebuild(v, kind) for k, v in value.items()}
            if isinstance(value, list):
                return [rebuild(v, kind) for v in value]
            return registry.get(kind, value) if isinstance(value, dict) else value

        return {
            "optimizer": optimizers.get(config["optimizer"]),
            "loss": rebuild(config["loss"], "loss"),
            "metrics": rebuild(config["metrics"], "metric"),
            "loss_weights": config.get("loss_weights"),
        }

    def _require_compiled(self, what):
        if not getattr(self, "compiled", False):
            raise RuntimeError(f"Call compile() before {what}().")

    @property
    def metrics_names(self):
        """The names ``evaluate`` returns, in order: ``loss``, per-output losses, metrics."""
        return list(self._empty_logs())

    # --- structures ----------------------------------------------------------------------
    def _outputs_list(self, y_pred):
        """The model's outputs as a list in head order."""
        if isinstance(y_pred, dict):
            return [y_pred[head.name] for head in self._heads]
        return list(y_pred) if isinstance(y_pred, (list, tuple)) else [y_pred]

    def _targets_list(self, y):
        if len(self._heads) == 1:
            if isinstance(y, dict):
                return [y.get(self._heads[0].name, next(iter(y.values())))]
            return [y[0] if isinstance(y, (list, tuple)) and _is_structure(y) else y]
        if y is None or not (isinstance(y, (dict, list, tuple))):
            raise ValueError(
                f"Model '{self.name}' has {len(self._heads)} outputs "
                f"{[h.name for h in self._heads]}: give y as a list or a dict of arrays. "
                f"Received: y of type {type(y).__name__}"
            )
        return _per_output(y, [h.name for h in self._heads], "y")

    def _weights_list(self, sample_weight):
        names = [h.name for h in self._heads]
        if sample_weight is None or isinstance(sample_weight, np.ndarray):
            return [sample_weight] * len(names)
        return _per_output(sample_weight, names, "sample_weight")

    # --- data checks ---------------------------------------------------------------------
    def _check_arrays(self, x, y):
        """Validate and convert (x, y) before any step: float x of the model's input shape,
        as many targets as samples, targets that fit the loss and the output shape."""
        x = as_inputs(x)
        flat = self.flatten_inputs(x)
        for a in flat:
            if a.ndim < 2:
                raise ValueError(
                    f"Expected x with a batch axis and at least one feature axis. "
                    f"Received: x.shape={a.shape}"
                )
        if y is not None:
            for t in self._targets_list(y) if getattr(self, "compiled", False) else [y]:
                if t is not None and len(np.asarray(t)) != len(flat[0]):
                    raise ValueError(
                        f"x and y must hold the same number of samples. "
                        f"Received: len(x)={len(flat[0])}, len(y)={len(np.asarray(t))}"
                    )
        self._ensure_built(flat[0].shape if len(flat) == 1 else [a.shape for a in flat])
        self._check_inputs(x)
        if y is not None and getattr(self, "compiled", False):
            for head, t, shape in zip(self._heads, self._targets_list(y), self._output_shapes()):
                if head.loss is not None and t is not None:
                    losses.validate_targets(head.loss, t, shape)
        return x, y

    def flatten_inputs(self, data):
        """``data`` as one array per model input (a model of one input takes one array)."""
        return [data]

    def _check_inputs(self, x):
        self._check_input(x)

    def _output_shapes(self):
        outputs = getattr(self, "outputs", None)
        return [t.shape for t in outputs] if outputs else [self.output_shape]

    # --- steps ---------------------------------------------------------------------------
    def compute_loss(self, y, y_pred, sample_weight=None):
        """The training loss: each output's loss times its weight, plus the layers' losses.

        Returns:
            (the total as a scalar Tensor, one float per output with a loss or None)
        """
        total, parts = None, []
        outputs = self._outputs_list(y_pred)
        targets = self._targets_list(y)
        weights = self._weights_list(sample_weight)
        for head, pred, target, w in zip(self._heads, outputs, targets, weights):
            if head.loss is None:
                parts.append(None)
                continue
            value = losses.compute(head.loss, target, pred, w)
            parts.append(float(value.data))
            weighted = value if head.weight == 1.0 else value * head.weight
            total = weighted if total is None else total + weighted
        penalties = self.losses
        if penalties:
            total = sum(penalties[1:], penalties[0]) if total is None else sum(penalties, total)
        if total is None:
            raise ValueError(
                "Nothing to minimise: compile() was given no loss (e.g. "
                "loss='categorical_crossentropy') and no layer adds one with add_loss(). "
                "Received: loss=None"
            )
        return total, parts

    def train_step(self, x, y, sample_weight=None):
        """One optimizer step on a batch; returns the batch loss as a float and predictions."""
        loss, y_pred, grads = self._forward_backward(x, y, sample_weight)
        params = self.trainable_weights
        # A step is applied only if it is made of numbers; fit stops at the first that is not.
        if not checks.all_finite([np.asarray(loss), *grads]):
            self._unfinished_step = "the loss or a gradient is NaN or infinite"
        else:
            self.optimizer.apply(grads, params)
            if not checks.all_finite(p.data for p in params):
                self._unfinished_step = "the step made a weight NaN or infinite"
        return loss, y_pred

    def compute_gradients(self, x, y, sample_weight=None):
        """The loss on a batch and its gradient for each of ``trainable_weights``, without
        updating them: ``(loss as a float, [array shaped like each weight])``."""
        loss, _, grads = self._forward_backward(x, y, sample_weight)
        return loss, grads

    def _forward_backward(self, x, y, sample_weight):
        y_pred = self(x, training=True)
        total, parts = self.compute_loss(y, y_pred, sample_weight)
        params = self.trainable_weights
        for p in params:
            p.grad = None
        total.backward()
        self._last_parts = parts
        return float(total.data), _to_arrays(y_pred), [p.grad for p in params]

    def _update_trackers(self, loss, parts, y, y_pred, batch_size):
        self._loss_mean.update_state(loss, sample_weight=batch_size)
        outputs = self._outputs_list(y_pred)
        targets = self._targets_list(y)
        for head, part, target, pred in zip(self._heads, parts, targets, outputs):
            if part is not None and len(self._heads) > 1:
                head.loss_mean.update_state(part, sample_weight=batch_size)
            for m in head.metrics:
                m.update_state(target, pred)

    def _reset_trackers(self):
        self._loss_mean.reset_state()
        for head in self._heads:
            head.loss_mean.reset_state()
            for m in head.metrics:
                m.reset_state()

    def _empty_logs(self):
        logs = {"loss": 0.0}
        if len(self._heads) > 1:
            logs.update({h.loss_mean.name: 0.0 for h in self._heads if h.loss is not None})
        for head in self._heads:
            logs.update({head.key(m): 0.0 for m in head.metrics})
        return logs

    def _logs(self):
        logs = {"loss": self._loss_mean.result()}
        if len(self._heads) > 1:
            logs.update(
                {h.loss_mean.name: h.loss_mean.result() for h in self._heads if h.loss is not None}
            )
        for head in self._heads:
            logs.update({head.key(m): m.result() for m in head.metrics})
        return logs

    # --- fit -----------------------------------------------------------------------------
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
        distribute=None,
    ):
        """Train for ``epochs`` passes over arrays, a generator or a re-iterable dataset.

        Args:
            x: arrays (one, a list or a dict by input name), a generator or iterator of
                batches (consumed across epochs), or a re-iterable dataset (iterated afresh
                every epoch); batches are ``(x, y)`` or ``(x, y, sample_weight)``.
            y: targets for array ``x`` (a list or dict for several outputs).
            batch_size: samples per step for arrays (default 32).
            epochs: the epoch to stop after (counting ``initial_epoch``).
            verbose: 0 silent, 1 a progress bar, 2 a line per epoch, ``"auto"`` 1 on a
                terminal and 2 otherwise.
            callbacks: Callback instances.
            validation_split: the last fraction of the arrays held out (before shuffling).
            validation_data: ``(x, y)``, ``(x, y, sample_weight)`` or a dataset.
            shuffle: shuffle the arrays every epoch.
            class_weight: ``{class: weight}`` multiplying each sample's loss.
            sample_weight: one weight per sample of ``x``.
            initial_epoch: the epoch to start from (to resume).
            steps_per_epoch: batches per epoch (for generators; at most this many of arrays).
            validation_steps: batches per validation (default: the whole validation data).
            validation_batch_size: batch size of the validation arrays.
            validation_freq: validate every this many epochs, or at the epochs (from 1) listed.
            distribute: a strategy that trains on several workers, such as
                ``juanji.distributed.RayDataParallel(num_workers=2)``; it takes arrays and
                the options ``batch_size``, ``epochs``, ``shuffle``, ``validation_data``,
                ``callbacks`` and ``verbose``.

        Returns:
            a ``History`` whose ``.history`` maps each log (and ``val_`` log) to a list with
            one value per epoch.

        A step whose loss or gradients are NaN or infinite is not applied; one that would
        make a weight so is undone (the weights and optimizer state return to the start of
        the epoch). Either way training stops there, a ``RuntimeWarning`` says where and
        why, and the returned history's ``nan_stop`` records it (it is None otherwise).

        Raises:
            ValueError, TypeError: for data that does not fit the model or the loss, before
                any training step: no samples, NaN or infinite values in ``x`` or ``y``, a
                ``batch_size`` that is not a positive integer; ValueError when an epoch
                yields no batch, naming it.
        """
        self._require_compiled("fit")
        batch_size = checks.batch_size(batch_size)
        verbose = resolve_verbose(verbose)
        if distribute is not None:
            return distribute.fit(
                self,
                x,
                y,
                batch_size=batch_size,
                epochs=epochs,
                shuffle=shuffle,
                validation_data=validation_data,
                callbacks=callbacks,
                verbose=verbose,
            )
        if not 0 <= validation_split < 1:
            raise ValueError(
                f"Expected validation_split in [0, 1). "
                f"Received: validation_split={validation_split}"
            )
        if not is_dataset(x):
            x = as_inputs(x)
            if validation_split and validation_data is None:
                (x, y, sample_weight), validation_data = split_arrays(
                    (x, y, sample_weight), validation_split
                )
            x, y = self._check_arrays(x, y)
            _check_training_data(self, x, y)
        elif validation_split:
            raise ValueError(
                "validation_split needs arrays; with a dataset pass validation_data. "
                f"Received: validation_split={validation_split}"
            )
        data = EpochIterator(
            x, y, sample_weight, batch_size, shuffle, steps_per_epoch, class_weight
        )
        validation = self._validation_iterator(
            validation_data,
            batch_size
            if validation_batch_size is None
            else checks.batch_size(validation_batch_size, "validation_batch_size"),
            validation_steps,
        )
        history = callbacks_module.History()
        cbs = callbacks_module.CallbackList(
            self._default_callbacks(callbacks, history, verbose),
            model=self,
            params={"epochs": epochs, "steps": data.steps, "verbose": verbose},
        )
        self.stop_training = False
        cbs.on_train_begin({})
        initial_epoch = max(initial_epoch, self._resume_epoch)
        self._resume_epoch = 0
        epoch_logs = {}
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch, {})
            self._reset_trackers()
            ran = False
            epoch_start = (self.get_weights(), self.optimizer.get_state())
            for step, (xb, yb, wb) in data:
                if data.arrays is None:
                    xb, yb = self._check_arrays(xb, yb)
                    _check_training_data(self, xb, yb)
                ran = True
                cbs.on_train_batch_begin(step, {})
                self._unfinished_step = None
                loss, y_pred = self.train_step(xb, yb, wb)
                if self._unfinished_step is not None:
                    _stop_unfinished(self, history, epoch, step, epoch_start)
                    cbs.on_train_batch_end(step, {**self._logs(), "loss": loss})
                    break
                self._update_trackers(loss, self._last_parts, yb, y_pred, _batch_len(xb))
                cbs.on_train_batch_end(step, self._logs())
                if self.stop_training:
                    break
            if not ran:
                raise ValueError(
                    f"Epoch {epoch + 1}: the training data yielded no batch. A generator is "
                    "used up after one pass: pass steps_per_epoch with an endless generator, "
                    "or a re-iterable dataset (an object with __iter__) that fit reads afresh "
                    "every epoch."
                )
            epoch_logs = self._logs()
            if validation is not None and not self.stop_training:
                if _validation_due(epoch, validation_freq):
                    val_logs = self._evaluate_loop(validation, cbs)
                    epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        cbs.on_train_end(epoch_logs)
        self.history = history
        return history

    def _validation_iterator(self, validation_data, batch_size, steps):
        if validation_data is None:
            return None
        if is_dataset(validation_data):
            return EpochIterator(validation_data, steps=steps)
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "Expected validation_data as (x, y), (x, y, sample_weight) or a dataset. "
                f"Received: {type(validation_data).__name__}"
            )
        vx, vy, vw = (*validation_data, None)[:3]
        vx, vy = self._check_arrays(vx, vy)
        return EpochIterator(vx, vy, vw, batch_size, False, steps)

    def _default_callbacks(self, user_callbacks, history, verbose):
        result = list(user_callbacks or [])
        if not any(isinstance(c, callbacks_module.TerminateOnNaN) for c in result):
            result.insert(0, callbacks_module.TerminateOnNaN())
        result.append(history)
        if verbose:
            result.append(callbacks_module.ProgbarLogger())
        return result

    # --- evaluation ----------------------------------------------------------------------
    def _evaluate_loop(self, data, cbs):
        """Mean loss and metrics over ``data`` (an EpochIterator), firing the test hooks."""
        cbs.on_test_begin({})
        self._reset_trackers()
        ran = False
        with no_grad():
            for step, (xb, yb, wb) in data:
                if data.arrays is None:
                    xb, yb = self._check_arrays(xb, yb)
                ran = True
                cbs.on_test_batch_begin(step, {})
                y_pred = self(xb, training=False)
                total, parts = self.compute_loss(yb, y_pred, wb)
                self._update_trackers(
                    float(total.data), parts, yb, _to_arrays(y_pred), _batch_len(xb)
                )
                cbs.on_test_batch_end(step, self._logs())
        if not ran:
            raise ValueError("The evaluation data yielded no batch.")
        logs = self._logs()
        cbs.on_test_end(logs)
        return logs

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose=0,
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
    ):
        """Mean loss and metrics over ``(x, y)`` (or a dataset) in inference mode.

        Returns:
            the loss, or ``[loss, *metrics]`` when there are more logs, or a dict.
        """
        self._require_compiled("evaluate")
        if not is_dataset(x):
            x, y = self._check_arrays(x, y)
        data = EpochIterator(x, y, sample_weight, checks.batch_size(batch_size), False, steps)
        cbs = callbacks_module.CallbackList(
            callbacks, model=self, params={"steps": data.steps, "verbose": verbose}
        )
        results = self._evaluate_loop(data, cbs)
        if resolve_verbose(verbose):
            print(callbacks_module.format_logs(results))
        return _format_results(results, return_dict)

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on ``(x, y)``; returns the loss (and metrics) on that batch."""
        self._require_compiled("train_on_batch")
        x, y = self._check_arrays(x, y)
        ((_, (x, y, w)),) = EpochIterator(
            x, y, sample_weight, _batch_len(x), False, 1, class_weight
        )
        loss, y_pred = self.train_step(x, y, w)
        return self._batch_results(loss, self._last_parts, y, y_pred, x, return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """The loss (and metrics) on ``(x, y)`` without updating weights."""
        self._require_compiled("test_on_batch")
        x, y = self._check_arrays(x, y)
        with no_grad():
            y_pred = self(x, training=False)
            total, parts = self.compute_loss(y, y_pred, sample_weight)
        return self._batch_results(float(total.data), parts, y, _to_arrays(y_pred), x, return_dict)

    def _batch_results(self, loss, parts, y, y_pred, x, return_dict):
        self._reset_trackers()
        self._update_trackers(loss, parts, y, y_pred, _batch_len(x))
        return _format_results(self._logs(), return_dict)

    # --- inference -----------------------------------------------------------------------
    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """Outputs for ``x`` (arrays or a dataset of batches) computed in batches in
        inference mode: one array, or a list or dict of arrays for several outputs."""
        if not is_dataset(x):
            x, _ = self._check_arrays(x, None)
        data = EpochIterator(x, batch_size=checks.batch_size(batch_size), steps=steps)
        cbs = callbacks_module.CallbackList(
            callbacks, model=self, params={"steps": data.steps, "verbose": verbose}
        )
        cbs.on_predict_begin({})
        outputs = []
        with no_grad():
            for step, (xb, _, _) in data:
                cbs.on_predict_batch_begin(step, {})
                outputs.append(_to_arrays(self(xb, training=False)))
                cbs.on_predict_batch_end(step, {"outputs": outputs[-1]})
        cbs.on_predict_end({})
        if not outputs:
            raise ValueError("The prediction data yielded no batch.")
        first = outputs[0]
        if isinstance(first, dict):
            return {k: np.concatenate([o[k] for o in outputs]) for k in first}
        if isinstance(first, list):
            return [np.concatenate([o[i] for o in outputs]) for i in range(len(first))]
        return np.concatenate(outputs)

    def predict_on_batch(self, x):
        """Outputs for one batch."""
        return self.predict(x, batch_size=_batch_len(as_inputs(x)))


def _to_arrays(y):
    if isinstance(y, dict):
        return {k: _to_arrays(v) for k, v in y.items()}
    if isinstance(y, (list, tuple)):
        return [_to_arrays(v) for v in y]
    return y.data if isinstance(y, Tensor) else np.asarray(y)


def _batch_len(x):
    if isinstance(x, dict):
        x = next(iter(x.values()))
    elif isinstance(x, (list, tuple)):
        x = x[0]
    return len(x)


def _validation_due(epoch, validation_freq):
    if isinstance(validation_freq, int):
        if validation_freq < 1:
            raise ValueError(
                f"Expected validation_freq >= 1. Received: validation_freq={validation_freq}"
            )
        return (epoch + 1) % validation_freq == 0
    return epoch + 1 in validation_freq


def _format_results(results, return_dict):
    if return_dict:
        return results
    values = list(results.values())
    return values[0] if len(values) == 1 else values


def _check_training_data(model, x, y):
    """Samples to train on, and finite numbers in every input and target."""
    inputs = model.flatten_inputs(x)
    checks.not_empty("x", len(inputs[0]))
    for a in inputs:
        checks.finite("x", a)
    for t in model._targets_list(y) if y is not None else []:
        if t is not None:
            checks.finite("y", t)


def _stop_unfinished(model, history, epoch, step, epoch_start):
    """Stop fit at a step that was not applied, restoring the epoch's first weights if the
    step had already changed them, and say so (``history.nan_stop`` and a warning)."""
    reason = model._unfinished_step
    if reason.startswith("the step made"):
        model.set_weights(epoch_start[0])
        model.optimizer.set_state(epoch_start[1])
        kept = f"of the start of epoch {epoch + 1}"
    else:
        kept = "of the last step applied"
    model.stop_training = True
    history.nan_stop = {"epoch": epoch, "batch": step, "reason": reason, "weights": kept}
    warnings.warn(
        f"fit stopped at epoch {epoch + 1}, batch {step}: {reason}. That step was not applied; "
        f"the model keeps the weights {kept}. (A learning rate that is too high, or unscaled "
        "inputs, are the usual causes.)",
        RuntimeWarning,
        stacklevel=3,
    )
