"""Models: ``Sequential`` stacks and subclassed ``Model``s, with Keras's training API.

A model is a Layer that tracks the layers assigned to it, plus ``compile`` (optimizer, loss,
metrics), ``fit``, ``evaluate``, ``predict``, ``train_on_batch``, ``summary`` and ``save``.
"""

import numpy as np

from juanji import backend, losses, optimizers, registry, saving
from juanji import callbacks as callbacks_module
from juanji import metrics as metrics_module
from juanji.autograd import no_grad
from juanji.data.utils import batches
from juanji.layers.base import Layer, set_weight_arrays
from juanji.layers.symbolic import InputLayer


class Model(Layer):
    """Subclass and define ``call(x, training=False)`` for networks that are not a chain.

    Layers assigned as attributes (or in lists) are tracked: their weights are the model's.

    Example:
        >>> from juanji.layers import Dense
        >>> class TwoHeads(Model):
        ...     def __init__(self, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.hidden = Dense(8, activation="relu")
        ...         self.out = Dense(3)
        ...     def call(self, x, training=False):
        ...         h = self.hidden(x)
        ...         return self.out(h) + self.out(h * 2.0)
        >>> model = TwoHeads()
        >>> model(np.ones((2, 4), np.float32)).shape
        (2, 3)
        >>> model.count_params()
        67
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and (len(args) >= 2 or {"inputs", "outputs"} <= kwargs.keys()):
            from juanji.functional import Functional  # NOTE: functional builds on this module

            return object.__new__(Functional)  # Python then runs Functional.__init__
        return object.__new__(cls)

    def __init__(self, **kwargs):
        object.__setattr__(self, "_layers", [])
        super().__init__(**kwargs)
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self.build_input_shape = None
        self._resume_epoch = 0
        self._metric_ids = []
        self._metrics = []

    def __setattr__(self, name, value):
        if isinstance(value, Layer) and value is not self:
            self._track(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, Layer):
                    self._track(item)
        object.__setattr__(self, name, value)

    def _track(self, layer):
        if all(layer is not known for known in self._layers):
            self._layers.append(layer)

    @property
    def layers(self):
        """The tracked layers, in the order they were assigned."""
        return list(self._layers)

    def _collect(self, attribute):
        seen, result = set(), []
        for layer in self._layers:
            for w in getattr(layer, attribute):
                if id(w) not in seen:
                    seen.add(id(w))
                    result.append(w)
        return result

    def _maybe_build(self):
        """Build from the declared input shape, if there is one and the model is not built."""
        declared = self._declared_input_shape()
        if not self.built and declared is not None:
            self.build((None, *declared))

    @property
    def trainable_weights(self):
        self._maybe_build()
        return self._collect("trainable_weights") if self.trainable else []

    @property
    def non_trainable_weights(self):
        self._maybe_build()
        if not self.trainable:
            return self._collect("weights")
        return self._collect("non_trainable_weights")

    @property
    def losses(self):
        return [penalty for layer in self._layers for penalty in layer.losses]

    def set_weights(self, arrays):
        set_weight_arrays(self.weights, arrays, owner=self.name)

    # --- building ------------------------------------------------------------------------
    def build(self, input_shape):
        """Create every weight by running one zero sample of ``input_shape`` (or of each
        shape in a list, for a model of several inputs) through the model."""
        if isinstance(input_shape, list):
            shapes = [(None, *tuple(s)[1:]) for s in input_shape]
            probe = [np.zeros((1, *s[1:]), backend.floatx()) for s in shapes]
            self.build_input_shape = shapes
        else:
            self.build_input_shape = (None, *tuple(input_shape)[1:])
            probe = np.zeros((1, *self.build_input_shape[1:]), backend.floatx())
        if not self.built:
            self.built = True
            self._built_shape = None if isinstance(probe, list) else probe.shape
            with no_grad():
                self(probe)

    def _check_first_input(self, x):
        super()._check_first_input(x)
        self.build_input_shape = (None, *x.shape[1:])

    def _check_input(self, x):
        expected = self.build_input_shape
        if expected is not None and tuple(x.shape[1:]) != tuple(expected[1:]):
            raise ValueError(
                f"Model '{self.name}' expects input of shape "
                f"(None, {', '.join(map(str, expected[1:]))}). Received: x.shape={x.shape}"
            )

    # --- compiling -----------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer, the loss and the metrics, by name or instance.

        Raises:
            ValueError: for an unknown optimizer, loss or metric name, or a missing loss.
        """
        if loss is None:
            raise ValueError(
                "compile() needs a loss, e.g. loss='categorical_crossentropy'. Received: loss=None"
            )
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        self._metric_ids = list(metrics or [])
        self._metrics = [metrics_module.resolve_metric(m, self.loss) for m in self._metric_ids]
        self.compiled = True

    def compile_config(self):
        """The compile settings as JSON values (for model files)."""
        return {
            "optimizer": registry.serialize(self.optimizer),
            "loss": registry.serialize(self.loss),
            "metrics": [
                m if isinstance(m, str) else registry.serialize(m) for m in self._metric_ids
            ],
        }

    @staticmethod
    def compile_from_config(config):
        """``compile`` keyword arguments rebuilt from ``compile_config()``."""
        return {
            "optimizer": optimizers.get(config["optimizer"]),
            "loss": losses.get(config["loss"]),
            "metrics": [
                registry.get("metric", m) if isinstance(m, dict) else m for m in config["metrics"]
            ],
        }

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"Call compile() before {what}().")

    @property
    def metrics_names(self):
        """``"loss"`` then the name of each compiled metric, the order of ``evaluate``."""
        return ["loss"] + [m.name for m in self._metrics]

    # --- data checks ---------------------------------------------------------------------
    def _check_arrays(self, x, y):
        """Validate and convert (x, y) before any step: float x of the model's input shape,
        as many targets as samples, targets that fit the loss and the output shape."""
        x = np.asarray(x)
        if x.dtype.kind not in "iubf":
            raise TypeError(f"Expected numeric input data. Received: x.dtype={x.dtype}")
        # NOTE: inputs take the weights' dtype, as Keras casts to the compute dtype, so
        # `x / 255.0` (float64) does not silently run the whole model in float64.
        x = x.astype(backend.floatx(), copy=False)
        if x.ndim < 2:
            raise ValueError(
                f"Expected x with a batch axis and at least one feature axis. "
                f"Received: x.shape={x.shape}"
            )
        if y is not None:
            y = np.asarray(y)
            if len(x) != len(y):
                raise ValueError(
                    f"x and y must hold the same number of samples. "
                    f"Received: len(x)={len(x)}, len(y)={len(y)}"
                )
        self._ensure_built(x.shape)
        self._check_input(x)
        if y is not None and self.compiled:
            losses.validate_targets(self.loss, y, self.output_shape)
        return x, y

    def _ensure_built(self, input_shape):
        self._maybe_build()
        if not self.built:
            self.build(input_shape)

    def _declared_input_shape(self):
        return None

    # --- training ------------------------------------------------------------------------
    def train_step(self, x, y):
        """One optimizer step on a batch; returns the batch loss as a float and predictions."""
        y_pred = self(x, training=True)
        loss = self.loss(y, y_pred)
        penalties = self.losses
        total = sum(penalties, loss) if penalties else loss
        params = self.trainable_weights
        for p in params:
            p.grad = None
        total.backward()
        self.optimizer.apply([p.grad for p in params], params)
        return float(loss.data), y_pred.data

    def _batch_source(self, x, y, batch_size, shuffle, steps_per_epoch):
        """A function giving one epoch's batches, for arrays or for a batch iterator."""
        if isinstance(x, np.ndarray) or (y is not None):
            n = len(x)

            def epoch():
                for index in batches(n, batch_size, shuffle=shuffle):
                    if shuffle:
                        index = np.sort(index)  # NOTE: sorted gathers are faster
                    yield x[index], y[index]

            return epoch, -(-n // batch_size)
        steps = steps_per_epoch if steps_per_epoch is not None else _len_or_none(x)
        if steps is None:
            raise ValueError(
                "A batch generator needs steps_per_epoch (it has no len()). "
                "Received: steps_per_epoch=None"
            )
        iterator = iter(x)

        def epoch():
            for _ in range(steps):
                try:
                    xb, yb = next(iterator)[:2]
                except StopIteration:
                    return
                yield self._check_arrays(xb, yb)

        return epoch, steps

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
        initial_epoch=0,
        steps_per_epoch=None,
        validation_batch_size=None,
    ):
        """Train for ``epochs`` passes over ``x``/``y`` (arrays) or over a batch generator.

        ``validation_split`` holds out the *last* fraction of the arrays before shuffling,
        as Keras does. Training stops early on a NaN or infinite loss (``TerminateOnNaN``).

        Returns:
            a ``History`` whose ``.history`` maps each metric (and ``val_`` metric) to a list
            with one value per epoch.

        Raises:
            ValueError, TypeError: for data that does not fit the model or the loss,
            before any training step.
        """
        self._require_compiled("fit")
        batch_size = batch_size or 32
        verbose = 1 if verbose == "auto" else verbose
        if not 0 <= validation_split < 1:
            raise ValueError(
                f"Expected validation_split in [0, 1). "
                f"Received: validation_split={validation_split}"
            )
        if isinstance(x, np.ndarray) or y is not None:
            x, y = self._check_arrays(x, y)
            if validation_split and validation_data is None:
                cut = len(x) - int(len(x) * validation_split)
                if cut == len(x) or cut == 0:
                    raise ValueError(
                        f"validation_split={validation_split} leaves no "
                        f"{'validation' if cut == len(x) else 'training'} samples "
                        f"of {len(x)}."
                    )
                x, y, validation_data = x[:cut], y[:cut], (x[cut:], y[cut:])
        if validation_data is not None:
            validation_data = self._check_arrays(*validation_data[:2])
        epoch_batches, steps = self._batch_source(x, y, batch_size, shuffle, steps_per_epoch)

        history = callbacks_module.History()
        cbs = callbacks_module.CallbackList(
            self._default_callbacks(callbacks, history, verbose),
            model=self,
            params={"epochs": epochs, "steps": steps, "verbose": verbose},
        )
        self.stop_training = False
        cbs.on_train_begin()
        initial_epoch = max(initial_epoch, self._resume_epoch)
        self._resume_epoch = 0
        loss_mean = metrics_module.Mean(name="loss")
        epoch_logs = {}
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            loss_mean.reset_state()
            for m in self._metrics:
                m.reset_state()
            for step, (xb, yb) in enumerate(epoch_batches()):
                cbs.on_train_batch_begin(step)
                loss, y_pred = self.train_step(xb, yb)
                loss_mean.update_state(loss, sample_weight=len(xb))
                for m in self._metrics:
                    m.update_state(yb, y_pred)
                logs = {"loss": loss_mean.result(), **self._metric_results()}
                cbs.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            epoch_logs = {"loss": loss_mean.result(), **self._metric_results()}
            if validation_data is not None and not self.stop_training:
                val = self.evaluate(
                    *validation_data,
                    batch_size=validation_batch_size or batch_size,
                    return_dict=True,
                )
                epoch_logs.update({f"val_{k}": v for k, v in val.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        cbs.on_train_end(epoch_logs)
        self.history = history
        return history

    def _default_callbacks(self, user_callbacks, history, verbose):
        user_callbacks = list(user_callbacks or [])
        result = list(user_callbacks)
        if not any(isinstance(c, callbacks_module.TerminateOnNaN) for c in result):
            result.insert(0, callbacks_module.TerminateOnNaN())
        result.append(history)
        if verbose:
            result.append(callbacks_module.ProgbarLogger())
        return result

    def _metric_results(self):
        return {m.name: m.result() for m in self._metrics}

    def train_on_batch(self, x, y, return_dict=False):
        """One optimizer step on ``(x, y)``; returns the loss (and metrics) on that batch."""
        self._require_compiled("train_on_batch")
        x, y = self._check_arrays(x, y)
        loss, y_pred = self.train_step(x, y)
        return self._batch_results(loss, y, y_pred, return_dict)

    def test_on_batch(self, x, y, return_dict=False):
        """The loss (and metrics) on ``(x, y)`` without updating weights."""
        self._require_compiled("test_on_batch")
        x, y = self._check_arrays(x, y)
        with no_grad():
            y_pred = self(x, training=False)
            loss = float(self.loss(y, y_pred).data)
        return self._batch_results(loss, y, y_pred.data, return_dict)

    def _batch_results(self, loss, y, y_pred, return_dict):
        results = {"loss": loss}
        for m in self._metrics:
            m.reset_state()
            m.update_state(y, y_pred)
            results[m.name] = m.result()
        return _format_results(results, return_dict)

    # --- inference -----------------------------------------------------------------------
    def evaluate(self, x, y, batch_size=None, verbose=0, return_dict=False):
        """Mean loss and metrics over ``(x, y)`` in inference mode.

        Returns:
            the loss, or ``[loss, *metrics]`` when metrics were compiled, or a dict.
        """
        self._require_compiled("evaluate")
        x, y = self._check_arrays(x, y)
        batch_size = batch_size or 32
        loss_mean = metrics_module.Mean(name="loss")
        for m in self._metrics:
            m.reset_state()
        with no_grad():
            for start in range(0, len(x), batch_size):
                xb, yb = x[start : start + batch_size], y[start : start + batch_size]
                y_pred = self(xb, training=False)
                loss_mean.update_state(float(self.loss(yb, y_pred).data), sample_weight=len(xb))
                for m in self._metrics:
                    m.update_state(yb, y_pred.data)
        results = {"loss": loss_mean.result(), **self._metric_results()}
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in results.items()))
        return _format_results(results, return_dict)

    def predict(self, x, batch_size=None, verbose=0):
        """Outputs for ``x`` computed in batches in inference mode, as one array."""
        x, _ = self._check_arrays(x, None)
        batch_size = batch_size or 32
        with no_grad():
            outputs = [
                self(x[start : start + batch_size], training=False).data
                for start in range(0, len(x), batch_size)
            ]
        return np.concatenate(outputs)

    def predict_on_batch(self, x):
        """Outputs for one batch."""
        return self.predict(x, batch_size=len(x))

    # --- describing and saving -----------------------------------------------------------
    def summary(self, print_fn=print):
        """Print each layer's output shape and parameter count, and the totals."""
        self._maybe_build()
        if not self.built:
            raise ValueError(
                f"Model '{self.name}' is not built: give it an input shape "
                "(an Input layer or input_shape=...) or call it first."
            )
        headers = ("Layer (type)", "Output Shape", "Param #")
        rows = self.summary_rows()
        if rows and len(rows[0]) == 4:
            headers += ("Connected to",)
        width = [max(28, *(len(r[0]) + 1 for r in rows)), 26, 12, 30][: len(headers)]
        line = "_" * sum(width)
        trainable = sum(w.size for w in self.trainable_weights)
        total = self.count_params()
        lines = [
            f'Model: "{self.name}"',
            line,
            "".join(h.ljust(n) for h, n in zip(headers, width)),
            "=" * sum(width),
        ]
        lines += ["".join(c.ljust(n) for c, n in zip(r, width)) for r in rows]
        lines += [
            "=" * sum(width),
            f"Total params: {total:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}",
            line,
        ]
        print_fn("\n".join(lines))

    def summary_rows(self):
        """(layer, output shape, parameters) per layer, for ``summary``."""
        return [
            (
                f"{layer.name} ({type(layer).__name__})",
                str(layer.output_shape),
                f"{layer.count_params():,}",
            )
            for layer in self._layers
            if not isinstance(layer, InputLayer)
        ]

    def get_layer(self, name=None, index=None):
        """The layer called ``name``, or at position ``index`` of ``layers``.

        Raises:
            ValueError: naming the known layers when there is no such layer.
        """
        if index is not None:
            if not -len(self._layers) <= index < len(self._layers):
                raise ValueError(
                    f"Model '{self.name}' has {len(self._layers)} layers. Received: index={index}"
                )
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No layer named {name!r} in model '{self.name}'. "
            f"Known: {[layer.name for layer in self._layers]}"
        )

    def save(self, path):
        """Write the model (architecture, weights, compile settings, optimizer state)."""
        self._maybe_build()
        saving.save_model(self, path)

    def export(self, filepath, format="onnx", opset=None):
        """Write the model for another runtime: ONNX (needs ``pip install 'juanji[onnx]'``).

        The file takes and returns tensors in juanji's layout (images NHWC) with a dynamic
        batch axis; see ``juanji.interop.onnx``.

        Args:
            filepath: the file to write, e.g. ``"model.onnx"``.
            format: ``"onnx"``, the one format there is.
            opset: the ONNX operator set version (default 17).

        Raises:
            ValueError: for another format, or a layer that has no ONNX form (named).
        """
        if format != "onnx":
            raise ValueError(f"Expected format='onnx'. Received: format={format!r}")
        from juanji.interop import onnx as onnx_export

        return onnx_export.export_onnx(self, filepath, opset=opset)

    def save_weights(self, path):
        """Write only the weights, as a ``.npz`` file."""
        saving.save_weights(self, path)

    def load_weights(self, path):
        """Load weights written by ``save_weights`` or ``save`` into this built model."""
        saving.load_weights(self, path)


