"""The pieces of an ONNX graph under construction: tensors that remember their layout, and
the builder that collects nodes and initializers (see ``juanji.interop.onnx``)."""

from typing import NamedTuple

import numpy as np


class Value(NamedTuple):
    """A tensor of the ONNX graph: its name, juanji's shape of it (batch axis ``None``) and
    ``perm``: the ONNX tensor is juanji's tensor transposed by ``perm``."""

    name: str
    shape: tuple
    perm: tuple


def identity(rank):
    """The permutation that leaves a tensor of ``rank`` axes as juanji has it."""
    return tuple(range(rank))


def channels_first(rank):
    """The permutation from channels-last (N, ..., C) to channels-first (N, C, ...)."""
    return (0, rank - 1, *range(1, rank - 1))


class Graph:
    """Collects the ONNX nodes and initializers of one export."""

    def __init__(self, opset, dtype, folds):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.opset, self.dtype = opset, dtype
        self.folds = folds  # layer id -> (scale, shift) to fold in, or None for an absorbed BN
        self.nodes, self.initializers = [], []
        self._names = set()

    def unique(self, hint):
        """``hint``, or ``hint_1``, ``hint_2``... if taken: a new tensor name."""
        name, count = hint, 0
        while name in self._names:
            count += 1
            name = f"{hint}_{count}"
        self._names.add(name)
        return name

    def constant(self, array, hint):
        """An initializer holding ``array`` (floats in the model's dtype); returns its name."""
        array = np.asarray(array)
        if array.dtype.kind == "f":
            array = array.astype(self.dtype)
        name = self.unique(hint)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type, inputs, hint, **attributes):
        """Append one node; returns the name of its (single) output."""
        output = self.unique(hint)
        self.nodes.append(
            self.helper.make_node(op_type, list(inputs), [output], name=output, **attributes)
        )
        return output

    def layout(self, value, perm):
        """``value`` with the ONNX tensor transposed so that it relates to juanji's by ``perm``."""
        if value.perm == perm:
            return value
        axes = [value.perm.index(axis) for axis in perm]
        name = self.op("Transpose", [value.name], f"{value.name}_transposed", perm=axes)
        return value._replace(name=name, perm=perm)
