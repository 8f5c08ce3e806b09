"""Export juanji models to ONNX, for ONNX Runtime and the other runtimes that read it.

The exported graph takes and returns tensors in juanji's own layout (images NHWC) with a
dynamic batch axis named ``N``. ONNX's Conv and pooling operators work on NCHW, so each value
in the graph remembers the permutation that turns juanji's tensor into it, and a Transpose is
inserted only where a consumer needs another one: a run of convolutions and poolings stays in
NCHW between one Transpose in and one before the ``Flatten``.

Inference-only layers are simplified: Dropout disappears; BatchNormalization becomes a
per-channel scale and shift from its moving statistics, folded into the kernel and bias of a
Conv2D or Dense right before it (when that layer has no activation and feeds nothing else).
"""

import os
from collections import Counter
from typing import NamedTuple

import numpy as np

import juanji
from juanji import backend, registry
from juanji.autograd import no_grad
from juanji.data.utils import atomic_write
from juanji.interop.onnx_graph import Graph, Value, identity
from juanji.interop.onnx_layers import CONVERTERS, bn_scale_shift, cannot
from juanji.layers import BatchNormalization, Conv2D, Conv3D, Dense

DEFAULT_OPSET = 17
MIN_OPSET = 13
BATCH_AXIS = "N"


class _Node(NamedTuple):
    """One layer call: the keys of its input values, the key and juanji shape of its output."""

    layer: object
    inputs: tuple
    output: object
    shape: tuple


# --- the model's graph ---------------------------------------------------------------------
class _Signature(NamedTuple):
    """A model's graph: its inputs ``(key, name, shape)``, its layer calls in order, and its
    outputs ``(key, name)``."""

    inputs: list
    nodes: list
    outputs: list


def _sequential_graph(model):
    """The layer calls of a Sequential model, with shapes traced by one zero sample."""
    shape = tuple(model.build_input_shape)
    x = np.zeros((1, *shape[1:]), backend.floatx())
    nodes = []
    with no_grad():
        for index, layer in enumerate(model.layers):
            x = layer(x, training=False).data
            nodes.append(_Node(layer, (index,), index + 1, (None, *x.shape[1:])))
    return _Signature([(0, "input", shape)], nodes, [(len(nodes), "output")])


def _functional_graph(model):
    """The recorded layer calls of a functional model; its tensors' ids are the keys."""
    nodes = []
    for node in model._nodes:
        if len(node.outputs) != 1:
            raise cannot(node.layer, "it has several outputs")
        (y,) = node.outputs
        keys = tuple(id(x) for x in node.flat_inputs)
        nodes.append(_Node(node.layer, keys, id(y), y.shape))
    one_input, one_output = len(model.inputs) == 1, len(model.outputs) == 1
    return _Signature(
        [(id(x), "input" if one_input else x.name, x.shape) for x in model.inputs],
        nodes,
        [
            (id(x), "output" if one_output else name)
            for x, name in zip(model.outputs, model.output_names)
        ],
    )


def _graph_kind(layer):
    """``_sequential_graph`` or ``_functional_graph`` for a model with a graph, else None."""
    kind = type(layer)
    if kind is registry.lookup("model", "Sequential"):  # NOTE: models sit above interop
        return _sequential_graph
    if kind is registry.lookup("model", "Functional"):
        return _functional_graph
    return None


def _graph_of(model, scope=()):
    """The :class:`_Signature` of an exportable model, its keys ``(scope, key)``; a model used
    as a layer is inlined, its inputs and output joined by pass-through nodes (layer None)."""
    graph = _graph_kind(model)
    if graph is None:
        raise ValueError(
            f"Model '{model.name}' ({type(model).__name__}) cannot be exported to ONNX: only "
            "Sequential and functional models have a graph of layers to export; a subclass "
            "with its own call() has none."
        )
    signature = graph(model)
    nodes = []
    for node in signature.nodes:
        inputs, output = tuple((scope, k) for k in node.inputs), (scope, node.output)
        if _graph_kind(node.layer) is None:
            nodes.append(node._replace(inputs=inputs, output=output))
            continue
        inner = _graph_of(node.layer, scope=output)  # one scope per call of the model
        if len(inner.outputs) != 1:
            raise cannot(node.layer, "a model inside a model must have one output")
        nodes += [_Node(None, (k,), key, shape) for (key, _, shape), k in zip(inner.inputs, inputs)]
        nodes += inner.nodes
        nodes.append(_Node(None, (inner.outputs[0][0],), output, node.shape))
    return _Signature(
        [((scope, key), name, shape) for key, name, shape in signature.inputs],
        nodes,
        [((scope, key), name) for key, name in signature.outputs],
    )


