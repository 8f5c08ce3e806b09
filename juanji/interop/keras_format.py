"""Read Keras 3 ``.keras`` files into juanji models, without running anything from the file.

A ``.keras`` file is a zip archive::

    config.json        the architecture: {"module", "class_name", "config", ...} objects
    metadata.json      {"keras_version": "3.x.y", "date_saved": ...}
    model.weights.h5   HDF5: layers/<path>/vars/0, 1, ... per layer; the "vars" group's
                       attribute "name" is the layer's name

The reader maps Keras's class names, arguments and weight layouts to juanji's layers (the
kernels' layouts are the same: HWIO for convolutions, ``(in, out)`` for Dense) and refuses,
naming the layer, whatever it cannot map. It is a reader of data, never an importer of code:

- only the Keras classes in ``keras_layers.LAYERS`` are accepted; a ``Lambda`` (Python
  bytecode in the file), and any ``module`` or ``registered_name`` outside Keras's own
  layers, are refused;
- every archive member is bounded in size before it is read (a zip bomb is refused), and so
  is every weight array, by its declared shape, before any of it is read or allocated;
  a layer's weights must have exactly the shapes that its configuration gives;
- HDF5 links to other files, external or virtual datasets and filters other than HDF5's own
  are refused, so nothing outside the archive is opened and no plugin is loaded.

The model comes back uncompiled (call ``compile`` to train it further); the optimizer state
in the file is not read.
"""

import io
import json
import os
import zipfile
from typing import NamedTuple

import numpy as np

from juanji import registry
from juanji.interop.keras_layers import Args, Refused, input_layer, layer_spec
from juanji.saving import ModelFileError

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
MAX_JSON_BYTES = 16 * 2**20  # config.json and metadata.json
MAX_WEIGHTS_BYTES = 2 * 2**30  # model.weights.h5
MAX_ARRAY_VALUES = 2**28  # one weight array (1 GiB of float32)
# HDF5's built-in filters (deflate, shuffle, fletcher32, szip, nbit, scaleoffset) and
# h5py's own LZF; any other filter id would make HDF5 look for a plugin library.
_BUILTIN_FILTERS = {1, 2, 3, 4, 5, 6, 32000}


