"""Merge layers: combine a list of tensors into one (Add, Subtract, Multiply, Average,
Maximum, Minimum, Concatenate)."""

import functools

from juanji import ops, registry
from juanji.layers.base import Layer


class _Merge(Layer):
    """A layer called on a list of tensors whose shapes broadcast together (each axis equal,
    1 or unknown), combined pairwise by ``merge``."""

    min_inputs, max_inputs = 2, None

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        """The output shape for the list of input shapes.

        Raises:
            ValueError: for a single input, the wrong number of inputs, or shapes that do
                not broadcast, naming the layer and every shape.
        """
        shapes = self._check_list(input_shape)
        rank = max(len(s) for s in shapes)
        padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
        out = []
        for sizes in zip(*padded):
            known = {n for n in sizes if n is not None and n != 1}
            if len(known) > 1:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}' needs inputs of the same shape "
                    f"(or broadcastable). Received: shapes {', '.join(map(str, shapes))}"
                )
            out.append(known.pop() if known else (None if None in sizes else 1))
        return tuple(out)

    def _check_list(self, shapes):
        if not isinstance(shapes, (list, tuple)) or not all(
            isinstance(s, (list, tuple)) for s in shapes
        ):
            raise ValueError(
                f"{type(self).__name__} '{self.name}' must be called on a list of tensors. "
                f"Received: input of shape {tuple(shapes)}"
            )
        n = len(shapes)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            wanted = self.min_inputs if self.max_inputs == self.min_inputs else "at least 2"
            raise ValueError(
                f"{type(self).__name__} '{self.name}' needs {wanted} inputs. Received: {n} input(s)"
            )
        return [tuple(s) for s in shapes]

    def call(self, inputs):
        return self.combine(list(inputs))

    def combine(self, inputs):
        """The merged tensor of the list ``inputs``."""
        return functools.reduce(type(self).merge, inputs)


@registry.register("layer")
class Add(_Merge):
    """The elementwise sum of its inputs (a residual connection: ``Add()([x, f(x)])``).

    Example:
        >>> Add()([np.ones((2, 3), np.float32), np.ones((2, 3), np.float32)]).numpy()
        array([[2., 2., 2.],
               [2., 2., 2.]], dtype=float32)
    """

    merge = staticmethod(ops.add)


@registry.register("layer")
class Subtract(_Merge):
    """The difference of exactly two inputs, ``inputs[0] - inputs[1]``.

    Example:
        >>> Subtract()([np.ones((1, 2), np.float32), np.ones((1, 2), np.float32)]).numpy()
        array([[0., 0.]], dtype=float32)
    """

    max_inputs = 2
    merge = staticmethod(ops.subtract)


@registry.register("layer")
class Multiply(_Merge):
    """The elementwise product of its inputs (a gate: ``Multiply()([x, sigmoid(g)])``).

    Example:
        >>> Multiply()([np.full((1, 2), 3, np.float32), np.full((1, 2), 2, np.float32)]).numpy()
        array([[6., 6.]], dtype=float32)
    """

    merge = staticmethod(ops.multiply)


@registry.register("layer")
class Average(_Merge):
    """The elementwise mean of its inputs.

    Example:
        >>> Average()([np.zeros((1, 2), np.float32), np.ones((1, 2), np.float32)]).numpy()
        array([[0.5, 0.5]], dtype=float32)
    """

    merge = staticmethod(ops.add)

    def combine(self, inputs):
        return ops.multiply(super().combine(inputs), 1 / len(inputs))


@registry.register("layer")
class Maximum(_Merge):
    """The elementwise maximum of its inputs (ties send the gradient to the first).

    Example:
        >>> Maximum()([np.array([[1, 5]], np.float32), np.array([[3, 2]], np.float32)]).numpy()
        array([[3., 5.]], dtype=float32)
    """

    merge = staticmethod(ops.maximum)


@registry.register("layer")
class Minimum(_Merge):
    """The elementwise minimum of its inputs (ties send the gradient to the first).

    Example:
        >>> Minimum()([np.array([[1, 5]], np.float32), np.array([[3, 2]], np.float32)]).numpy()
        array([[1., 2.]], dtype=float32)
    """

    merge = staticmethod(ops.minimum)


@registry.register("layer")
class Concatenate(_Merge):
    """Joins its inputs along ``axis``; every other axis must match (Inception's branches:
    ``Concatenate()([a, b, c])`` stacks their channels).

    Args:
        axis: the axis to join along (default the last, channels).

    Example:
        >>> a, b = np.zeros((2, 4, 4, 3), np.float32), np.zeros((2, 4, 4, 5), np.float32)
        >>> Concatenate()([a, b]).shape
        (2, 4, 4, 8)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"Expected an int `axis`. Received: axis={axis!r}")
        self.axis = axis

    def compute_output_shape(self, input_shape):
        shapes = self._check_list(input_shape)
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank or self.axis == 0:
            raise ValueError(
                f"Concatenate '{self.name}' needs inputs of one rank and an axis other than "
                f"the batch axis. Received: axis={self.axis}, shapes "
                f"{', '.join(map(str, shapes))}"
            )
        axis = self.axis % rank
        out = list(shapes[0])
        for i in range(rank):
            sizes = [s[i] for s in shapes]
            if i == axis:
                out[i] = None if None in sizes else sum(sizes)
            elif i > 0 and len({n for n in sizes if n is not None}) > 1:
                raise ValueError(
                    f"Concatenate '{self.name}' needs inputs that match on every axis but "
                    f"axis={self.axis}. Received: shapes {', '.join(map(str, shapes))}"
                )
        return tuple(out)

    def combine(self, inputs):
        return ops.concat(*inputs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