@registry.register("model")
class Sequential(Model):
    """A plain stack of layers, each feeding the next.

    Args:
        layers: a list of layers (more can be added with ``add``). The first may be an
            ``Input`` or carry ``input_shape=...``.

    Example:
        >>> from juanji.layers import Dense, Input
        >>> model = Sequential([Input((4,)), Dense(8, activation="relu"), Dense(3)])
        >>> model.count_params()
        67
        >>> model.predict(np.zeros((5, 4), np.float32)).shape
        (5, 3)
    """

    def __init__(self, layers=None, **kwargs):
        super().__init__(**kwargs)
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        """Append ``layer`` to the stack (``juanji.Input(shape)`` adds its input layer)."""
        if getattr(layer, "is_symbolic", False) and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a Layer. Received: {layer!r}")
        self._track(layer)
        self.built = False  # the next call builds the new layer

    def pop(self):
        """Remove and return the last layer."""
        self.built = False
        return self._layers.pop()

    def call(self, x, training=False):
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def _declared_input_shape(self):
        return self._layers[0].input_shape if self._layers else None

    def get_config(self):
        return {"name": self.name, "layers": [registry.serialize(layer) for layer in self._layers]}

    @classmethod
    def from_config(cls, config):
        layers = [registry.get("layer", c) for c in config.get("layers", [])]
        return cls(layers, name=config.get("name"))


def _len_or_none(x):
    try:
        return len(x)
    except TypeError:
        return None


def _format_results(results, return_dict):
    if return_dict:
        return results
    values = list(results.values())
    return values[0] if len(values) == 1 else values


def load_model(path, compile=True):
    """Load a model written by ``Model.save`` (see ``juanji.saving.load_model``)."""
    return saving.load_model(path, compile=compile)


__all__ = ["Model", "Sequential", "load_model"]
