"""The Layer base class: weights built on first call, JSON-only config, regularisation losses."""

import contextlib
import contextvars
import functools
import inspect
import math
import re

from juanji import backend, initializers, ops, registry, regularizers  # noqa: F401  (registers names)
from juanji.autograd import Tensor, as_tensor

_name_counts = {}
# How deep in nested layer calls the current thread is (0: outside any forward pass).
_depth = contextvars.ContextVar("layer_call_depth", default=0)
# The weight values that layers may still create, while weight_budget is active.
_budget = contextvars.ContextVar("weight_budget", default=None)


@contextlib.contextmanager
def weight_budget(values):
    """While active, ``add_weight`` refuses to create more than ``values`` weight values in
    all, before allocating them: a model rebuilt from a file asks for no more than the file
    holds, however large the sizes its configuration declares.

    Raises:
        ValueError: (from ``add_weight``) naming the layer and the shape asked for.
    """
    token = _budget.set([values])
    try:
        yield
    finally:
        _budget.reset(token)


def unique_name(cls_name):
    """``cls_name`` in snake case, numbered after its first use: ``dense``, ``dense_1``..."""
    base = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", cls_name).lower()
    count = _name_counts.get(base, 0)
    _name_counts[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


class Layer:
    """A callable unit holding weights, in the Keras mould.

    ``__init__`` validates and stores the configuration, ``build(input_shape)`` creates the
    weights from the first input's shape, ``call(x, training)`` computes (``call`` receives
    ``training`` only when its signature names it). ``input_shape`` (without the batch axis)
    or ``input_dim`` may be given to the first layer of a ``Sequential``.

    A layer may take a list of inputs (a merge layer): ``build`` then receives the list of
    their shapes and ``call`` the list of tensors. Called on symbolic tensors
    (``juanji.Input``), a layer records the call in a functional graph and returns symbolic
    tensors of the output shapes (see ``juanji.layers.symbolic``).

    Args:
        name: a unique name; one is made from the class name when omitted.
        trainable: whether the optimizer updates this layer's weights.
        input_shape: the shape of one sample, e.g. ``(28, 28, 1)``.
        input_dim: the size of one sample's only axis: ``input_dim=8`` is ``input_shape=(8,)``.
        dtype: the weights' dtype (default ``backend.floatx()``).
    """

    def __init__(self, *, name=None, trainable=True, input_shape=None, input_dim=None, dtype=None):
        self.__dict__.setdefault("_layers", [])
        if input_dim is not None:
            if input_shape is not None and tuple(input_shape) != (input_dim,):
                raise ValueError(
                    "Give either input_dim or input_shape. "
                    f"Received: input_dim={input_dim!r}, input_shape={input_shape!r}"
                )
            input_shape = (input_dim,)
        self.name = name or unique_name(type(self).__name__)
        self.trainable = trainable
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.dtype = dtype
        self.built = False
        self._weights = []
        self._regularized = []
        self._added_losses = []
        self._built_shape = None
        self.output_shape = None

    # --- nested layers -------------------------------------------------------------------
    def __setattr__(self, name, value):
        if isinstance(value, Layer) and value is not self:
            self._track(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, Layer):
                    self._track(item)
        object.__setattr__(self, name, value)

    def _track(self, layer):
        """Own ``layer``: its weights and losses become this layer's too."""
        known = self.__dict__.setdefault("_layers", [])
        ids = self.__dict__.setdefault("_layer_ids", set())  # O(1) per layer, not O(len)
        if id(layer) not in ids:
            ids.add(id(layer))
            known.append(layer)

    def _collect(self, attribute):
        seen, result = set(), []
        for layer in self._layers:
            for w in getattr(layer, attribute):
                if id(w) not in seen:
                    seen.add(id(w))
                    result.append(w)
        return result

    # --- weights -------------------------------------------------------------------------
    def add_weight(
        self, shape, *, initializer="zeros", regularizer=None, trainable=True, name=None
    ):
        """Create a weight tensor of ``shape`` drawn by ``initializer`` (name or instance)."""
        left = _budget.get()
        if left is not None:
            size = math.prod(shape)
            if size > left[0]:
                raise ValueError(
                    f"Layer '{self.name}' asks for a {name} of shape {tuple(shape)} ({size} "
                    f"values), more than the {left[0]} weight values that remain of the budget."
                )
            left[0] -= size
        init = registry.get("initializer", initializer)
        data = init(tuple(shape), dtype=self.dtype or backend.floatx())
        weight = Tensor(data, requires_grad=trainable, name=f"{self.name}/{name}")
        self._weights.append((weight, trainable))
        if regularizer is not None:
            self._regularized.append((registry.get("regularizer", regularizer), weight))
        return weight

    @property
    def weights(self):
        """All weight tensors, trainable first in creation order then the others."""
        return self.trainable_weights + self.non_trainable_weights

    @property
    def trainable_weights(self):
        """The weights the optimizer updates, its own then its sublayers' (none when the
        layer is frozen)."""
        if not self.trainable:
            return []
        own = [w for w, trainable in self._weights if trainable]
        return own + self._collect("trainable_weights")

    @property
    def non_trainable_weights(self):
        """The weights the optimizer leaves alone (all of them when the layer is frozen)."""
        if not self.trainable:
            return [w for w, _ in self._weights] + self._collect("weights")
        own = [w for w, trainable in self._weights if not trainable]
        return own + self._collect("non_trainable_weights")

    @property
    def losses(self):
        """Regularisation penalties of this layer's weights, the losses its last call added
        with ``add_loss``, and its sublayers' losses, as differentiable scalars."""
        own = [penalty(w) for penalty, w in self._regularized] + list(self._added_losses)
        return own + [penalty for layer in self._layers for penalty in layer.losses]

    def add_loss(self, loss):
        """Add the scalar tensor ``loss`` to the training loss (from inside ``call``).

        The losses added during one forward pass (the outermost layer or model call) are
        kept until the next pass starts, however often a layer is called in it.
        """
        self._added_losses.append(as_tensor(loss))

    def count_params(self):
        """The number of scalars in this layer's weights."""
        return sum(w.size for w in self.weights)

    def get_weights(self):
        """Copies of the weight arrays, in ``weights`` order."""
        return [w.data.copy() for w in self.weights]

    def set_weights(self, arrays):
        """Load ``arrays`` into the weights, checking their number and shapes."""
        set_weight_arrays(self.weights, arrays, owner=self.name)

    # --- computing -----------------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch axis included)."""

    def call(self, x, training=False):
        """The layer's computation on a batch ``x`` (a Tensor, or a list for merge layers)."""
        raise NotImplementedError

    def __call__(self, inputs, *args, training=False, **kwargs):
        symbolic = first_symbolic(inputs)
        if symbolic is not None:
            return symbolic.record_call(self, inputs, args, dict(kwargs, training=training))
        if isinstance(inputs, (list, tuple)):
            inputs = [as_tensor(x) for x in inputs]
            shape = [x.shape for x in inputs]
            for x in inputs:
                self._check_dtype(x)
        else:
            inputs = as_tensor(inputs)
            shape = inputs.shape
        if not self.built:
            if not isinstance(inputs, list):
                self._check_first_input(inputs)
            self.build(shape)
            self.built = True
            self._built_shape = shape
        elif not isinstance(inputs, list):
            self._check_input(inputs)
        if _takes_training(type(self).call):
            kwargs["training"] = training
        with forward_pass(self):
            y = self.call(inputs, *args, **kwargs)
        if isinstance(y, Tensor):
            self.output_shape = (None, *y.shape[1:])
        return y

    @property
    def input(self):
        """The symbolic input(s) of this layer's first call on symbolic tensors."""
        node = self._symbolic_node()
        return node.outputs[0] if not node.flat_inputs else node.inputs

    @property
    def output(self):
        """The symbolic output(s) of this layer's first call on symbolic tensors, e.g. to
        build ``Model(model.inputs, [layer.output for layer in model.layers])``."""
        node = self._symbolic_node()
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    def _symbolic_node(self):
        node = self.__dict__.get("_first_node")
        if node is None:
            raise AttributeError(
                f"Layer '{self.name}' has not been called on symbolic tensors (juanji.Input), "
                "so it has no input or output tensor."
            )
        return node

    def _clear_added_losses(self):
        self._added_losses = []
        for layer in self._layers:
            layer._clear_added_losses()

    def _check_dtype(self, x):
        if x.dtype.kind != "f":
            raise TypeError(
                f"Layer '{self.name}' expects floating-point input. Received: x.dtype={x.dtype}"
            )

    def _check_first_input(self, x):
        self._check_dtype(x)
        if self.input_shape is not None and tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"Layer '{self.name}' expects input of shape (None, "
                f"{', '.join(map(str, self.input_shape))}). Received: x.shape={x.shape}"
            )

    def _check_input(self, x):
        """Inputs after the first must keep its rank and its last (feature) axis."""
        built = self._built_shape
        if x.ndim != len(built) or x.shape[-1] != built[-1]:
            expected = ("None",) + tuple(str(n) for n in built[1:])
            raise ValueError(
                f"Layer '{self.name}' was built for input of shape ({', '.join(expected)}). "
                f"Received: x.shape={x.shape}"
            )
        self._check_dtype(x)

    # --- config --------------------------------------------------------------------------
    def get_config(self):
        """JSON-only arguments that rebuild this layer with ``from_config``."""
        config = {"name": self.name, "trainable": self.trainable}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


