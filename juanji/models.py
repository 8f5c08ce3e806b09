"""Models: ``Sequential`` stacks and subclassed ``Model``s, with Keras's training API.

A model is a Layer that tracks the layers assigned to it, with ``summary``, ``get_layer``
and ``save``; ``compile``, ``fit``, ``evaluate`` and ``predict`` come from
:class:`juanji.trainer.Trainer`. ``Model(inputs, outputs)`` makes a functional model
(:mod:`juanji.functional`).
"""

import numpy as np

from juanji import backend, registry, saving
from juanji.autograd import no_grad
from juanji.layers.base import Layer, set_weight_arrays
from juanji.layers.symbolic import InputLayer
from juanji.trainer import Trainer


class Model(Trainer, Layer):
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
        super().__init__(**kwargs)
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self.build_input_shape = None
        self._resume_epoch = 0

    @property
    def layers(self):
        """The tracked layers, in the order they were assigned."""
        return list(self._layers)

    def _maybe_build(self):
        """Build from the declared input shape, if there is one and the model is not built."""
        declared = self._declared_input_shape()
        if not self.built and declared is not None:
            self.build((None, *declared))

    @property
    def trainable_weights(self):
        self._maybe_build()
        return super().trainable_weights

    @property
    def non_trainable_weights(self):
        self._maybe_build()
        return super().non_trainable_weights

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

    # --- data checks ---------------------------------------------------------------------
    def _ensure_built(self, input_shape):
        self._maybe_build()
        if not self.built:
            self.build(input_shape)

    def _declared_input_shape(self):
        return None

    # --- describing and saving -----------------------------------------------------------
    def summary(self, print_fn=print, compare=False):
        """Print each layer's output shape and parameter count, and the totals; with
        ``compare=True`` also each convolution's count against the same map without weight
        sharing (locally connected) and as a dense layer (``Conv2D.parameter_counts``)."""
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
        if compare:
            lines += _sharing_lines(self._layers, line)
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


@registry.register("layer")
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
        layer = self._layers.pop()
        self._layer_ids.discard(id(layer))
        return layer

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


def load_model(path, compile=True):
    """Load a model written by ``Model.save`` (see ``juanji.saving.load_model``)."""
    return saving.load_model(path, compile=compile)


__all__ = ["Model", "Sequential", "load_model"]


def _sharing_lines(layers, line):
    """The rows of ``summary(compare=True)``: each convolution's parameters three ways."""
    head = ("Convolution", "Conv (shared)", "Locally connected", "Dense")
    width = (28, 16, 20, 16)
    counts = [(layer.name, layer.parameter_counts()) for layer in layers if _is_conv(layer)]
    rows = [
        (name, *(f"{c[k]:,}" for k in ("conv", "locally_connected", "dense"))) for name, c in counts
    ]
    if not rows:
        return ["No convolution layers to compare.", line]
    return [
        "".join(h.ljust(n) for h, n in zip(head, width)),
        *("".join(c.ljust(n) for c, n in zip(r, width)) for r in rows),
        line,
    ]


def _is_conv(layer):
    return hasattr(layer, "parameter_counts")
