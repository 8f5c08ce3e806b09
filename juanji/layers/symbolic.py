"""Symbolic tensors: placeholders with a known shape that record the layer calls made on them.

``Input(shape)`` returns a :class:`KerasTensor`; calling a layer on one (or on a list of
them) builds the layer from the input shapes, works out the output shapes by running it once
on a batch of one zero sample, and returns new symbolic tensors that remember the call in a
:class:`Node`. ``juanji.functional.Functional`` turns such a graph into a model. Arithmetic
on symbolic tensors records a layer: ``x + residual`` an ``Add`` (``-`` a ``Subtract``, ``*``
a ``Multiply``), and ``2.0 * x``, ``x / y`` or ``x @ w`` an :class:`Operator`.
"""

import numpy as np

from juanji import backend, ops, registry
from juanji.autograd import no_grad
from juanji.layers.base import Layer, unique_name
from juanji.layers.merge import Add, Multiply, Subtract

_PROBE_SIZES = (7, 11)  # stand-ins for unknown non-batch sizes (two, to see which outputs vary)


class Node:
    """One call of ``layer``: the symbolic ``inputs`` it was given (a tensor, or a list of
    them), the keyword arguments of the call and the symbolic ``outputs`` it returned."""

    def __init__(self, layer, inputs, kwargs, outputs):
        self.layer = layer
        self.inputs = inputs
        self.kwargs = kwargs
        self.outputs = outputs

    @property
    def flat_inputs(self):
        """The input tensors as a list."""
        return list(self.inputs) if isinstance(self.inputs, (list, tuple)) else [self.inputs]


class KerasTensor:
    """A symbolic batch: its ``shape`` (``None`` for the batch axis and unknown sizes),
    ``dtype``, and the :class:`Node` (``node``) and output position (``index``) that made it.

    Example:
        >>> from juanji.layers import Dense
        >>> x = Input((4,))
        >>> Dense(3)(x).shape
        (None, 3)
    """

    is_symbolic = True

    def __init__(self, shape, dtype=None, node=None, index=0):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype or backend.floatx())
        self.node = node
        self.index = index

    ndim = property(
        lambda self: len(self.shape), doc="The number of axes, the batch axis included."
    )

    @property
    def name(self):
        """The name of the layer that produced this tensor."""
        return self.node.layer.name

    def record_call(self, layer, inputs, args, kwargs):
        """Record ``layer(inputs, *args, **kwargs)`` and return its symbolic outputs."""
        return record_call(layer, inputs, args, kwargs)

    def describe(self):
        """``'<layer>' (<Type>) output of shape (None, ...)``, for error messages."""
        layer = self.node.layer
        return f"'{layer.name}' ({type(layer).__name__}) output of shape {self.shape}"

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"A symbolic tensor has no values (it is {self.describe()}): build a model "
            "with juanji.Model(inputs, outputs) and call it on arrays."
        )

    def __bool__(self):
        raise TypeError("A symbolic tensor has no truth value: it holds no values yet.")

    __hash__ = object.__hash__

    def __add__(self, other):
        return _operate("add", self, other)

    def __radd__(self, other):
        return _operate("add", other, self)

    def __sub__(self, other):
        return _operate("subtract", self, other)

    def __rsub__(self, other):
        return _operate("subtract", other, self)

    def __mul__(self, other):
        return _operate("multiply", self, other)

    def __rmul__(self, other):
        return _operate("multiply", other, self)

    def __truediv__(self, other):
        return _operate("divide", self, other)

    def __rtruediv__(self, other):
        return _operate("divide", other, self)

    def __matmul__(self, other):
        return _operate("matmul", self, other)

    def __neg__(self):
        return _operate("multiply", self, -1.0)


def flatten_structure(structure):
    """The leaves of a tensor, or of a list, tuple or dict of tensors, as a list."""
    if isinstance(structure, dict):
        return list(structure.values())
    if isinstance(structure, (list, tuple)):
        return list(structure)
    return [structure]


def _probe(tensor, size):
    shape = (1, *(size if n is None else n for n in tensor.shape[1:]))
    return np.zeros(shape, tensor.dtype)


def _probe_inputs(inputs, size):
    if isinstance(inputs, (list, tuple)):
        return [_probe(x, size) for x in inputs]
    return _probe(inputs, size)


def _run_probe(layer, inputs, args, kwargs, size):
    kwargs = dict(kwargs, training=False)  # never update statistics on a stand-in batch
    with no_grad(), np.errstate(all="ignore"):  # zeros may divide by zero: only shapes matter
        y = layer(_probe_inputs(inputs, size), *args, **kwargs)
    return [y] if not isinstance(y, (list, tuple)) else list(y)