@contextlib.contextmanager
def forward_pass(layer):
    """Within this block ``layer`` computes; if it is the outermost call of this thread, a new
    forward pass starts and the losses ``layer`` and its sublayers added before are cleared."""
    depth = _depth.get()
    if depth == 0:
        layer._clear_added_losses()
    token = _depth.set(depth + 1)
    try:
        yield
    finally:
        _depth.reset(token)


@functools.cache
def _takes_training(call):
    """Whether the function ``call`` accepts a ``training`` keyword argument."""
    parameters = inspect.signature(call).parameters.values()
    return any(p.name == "training" or p.kind is p.VAR_KEYWORD for p in parameters)


def first_symbolic(inputs):
    """The first symbolic tensor in ``inputs`` (a tensor, or a list, tuple or dict of
    them), or None when every input holds values."""
    items = inputs.values() if isinstance(inputs, dict) else inputs
    if not isinstance(items, (list, tuple)) and not isinstance(inputs, dict):
        items = (inputs,)
    return next((x for x in items if getattr(x, "is_symbolic", False)), None)


class ElementwiseLayer(Layer):
    """A layer acting on each value alone, so it takes inputs of any shape."""

    def _check_input(self, x):
        """Any shape is fine."""


class KernelLayer(Layer):
    """Shared by layers with a kernel, an optional bias and an optional activation
    (``Dense``, ``Conv2D``): their weights, their activation and their config."""

    def __init__(
        self,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.activation = activation_fn(activation)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer

    def build_kernel(self, kernel_shape, units=None):
        """Create ``kernel`` of ``kernel_shape`` and a bias of ``units`` values (by default
        its last axis's length), or None."""
        self.kernel = self.add_weight(
            kernel_shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            name="kernel",
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                (units or kernel_shape[-1],),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                name="bias",
            )

    def activate(self, y):
        """``y`` through the layer's activation, or unchanged when it has none."""
        return self.activation(y) if self.activation else y

    def get_config(self):
        return {
            **super().get_config(),
            "activation": activation_name(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": registry.serialize(self.kernel_initializer),
            "bias_initializer": registry.serialize(self.bias_initializer),
            "kernel_regularizer": registry.serialize(self.kernel_regularizer),
            "bias_regularizer": registry.serialize(self.bias_regularizer),
        }


def set_weight_arrays(weights, arrays, owner):
    """Copy ``arrays`` into the ``weights`` tensors after checking count, shapes and dtype."""
    arrays = list(arrays)
    if len(arrays) != len(weights):
        raise ValueError(
            f"'{owner}' expects {len(weights)} weight arrays. Received: {len(arrays)} arrays"
        )
    for w, a in zip(weights, arrays):
        if tuple(a.shape) != w.shape:
            raise ValueError(
                f"Weight '{w.name}' has shape {w.shape}. Received: shape={tuple(a.shape)}"
            )
    for w, a in zip(weights, arrays):
        w.data = a.astype(w.dtype, copy=True)


def activation_fn(identifier):
    """An activation function from a name, a callable, or None (identity)."""
    if identifier is None:
        return None
    fn = registry.get("activation", identifier)
    if not callable(fn):
        raise ValueError(f"Expected an activation name or callable. Received: {identifier!r}")
    return fn


def activation_name(fn):
    """The registered name of an activation function, for configs."""
    return None if fn is None else fn.__name__


def check_data_format(data_format):
    """``data_format`` after checking it is ``"channels_last"`` or ``"channels_first"``;
    None is Keras's default, ``"channels_last"``."""
    if data_format is None:
        return "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            "Expected data_format 'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format!r}"
        )
    return data_format


def to_channels_last(x, data_format):
    """(N, C, *S) -> (N, *S, C) for ``channels_first``, any number of spatial axes S;
    unchanged otherwise."""
    if data_format != "channels_first":
        return x
    return ops.transpose(x, axes=(0, *range(2, x.ndim), 1))


def from_channels_last(y, data_format):
    """(N, *S, C) -> (N, C, *S) for ``channels_first``; unchanged otherwise."""
    if data_format != "channels_first":
        return y
    return ops.transpose(y, axes=(0, y.ndim - 1, *range(1, y.ndim - 1)))


def check_padding(padding, allowed=("valid", "same", "full")):
    """Lower-case ``padding`` after checking it names one of ``allowed``."""
    if not isinstance(padding, str) or padding.lower() not in allowed:
        raise ValueError(f"Expected padding in {allowed}. Received: padding={padding!r}")
    return padding.lower()
