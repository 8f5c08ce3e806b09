"""Functional models: a graph of layer calls on symbolic tensors, ordered once, run in order.

``juanji.Model(inputs, outputs)`` (or ``Functional``) walks back from ``outputs`` to
``inputs`` through the :class:`~juanji.layers.symbolic.Node` of every call, orders the calls
once, and runs them in that order on arrays. Inputs and outputs may be one tensor, a list or
a dict; a layer called twice (a shared layer) appears once in ``layers`` and reuses its
weights. The config is JSON: every layer's config and, per call, which earlier call's
output feeds it.

Example:
    >>> import numpy as np
    >>> from juanji.layers import Dense, Input
    >>> x = Input((4,), name="features")
    >>> h = Dense(8, activation="relu")(x)
    >>> model = Functional(x, Dense(3)(h + Dense(8)(h)))
    >>> model.predict(np.zeros((2, 4), np.float32)).shape
    (2, 3)
"""

from juanji import registry
from juanji.layers.base import forward_pass
from juanji.layers.symbolic import InputLayer, KerasTensor, flatten_structure
from juanji.models import Model


def _structure_of(value, what):
    """Check that ``value`` is a KerasTensor or a list, tuple or dict of them."""
    for position, x in enumerate(flatten_structure(value)):
        if not isinstance(x, KerasTensor):
            raise TypeError(
                f"Model {what} must be symbolic tensors from juanji.Input and layer calls. "
                f"Received: {what}[{position}] of type {type(x).__name__}"
            )
    return value


def _ordered_nodes(inputs, outputs):
    """Every node between ``inputs`` and ``outputs``, each after the nodes feeding it."""
    known = {id(x) for x in inputs}
    order, visited = [], set()
    stack = [(x.node, False, x) for x in reversed(outputs)]
    while stack:
        node, expanded, needed_by = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True, needed_by))
        for x in node.flat_inputs:
            if id(x) not in known and id(x.node) not in visited:
                stack.append((x.node, False, x))
        if isinstance(node.layer, InputLayer) and id(node.outputs[0]) not in known:
            names = ", ".join(f"'{x.name}'" for x in inputs)
            raise ValueError(
                f"The outputs depend on input '{node.layer.name}' of shape "
                f"{node.outputs[0].shape}, which is not among the model's inputs ({names}): "
                "a tensor from another graph?"
            )
    return [node for node in order if not isinstance(node.layer, InputLayer)]