def record_call(layer, inputs, args, kwargs):
    """Build ``layer`` if needed, find its output shapes and record the call in a Node.

    Args:
        layer: the layer being called.
        inputs: a KerasTensor or a list or tuple of them.
        args, kwargs: the call's other arguments (``training`` among ``kwargs``).

    Returns:
        a KerasTensor, or a list of them for a layer with several outputs.

    Raises:
        TypeError: if symbolic and concrete inputs are mixed.
        ValueError: if the layer refuses its inputs; the message names the layer and
            each input's producing layer and shape.
    """
    if isinstance(inputs, dict):
        raise TypeError(
            f"Layer '{layer.name}' was called on a dict; pass one symbolic tensor or a list."
        )
    flat = flatten_structure(inputs)
    for position, x in enumerate(flat):
        if not isinstance(x, KerasTensor):
            raise TypeError(
                f"Layer '{layer.name}' was called on symbolic and concrete inputs together: "
                f"input {position} is {type(x).__name__}. Use juanji.Input tensors for all."
            )
    try:
        outputs = _run_probe(layer, inputs, args, kwargs, _PROBE_SIZES[0])
        unknown = any(n is None for x in flat for n in x.shape[1:])
        again = _run_probe(layer, inputs, args, kwargs, _PROBE_SIZES[1]) if unknown else outputs
    except (ValueError, TypeError) as error:
        sources = " and ".join(x.describe() for x in flat)
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) cannot be called on {sources}: {error}"
        ) from None
    node = Node(layer, inputs, {k: v for k, v in kwargs.items() if k != "training"}, [])
    if kwargs.get("training"):
        node.kwargs["training"] = True
    for index, (y, y2) in enumerate(zip(outputs, again)):
        shape = (None, *(a if a == b else None for a, b in zip(y.shape[1:], y2.shape[1:])))
        node.outputs.append(KerasTensor(shape, y.dtype, node, index))
    layer.output_shape = node.outputs[0].shape
    if getattr(layer, "_first_node", None) is None:
        layer._first_node = node
    return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)


@registry.register("layer", "Input")
class InputLayer(Layer):
    """The layer behind ``Input``: declares the shape of one sample and passes data through.

    Args:
        shape: the sample shape without the batch axis, e.g. ``(28, 28, 1)``.
        dtype: the inputs' dtype (default ``backend.floatx()``).

    Example:
        >>> InputLayer((28, 28, 1)).input_shape
        (28, 28, 1)
    """

    def __init__(self, shape=None, *, input_shape=None, batch_size=None, **kwargs):
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("Input needs a `shape`. Received: shape=None")
        if isinstance(shape, int):
            shape = (shape,)
        super().__init__(input_shape=tuple(shape), **kwargs)
        self.batch_size = batch_size
        tensor = KerasTensor((None, *self.input_shape), self.dtype)
        tensor.node = self._first_node = Node(self, [], {}, [tensor])
        self.output_shape = tensor.shape

    def call(self, x):
        return x

    def _check_first_input(self, x):
        sample = tuple(x.shape[1:])
        if len(sample) != len(self.input_shape) or any(
            n is not None and n != m for n, m in zip(self.input_shape, sample)
        ):
            raise ValueError(
                f"Input '{self.name}' expects input of shape {self.output.shape}. "
                f"Received: x.shape={x.shape}"
            )

    def _check_input(self, x):
        self._check_first_input(x)

    def get_config(self):
        config = super().get_config()
        config["shape"] = config.pop("input_shape")
        if self.dtype is not None:
            config["dtype"] = str(np.dtype(self.dtype))
        return config


def Input(shape=None, *, name=None, dtype=None, batch_size=None, input_shape=None):  # noqa: N802
    """A symbolic batch of samples of ``shape``: the start of a functional model, or the
    first entry of a ``Sequential``.

    Args:
        shape: the sample shape without the batch axis, e.g. ``(28, 28, 1)``; ``None``
            entries are sizes known only at run time.
        name: the input's name (``fit`` accepts a dict of arrays keyed by input names).
        dtype: the inputs' dtype (default ``backend.floatx()``).
        batch_size: accepted for Keras compatibility; batches may have any size.

    Returns:
        a KerasTensor of shape ``(None, *shape)``.

    Example:
        >>> Input(shape=(28, 28, 1)).shape
        (None, 28, 28, 1)
    """
    layer = InputLayer(
        shape, input_shape=input_shape, name=name, dtype=dtype, batch_size=batch_size
    )
    return layer.output


_OPERATORS = ("add", "subtract", "multiply", "divide", "matmul")


@registry.register("layer")
class Operator(Layer):
    """Arithmetic recorded from symbolic tensors that no merge layer does: ``x * 2.0``,
    ``1.0 - x``, ``x / y``, ``x @ w``...

    Args:
        op: ``"add"``, ``"subtract"``, ``"multiply"``, ``"divide"`` or ``"matmul"``.
        constant: a number standing for one operand, or None when both are tensors.
        constant_first: whether the constant is the left operand.

    Shape:
        [(N, ...), (N, ...)] -> (N, ...) broadcast; (N, ...) -> (N, ...) with a constant.
    """

    def __init__(self, op, constant=None, constant_first=False, **kwargs):
        kwargs.setdefault("name", unique_name(op))
        super().__init__(**kwargs)
        if op not in _OPERATORS:
            raise ValueError(f"Expected op in {_OPERATORS}. Received: op={op!r}")
        self.op = op
        self.constant = constant
        self.constant_first = constant_first

    def call(self, inputs):
        fn = getattr(ops, self.op)
        if self.constant is None:
            return fn(inputs[0], inputs[1])
        if self.constant_first:
            return fn(self.constant, inputs)
        return fn(inputs, self.constant)

    def _check_input(self, x):
        """Any shape the operation accepts."""

    def get_config(self):
        return {
            **super().get_config(),
            "op": self.op,
            "constant": self.constant,
            "constant_first": self.constant_first,
        }


_MERGES = {"add": Add, "subtract": Subtract, "multiply": Multiply}


def _operate(op, a, b):
    if isinstance(a, KerasTensor) and isinstance(b, KerasTensor):
        return (_MERGES[op]() if op in _MERGES else Operator(op))([a, b])
    constant_first = not isinstance(a, KerasTensor)
    constant, tensor = (a, b) if constant_first else (b, a)
    if not isinstance(constant, (int, float)):
        return NotImplemented
    return Operator(op, constant=float(constant), constant_first=constant_first)(tensor)
