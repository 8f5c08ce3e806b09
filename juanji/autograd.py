"""Reverse-mode automatic differentiation.

A :class:`Tensor` holds an ndarray and, when it was computed from tensors that require
gradients, the backward closure of the op that made it. An op is written once, with
:func:`primitive`, as a function on plain arrays that returns its output and a closure
giving one gradient per array input::

    @primitive
    def mul(a, b):
        def backward(gy):
            return gy * b, gy * a
        return a * b, backward

:meth:`Tensor.backward` walks the graph in reverse topological order (iteratively, so deep
graphs cannot hit Python's recursion limit), accumulates gradients, and frees every
closure (and the intermediates it holds) as soon as it has been used.
"""

import contextlib
import functools
import inspect
import threading

import numpy as np

from juanji import backend


class _GradMode(threading.local):
    """Whether ops record the graph, for each thread on its own (as PyTorch's grad mode), so
    that ``no_grad`` blocks entered and left by several threads at once cannot leave another
    thread's mode switched."""

    enabled = True


_grad_mode = _GradMode()


@contextlib.contextmanager
def no_grad():
    """Within this block ops record no graph on this thread: for inference and optimizer
    updates. Other threads keep their own mode."""
    previous, _grad_mode.enabled = _grad_mode.enabled, False
    try:
        yield
    finally:
        _grad_mode.enabled = previous


def is_grad_enabled():
    """Whether ops currently record the graph on this thread."""
    return _grad_mode.enabled


class Tensor:
    """An ndarray that remembers how it was computed.

    Args:
        data: array-like; Python numbers and lists become ``backend.floatx()`` arrays,
            ndarrays keep their dtype.
        requires_grad: whether ``backward()`` should fill ``self.grad``.

    Example:
        >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        array([2., 4., 6.], dtype=float32)
    """

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward", "name", "__weakref__")
    __array_ufunc__ = None  # ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad=False, name=None):
        if isinstance(data, Tensor):
            data = data.data
        elif not isinstance(data, np.ndarray):
            data = np.asarray(data)
            if data.dtype.kind in "fiu" and data.dtype != bool:
                data = data.astype(backend.floatx(), copy=False)
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(
                f"Only floating-point tensors can require gradients. Received: dtype={data.dtype}"
            )
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None
        self.name = name

    shape = property(lambda self: self.data.shape, doc="The shape of the data (a tuple).")
    ndim = property(lambda self: self.data.ndim, doc="The number of axes of the data.")
    dtype = property(lambda self: self.data.dtype, doc="The NumPy dtype of the data.")
    size = property(lambda self: self.data.size, doc="The number of values in the data.")

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}{grad})"

    def numpy(self):
        """The underlying array (not a copy)."""
        return self.data

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(tensor)`` is the tensor's array (so matplotlib can plot a Tensor)."""
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def assign(self, value):
        """Overwrite the values in place (a Keras variable's ``assign``), keeping shape and
        dtype; returns the tensor.

        Raises:
            ValueError: if ``value`` does not have this tensor's shape.
        """
        value = np.asarray(value.data if isinstance(value, Tensor) else value)
        if value.shape != self.data.shape:
            raise ValueError(
                f"Expected a value of shape {self.data.shape}. Received: shape={value.shape}"
            )
        self.data[...] = value
        return self

    def item(self):
        """The single value of a one-element tensor as a Python number."""
        return self.data.item()

    def detach(self):
        """A tensor sharing this data but cut from the graph."""
        return Tensor(self.data)

    def zero_grad(self):
        """Forget the accumulated gradient."""
        self.grad = None

    def backward(self, grad=None):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf requiring gradients.

        Args:
            grad: upstream gradient shaped like ``self``; defaults to 1 for a scalar.

        Raises:
            RuntimeError: if ``self`` does not require gradients, or its graph was already
                used by an earlier ``backward()``.
            ValueError: if ``grad`` is missing for a non-scalar tensor or has the wrong shape.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require gradients.")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    "backward() without `grad` needs a scalar (one-element) tensor. "
                    f"Received: shape={self.shape}"
                )
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, self.dtype)
            if grad.shape != self.shape:
                raise ValueError(
                    f"Expected `grad` of shape {self.shape}. Received: grad.shape={grad.shape}"
                )
        grads = {id(self): grad}
        for node in _reverse_topological_order(self):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._backward is None:
                node.grad = g if node.grad is None else node.grad + g
                continue
            parent_grads = node._backward(g)
            node._backward = _freed  # release the saved intermediates
            for parent, pg in zip(node._parents, parent_grads):
                if pg is None or parent is None or not parent.requires_grad:
                    continue
                key = id(parent)
                grads[key] = pg if key not in grads else grads[key] + pg
            node._parents = ()


def _freed(gy):
    """Stands in for a backward closure already used (and its intermediates released)."""
    raise RuntimeError(
        "backward() through a graph that was already freed by an earlier backward(); "
        "recompute the forward pass."
    )


def _reverse_topological_order(root):
    """Nodes reachable from ``root`` that require gradients, each after all its consumers."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if parent is not None and parent.requires_grad and id(parent) not in visited:
                stack.append((parent, False))
    return reversed(order)


def primitive(fn):
    """Turn an array function returning ``(y, backward)`` into a differentiable op.

    Positional arguments are the op's inputs (Tensors, arrays, numbers or None); keyword
    arguments are hyper-parameters. ``fn`` receives plain arrays and returns the output
    array and ``backward(gy)``, which returns one gradient per positional input (a single
    array when there is one input), each shaped like its input, or None where not needed.
    If ``fn`` declares a keyword-only ``needs_grad``, it receives a tuple of booleans (one
    per positional input) and may skip gradients nobody needs.
    """
    wants_needs = "needs_grad" in inspect.signature(fn).parameters

    @functools.wraps(fn)
    def op(*inputs, **kwargs):
        arrays = [a.data if isinstance(a, Tensor) else a for a in inputs]
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in inputs)
        record = _grad_mode.enabled and any(needs)
        if wants_needs:
            kwargs["needs_grad"] = needs if record else (False,) * len(inputs)
        y, backward = fn(*arrays, **kwargs)
        out = Tensor.__new__(Tensor)
        out.data, out.grad, out.name = y, None, None
        if record:
            out.requires_grad = True
            out._parents = tuple(a if isinstance(a, Tensor) else None for a in inputs)
            out._backward = backward if len(inputs) > 1 else lambda g: (backward(g),)
        else:
            out.requires_grad, out._parents, out._backward = False, (), None
        return out

    op.primitive = fn
    return op


def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape``: the gradient of broadcasting an input of that shape."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def as_tensor(x):
    """``x`` if it is a Tensor, else a constant Tensor holding it."""
    return x if isinstance(x, Tensor) else Tensor(x)