def _plan_folds(signature):
    """For each BatchNormalization right after a Conv2D or Dense that has no activation and
    feeds nothing else: the scale and shift to fold into that layer, keyed by both ids."""
    nodes = signature.nodes
    producers = {node.output: node for node in nodes}
    uses = Counter(key for node in nodes for key in node.inputs)
    uses.update(key for key, _ in signature.outputs)
    calls = Counter(id(node.layer) for node in nodes)  # a shared layer is left as it is
    folds = {}
    for node in nodes:
        if type(node.layer) is not BatchNormalization or calls[id(node.layer)] != 1:
            continue
        before = producers.get(node.inputs[0])
        if before is None or uses[node.inputs[0]] != 1 or calls[id(before.layer)] != 1:
            continue
        layer = before.layer
        foldable = (type(layer) is Dense) or (
            type(layer) in (Conv2D, Conv3D) and layer.data_format == "channels_last"
        )
        if foldable and layer.activation in (None, registry.lookup("activation", "linear")):
            folds[id(layer)] = bn_scale_shift(node.layer)
            folds[id(node.layer)] = None
    return folds


def _import_onnx():
    """The ``onnx`` package, or an ImportError that says how to install it."""
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "ONNX export needs the onnx package: pip install 'juanji[onnx]'"
        ) from None
    return onnx


def _check_opset(opset):
    import onnx

    latest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= latest:
        raise ValueError(
            f"Expected `opset` to be an int from {MIN_OPSET} to {latest} (the newest this onnx "
            f"package knows). Received: opset={opset!r}"
        )


def to_onnx(model, opset=None):
    """The ONNX ``ModelProto`` of a built Sequential or functional model.

    Args:
        model: the model; it is built from its declared input shape if needed.
        opset: the ONNX operator set version stated in the file (13 or newer; None: 17).

    Returns:
        An ``onnx.ModelProto`` whose inputs and outputs are ``(N, ...)`` in juanji's layout
        (images NHWC) with a dynamic batch axis ``N``. One input is named ``input`` and one
        output ``output``; several take the names of the model's inputs and outputs.

    Raises:
        ValueError: for a model that is not built or not exportable (naming the layer that
            has no ONNX form), or an unsupported ``opset``.
        ImportError: without the onnx package.
    """
    onnx = _import_onnx()
    from onnx import helper

    opset = DEFAULT_OPSET if opset is None else opset
    _check_opset(opset)
    model._maybe_build()
    if not model.built or model.build_input_shape is None:
        raise ValueError(
            f"Model '{model.name}' is not built: give it an input shape or call it before export."
        )
    signature = _graph_of(model)
    for node in signature.nodes:
        if node.layer is not None and type(node.layer) not in CONVERTERS:
            raise cannot(node.layer, "ONNX export has no conversion for this layer type")
        if any(n is None for n in node.shape[1:]):
            raise cannot(node.layer, f"its output shape {node.shape} is not fully known")
    dtype = np.dtype(backend.floatx())
    elem_type = helper.np_dtype_to_tensor_dtype(dtype)
    g = Graph(opset, dtype, _plan_folds(signature))
    values, graph_inputs, graph_outputs = {}, [], []
    for key, name, shape in signature.inputs:
        if any(n is None for n in shape[1:]):
            raise ValueError(
                f"Model '{model.name}' cannot be exported to ONNX: its input '{name}' has the "
                f"shape {shape}; give every axis but the batch a size."
            )
        values[key] = Value(g.unique(name), tuple(shape), identity(len(shape)))
        dims = [BATCH_AXIS, *shape[1:]]
        graph_inputs.append(helper.make_tensor_value_info(name, elem_type, dims))
    for _, name in signature.outputs:
        g.unique(name)
    for node in signature.nodes:
        inputs = [values[key] for key in node.inputs]
        if node.layer is None:  # where a model inside the model begins or ends
            values[node.output] = inputs[0]
            continue
        values[node.output] = CONVERTERS[type(node.layer)](g, node.layer, inputs, node.shape)
    for key, name in signature.outputs:
        result = g.layout(values[key], identity(len(values[key].shape)))
        g.nodes.append(helper.make_node("Identity", [result.name], [name], name=name))
        dims = [BATCH_AXIS, *result.shape[1:]]
        graph_outputs.append(helper.make_tensor_value_info(name, elem_type, dims))

    graph = helper.make_graph(
        g.nodes, model.name, graph_inputs, graph_outputs, initializer=g.initializers
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="juanji",
        producer_version=juanji.__version__,
        doc_string=f"juanji model '{model.name}'; input and output in juanji's layout (NHWC)",
    )
    # The oldest IR version that carries this opset, so that older runtimes read the file.
    proto.ir_version = helper.OP_SET_ID_VERSION_MAP[("ai.onnx", opset)]
    onnx.checker.check_model(proto)
    return proto


def export_onnx(model, path, opset=None):
    """Write ``model`` as an ONNX file at ``path`` (atomically); see :func:`to_onnx`.

    Returns:
        ``path``.
    """
    proto = to_onnx(model, opset=opset)
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    atomic_write(os.fspath(path), proto.SerializeToString())
    return path