@registry.register("layer")
@registry.register("model")
class Functional(Model):
    """A model defined by its symbolic ``inputs`` and ``outputs``.

    Args:
        inputs: a KerasTensor from ``juanji.Input``, or a list or dict of them.
        outputs: KerasTensors computed from ``inputs`` (one, a list or a dict).
        name: the model's name.

    Raises:
        TypeError: if inputs or outputs are not symbolic tensors.
        ValueError: if an input is not made by ``Input``, or the outputs depend on an input
            that is not given (a tensor from another graph).
    """

    def __init__(self, inputs, outputs, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self._inputs = _structure_of(inputs, "inputs")
        self._outputs = _structure_of(outputs, "outputs")
        self.inputs = flatten_structure(inputs)
        self.outputs = flatten_structure(outputs)
        for x in self.inputs:
            if not isinstance(x.node.layer, InputLayer):
                raise ValueError(
                    f"Model inputs must come straight from juanji.Input. Received: {x.describe()}"
                )
        self._nodes = _ordered_nodes(self.inputs, self.outputs)
        for x in self.inputs:
            self._track(x.node.layer)
        for node in self._nodes:
            self._track(node.layer)
        self.built = True
        shapes = [x.shape for x in self.inputs]
        self.build_input_shape = shapes[0] if len(shapes) == 1 else shapes
        self.output_shape = self.outputs[0].shape

    @property
    def input(self):
        """The model's symbolic inputs, as given (one, a list or a dict)."""
        return self._inputs

    @property
    def output(self):
        """The model's symbolic outputs, as given (one, a list or a dict)."""
        return self._outputs

    @property
    def input_names(self):
        """The names of the input layers, in order."""
        return [x.name for x in self.inputs]

    @property
    def output_names(self):
        """The output names: the dict keys when outputs are a dict, else the producing
        layers' names."""
        if isinstance(self._outputs, dict):
            return list(self._outputs)
        return [x.name for x in self.outputs]

    def build(self, input_shape):
        """A functional model is built when it is made."""

    def _check_first_input(self, x):
        self._check_input(x)

    def _check_input(self, x):
        self._check_dtype(x)
        self.inputs[0].node.layer._check_input(x)

    def _check_inputs(self, x):
        for tensor, data in zip(self.inputs, self.flatten_inputs(x)):
            tensor.node.layer._check_input(data)

    def flatten_inputs(self, data):
        """``data`` (an array, a list, or a dict keyed by input names) as one array per
        model input, in order.

        Raises:
            ValueError: naming the expected inputs when ``data`` does not match them.
        """
        names = self.input_names
        if isinstance(data, dict):
            keys = list(self._inputs) if isinstance(self._inputs, dict) else names
            missing = [k for k in keys if k not in data]
            if missing:
                raise ValueError(
                    f"Model '{self.name}' expects inputs {keys}. Received: a dict with keys "
                    f"{sorted(data)} (missing {missing})"
                )
            return [data[k] for k in keys]
        flat = list(data) if isinstance(data, (list, tuple)) else [data]
        if len(flat) != len(self.inputs):
            raise ValueError(
                f"Model '{self.name}' expects {len(self.inputs)} input(s) {names}. "
                f"Received: {len(flat)} input(s)"
            )
        return flat

    def __call__(self, inputs, *args, training=False, **kwargs):
        if any(getattr(x, "is_symbolic", False) for x in flatten_structure(inputs)):
            return super().__call__(inputs, *args, training=training, **kwargs)
        with forward_pass(self):
            return self.call(inputs, training=training)

    def call(self, inputs, training=False):
        """Run every recorded call in order on ``inputs`` (structured like the model's)."""
        values = {}
        for tensor, data in zip(self.inputs, self.flatten_inputs(inputs)):
            values[id(tensor)] = tensor.node.layer(data)
        for node in self._nodes:
            args = node.inputs
            if isinstance(args, (list, tuple)):
                args = [values[id(x)] for x in args]
            else:
                args = values[id(args)]
            kwargs = dict(node.kwargs)
            kwargs.setdefault("training", training)
            result = node.layer(args, **kwargs)
            results = result if isinstance(result, (list, tuple)) else [result]
            for tensor, value in zip(node.outputs, results):
                values[id(tensor)] = value
        if isinstance(self._outputs, dict):
            return {k: values[id(x)] for k, x in self._outputs.items()}
        if isinstance(self._outputs, (list, tuple)):
            return [values[id(x)] for x in self._outputs]
        return values[id(self._outputs)]

    # --- config --------------------------------------------------------------------------
    def get_config(self):
        """Layers' configs and the wiring: per call, which call's output feeds it."""
        position = {}
        for x in self.inputs:
            position[id(x.node)] = len(position)
        for node in self._nodes:
            position[id(node)] = len(position)

        def ref(x):
            return [position[id(x.node)], x.index]

        def refs(structure):
            if isinstance(structure, dict):
                return {k: ref(x) for k, x in structure.items()}
            if isinstance(structure, (list, tuple)):
                return [ref(x) for x in structure]
            return ref(structure)

        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": [registry.serialize(layer) for layer in self._layers],
            "calls": [
                {
                    "layer": node.layer.name,
                    "inputs": refs(node.inputs),
                    "list_input": isinstance(node.inputs, (list, tuple)),
                    "kwargs": node.kwargs,
                }
                for node in self._nodes
            ],
            "inputs": refs(self._inputs),
            "outputs": refs(self._outputs),
        }

    @classmethod
    def from_config(cls, config):
        """The model of ``get_config()``: its layers rebuilt, then each call replayed."""
        layers = {}
        for layer_config in config["layers"]:
            layer = registry.get("layer", layer_config)
            layers[layer.name] = layer
        input_layers = [layer for layer in layers.values() if isinstance(layer, InputLayer)]
        produced = [[layer.output] for layer in input_layers]

        def tensor(reference):
            call, index = reference
            return produced[call][index]

        def tensors(structure):
            if isinstance(structure, dict):
                return {k: tensor(r) for k, r in structure.items()}
            if structure and isinstance(structure[0], list):
                return [tensor(r) for r in structure]
            return tensor(structure)

        for call in config["calls"]:
            inputs = call["inputs"]
            if call["list_input"]:
                inputs = [tensor(r) for r in inputs]
            else:
                inputs = tensor(inputs)
            out = layers[call["layer"]](inputs, **call["kwargs"])
            produced.append(out if isinstance(out, list) else [out])
        return cls(
            tensors(config["inputs"]),
            tensors(config["outputs"]),
            name=config["name"],
            trainable=config.get("trainable", True),
        )

    # --- describing ----------------------------------------------------------------------
    def summary_rows(self):
        """(layer, output shape, parameters, connected to) per layer, for ``summary``;
        an input is named ``layer[call][output]`` as Keras does."""
        call_index, calls = {}, {}
        for node in [x.node for x in self.inputs] + self._nodes:
            call_index[id(node)] = calls.get(id(node.layer), 0)
            calls[id(node.layer)] = call_index[id(node)] + 1
        connected = {}
        for node in self._nodes:
            connected.setdefault(id(node.layer), []).extend(
                f"{x.node.layer.name}[{call_index[id(x.node)]}][{x.index}]"
                for x in node.flat_inputs
            )
        return [
            (
                f"{layer.name} ({type(layer).__name__})",
                str(layer.output_shape),
                f"{layer.count_params():,}",
                ", ".join(connected.get(id(layer), ["-"])),
            )
            for layer in self._layers
        ]


__all__ = ["Functional"]