# --- the archive ---------------------------------------------------------------------------
def _read_member(archive, name, limit, path):
    """The bytes of archive member ``name``, refused before reading if larger than ``limit``."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ModelFileError(f"'{path}' is not a Keras 3 model file: it has no {name}.") from None
    if info.file_size > limit:
        raise ModelFileError(
            f"'{path}': {name} would unpack to {info.file_size} bytes, more than the "
            f"{limit} that juanji reads."
        )
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)  # the header could understate the size
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as error:
        raise ModelFileError(f"'{path}' is corrupt: cannot read {name} ({error}).") from None
    if len(data) > limit:
        raise ModelFileError(f"'{path}': {name} unpacks to more than {limit} bytes.")
    return data


def _read_json(archive, name, path):
    data = _read_member(archive, name, MAX_JSON_BYTES, path)
    try:
        value = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ModelFileError(f"'{path}' is corrupt: {name} is not JSON ({error}).") from None
    if not isinstance(value, dict):
        raise ModelFileError(f"'{path}': {name} must hold a JSON object.")
    return value


def _check_metadata(metadata, path):
    version = metadata.get("keras_version")
    if not isinstance(version, str) or not version.startswith("3."):
        raise ModelFileError(
            f"'{path}': {METADATA} gives keras_version {version!r}; juanji reads files "
            "written by Keras 3."
        )


_MODELS = {
    ("keras", "Sequential"),
    ("keras.models", "Sequential"),
    ("keras.src.models.sequential", "Sequential"),
    ("keras", "Functional"),
    ("keras.models", "Functional"),
    ("keras.src.models.functional", "Functional"),
}


class _Architecture(NamedTuple):
    """A Keras model's config, mapped: ``"Sequential"`` or ``"Functional"``, its name, each
    layer's :class:`Spec` by name (in the file's order) and, for a functional model, every
    layer call ``(layer name, call index, input references)`` and the model's input and
    output references ``(layer name, call index, output index)``."""

    kind: str
    name: str
    specs: dict
    calls: list
    inputs: object
    outputs: object


def _reference(value, where):
    """``(layer name, call index, output index)`` of a Keras tensor in a config."""
    history = value
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        history = (value.get("config") or {}).get("keras_history")
    if (
        isinstance(history, list)
        and len(history) == 3
        and isinstance(history[0], str)
        and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in history[1:])
    ):
        return tuple(history)
    raise Refused(f"{where}: expected a Keras tensor reference, got {value!r}")


def _references(value, where):
    """One reference, or a list of them (the inputs of a merge layer, a model's outputs)."""
    if isinstance(value, list) and value and isinstance(value[0], (list, dict)):
        return [_reference(v, where) for v in value]
    return _reference(value, where)


def _call_inputs(node, where):
    """The input references of one entry of a layer's ``inbound_nodes``."""
    if not isinstance(node, dict) or not isinstance(node.get("args"), list):
        raise Refused(f"{where}: expected inbound nodes as {{'args': [...]}}, got {node!r}")
    kwargs = node.get("kwargs") or {}
    unknown = sorted(k for k, v in kwargs.items() if k != "training" and v is not None)
    if not isinstance(kwargs, dict) or unknown:
        raise Refused(f"{where}: juanji cannot map the call arguments {unknown or kwargs!r}")
    if len(node["args"]) != 1:
        raise Refused(f"{where}: expected one input argument, got {len(node['args'])}")
    return _references(node["args"][0], where)


def _architecture(config):
    """The :class:`_Architecture` of a Keras model's config (``config.json``)."""
    module, class_name = config.get("module"), config.get("class_name")
    registered = config.get("registered_name")
    if (module, class_name) not in _MODELS or registered not in (None, class_name):
        raise Refused(
            f"the model is a {class_name!r} from module {module!r}; juanji loads Keras "
            "Sequential and functional models"
        )
    body = config.get("config")
    entries = body.get("layers") if isinstance(body, dict) else None
    if not isinstance(entries, list) or not entries:
        raise Refused("the model has no layers list")
    specs = {}
    for index, entry in enumerate(entries):
        name, spec = layer_spec(entry, index)
        if name in specs:
            raise Refused(f"two layers are named '{name}'")
        specs[name] = spec
    model_name = str(body.get("name") or class_name.lower())
    if class_name == "Sequential":
        if next(iter(specs.values())).class_name != "Input":
            shape = body.get("build_input_shape") or (config.get("build_config") or {}).get(
                "input_shape"
            )
            entry = {"batch_shape": shape, "name": "input_layer"}
            specs = {"input_layer": input_layer(Args("the model's input", entry)), **specs}
        return _Architecture("Sequential", model_name, specs, [], None, None)
    calls = []
    for entry in entries:
        name = entry["config"]["name"]
        if specs[name].class_name == "Input":
            continue
        nodes = entry.get("inbound_nodes")
        if not isinstance(nodes, list):
            raise Refused(f"layer '{name}': expected a list of inbound nodes")
        calls += [(name, i, _call_inputs(node, f"layer '{name}'")) for i, node in enumerate(nodes)]
    inputs = _references(body.get("input_layers"), "the model's input_layers")
    outputs = _references(body.get("output_layers"), "the model's output_layers")
    return _Architecture("Functional", model_name, specs, calls, inputs, outputs)


# --- weights -------------------------------------------------------------------------------
def _import_h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("Reading .keras files needs h5py: pip install 'juanji[keras]'") from None
    return h5py


def _hard_member(h5py, group, key, kind, where):
    """``group[key]`` if it is a hard link to a ``kind`` (Group or Dataset), else refused."""
    link = group.get(key, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise Refused(f"{where}: '{key}' links elsewhere ({type(link).__name__})")
    member = group[key]
    if not isinstance(member, kind):
        raise Refused(f"{where}: '{key}' is not an HDF5 {kind.__name__.lower()}")
    return member


def _check_dataset(dataset, where):
    """Refuse a weight array that is not plain float data of bounded declared size."""
    if dataset.dtype.kind not in "fiu" or dataset.dtype.itemsize > 8:
        raise Refused(f"{where} holds {dataset.dtype}, not numbers")
    if dataset.size > MAX_ARRAY_VALUES:
        raise Refused(
            f"{where} declares {dataset.size} values (shape {dataset.shape}), more than the "
            f"{MAX_ARRAY_VALUES} that juanji reads"
        )
    if dataset.external or dataset.is_virtual:
        raise Refused(f"{where} keeps its data outside the file")
    plist = dataset.id.get_create_plist()
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        if code not in _BUILTIN_FILTERS:
            raise Refused(f"{where} needs the HDF5 filter {code}, which is not built in")


def _weight_datasets(h5py, h5, path):
    """``{layer name: [dataset, ...]}`` from ``layers/*/vars``, checked but not read."""
    where = f"'{path}': {WEIGHTS}"
    layers = _hard_member(h5py, h5, "layers", h5py.Group, where)
    found = {}
    for key in layers or ():
        group = _hard_member(h5py, layers, key, h5py.Group, f"{where} layers")
        variables = _hard_member(h5py, group, "vars", h5py.Group, f"{where} layers/{key}")
        if variables is None:
            continue
        name = variables.attrs.get("name", key)
        name = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
        datasets = []
        for i in range(len(variables)):
            entry = f"{where} layers/{key}/vars/{i}"
            dataset = _hard_member(h5py, variables, str(i), h5py.Dataset, entry)
            if dataset is None:
                raise Refused(f"{entry} is missing")
            _check_dataset(dataset, entry)
            datasets.append(dataset)
        found[name] = datasets
    return found


class _Builder:
    """Calls the juanji layers on symbolic tensors in the file's wiring, checking before a
    layer's first call (which allocates its weights) that the file declares exactly the
    weight shapes its configuration gives for its input; then reads those weights."""

    def __init__(self, architecture, layers, datasets, path):
        self.architecture, self.layers = architecture, layers
        self.datasets, self.path = datasets, path
        self.arrays = {}

    def call(self, name, inputs):
        spec = self.architecture.specs[name]
        if name not in self.arrays:
            self._check_weights(name, spec, inputs)
        try:
            return self.layers[name](inputs)
        except (ValueError, TypeError) as error:
            raise ModelFileError(f"'{self.path}': layer '{name}' does not fit: {error}") from None

    def _check_weights(self, name, spec, inputs):
        found = self.datasets.get(name, [])
        where = f"'{self.path}': {WEIGHTS}"
        if len(found) != len(spec.weights):
            raise ModelFileError(
                f"{where} holds {len(found)} weight arrays for layer '{name}' "
                f"({spec.class_name}); its configuration needs {len(spec.weights)}."
            )
        if spec.weights:
            for weight, dataset, shape in zip(
                spec.weights, found, spec.shapes(spec.kwargs, inputs.shape)
            ):
                if weight is not None and dataset.dtype.kind != "f":
                    raise ModelFileError(
                        f"{where}: the {weight} of layer '{name}' holds {dataset.dtype}, not "
                        "floating-point numbers."
                    )
                if tuple(dataset.shape) != tuple(shape):
                    raise ModelFileError(
                        f"{where}: the {weight} of layer '{name}' has shape "
                        f"{tuple(dataset.shape)}; its configuration gives {tuple(shape)}."
                    )
        self.arrays[name] = {
            weight: np.asarray(dataset[()])
            for weight, dataset in zip(spec.weights, found)
            if weight is not None  # a variable juanji has no use for (Keras's counts)
        }

    def sequential(self):
        names = list(self.architecture.specs)
        x = self.layers[names[0]].output
        for name in names[1:]:
            x = self.call(name, x)
        model = registry.lookup("model", "Sequential")(
            list(self.layers.values()), name=self.architecture.name
        )
        model.build((None, *self.layers[names[0]].input_shape))
        return model

    def functional(self):
        architecture = self.architecture
        produced = {
            (name, 0): [self.layers[name].output]
            for name, spec in architecture.specs.items()
            if spec.class_name == "Input"
        }

        def resolve(references):
            if isinstance(references, list):
                return [resolve(r) for r in references]
            layer, call, index = references
            return produced[(layer, call)][index]

        pending = list(architecture.calls)
        while pending:
            waiting = []
            for name, call, references in pending:
                try:
                    inputs = resolve(references)
                except (KeyError, IndexError):
                    waiting.append((name, call, references))
                    continue
                out = self.call(name, inputs)
                produced[(name, call)] = out if isinstance(out, list) else [out]
            if len(waiting) == len(pending):
                raise ModelFileError(
                    f"'{self.path}': {CONFIG}: the call of layer '{waiting[0][0]}' waits for "
                    "a tensor that no layer makes."
                )
            pending = waiting
        try:
            inputs, outputs = resolve(architecture.inputs), resolve(architecture.outputs)
        except (KeyError, IndexError):
            raise ModelFileError(
                f"'{self.path}': {CONFIG}: the model's inputs or outputs name a tensor that no "
                "layer makes."
            ) from None
        return registry.lookup("model", "Functional")(inputs, outputs, name=architecture.name)


def load_keras(path, compile=False):
    """A juanji model with the architecture and weights of the Keras 3 file at ``path``.

    Args:
        path: a ``.keras`` file written by Keras 3 (``model.save("x.keras")``).
        compile: ignored; the model comes back uncompiled (the file's optimizer state is not
            read).

    Returns:
        A juanji ``Sequential`` or ``Functional`` model whose predictions match Keras's.

    Raises:
        FileNotFoundError: no file at ``path``.
        juanji.saving.ModelFileError: the file is not a Keras 3 model, is corrupt, or holds
            something juanji cannot map or will not read (named in the message).
        ImportError: without h5py.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at '{path}'.")
    h5py = _import_h5py()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ModelFileError(f"'{path}' is not a Keras 3 model file ({error}).") from None
    with archive:
        _check_metadata(_read_json(archive, METADATA, path), path)
        config = _read_json(archive, CONFIG, path)
        try:
            architecture = _architecture(config)
        except Refused as refusal:
            raise ModelFileError(f"'{path}': {CONFIG}: {refusal}") from None
        weights = _read_member(archive, WEIGHTS, MAX_WEIGHTS_BYTES, path)
    layers = {}
    for name, spec in architecture.specs.items():
        try:
            layers[name] = registry.get(
                "layer", {"class_name": spec.class_name, "config": {**spec.kwargs, "name": name}}
            )
        except (ValueError, TypeError) as error:
            raise ModelFileError(f"'{path}': {CONFIG}: layer '{name}': {error}") from None
    try:
        with h5py.File(io.BytesIO(weights), "r") as h5:
            builder = _Builder(architecture, layers, _weight_datasets(h5py, h5, path), path)
            if architecture.kind == "Sequential":
                model = builder.sequential()
            else:
                model = builder.functional()
    except Refused as refusal:
        raise ModelFileError(str(refusal)) from None
    except OSError as error:
        raise ModelFileError(f"'{path}' is corrupt: cannot read {WEIGHTS} ({error}).") from None
    for name, layer in layers.items():
        given = builder.arrays.get(name, {})
        # NOTE: shapes were checked against Keras's layout; juanji may keep size-1 axes
        # (Normalization's statistics), so each array takes its weight's shape.
        layer.set_weights(
            [given.get(w.name.rsplit("/", 1)[-1], w.data).reshape(w.shape) for w in layer.weights]
        )
    return model
