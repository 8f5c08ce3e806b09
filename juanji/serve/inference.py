"""What the page shows of a model, without any web framework: its summary, its first layer's
filters, and for one input the class probabilities and each conv/pool layer's feature maps.

Arrays go out compact: quantised to bytes over a stated range and base64-encoded,
``{"shape": [...], "min": lo, "max": hi, "data": "<base64>"}``, where byte ``q`` stands for
``lo + q / 255 * (hi - lo)``. Feature maps are ``(C, H, W)``, one ``H x W`` map per channel,
with one range per layer (the smallest and largest value over all its maps), so that a
layer's maps can be compared with one colour scale.

Inference never changes the model: a forward pass reads the weights and writes only
``output_shape`` (the same value on every call once the model is built), and ``no_grad``
is per thread. So one :class:`Inspector` answers any number of threads at once, without a
lock.
"""

import base64
import os
import re
import tempfile

import numpy as np

from juanji import backend
from juanji.autograd import no_grad
from juanji.data.images import img_to_array, load_img, resize_images
from juanji.functional import Functional
from juanji.layers import InputLayer
from juanji.models import Sequential

# Layers whose outputs are shown as feature maps: convolutions and (non-global) pooling.
_MAP_LAYERS = re.compile(r"Conv|^(Max|Average)Pooling")
_COLOR_MODES = {1: "grayscale", 3: "rgb", 4: "rgba"}


class InputError(ValueError):
    """An input the model cannot take: wrong shape, not numbers, NaN or infinite values."""


class ImageError(InputError):
    """Uploaded bytes that are not a readable image."""


def encode_array(values, lo=None, hi=None):
    """``values`` quantised to bytes over ``[lo, hi]`` (default: their min and max).

    Args:
        values: a float array of any shape.
        lo, hi: the range that bytes 0 and 255 stand for.

    Returns:
        ``{"shape", "min", "max", "data"}``, ``data`` the base64 of ``values.size`` bytes in
        C order.

    Example:
        >>> encode_array(np.array([[0.0, 0.5], [1.0, 2.0]]))
        {'shape': [2, 2], 'min': 0.0, 'max': 2.0, 'data': 'AECA/w=='}
    """
    values = np.asarray(values, dtype=np.float64)
    lo = float(values.min()) if lo is None else float(lo)
    hi = float(values.max()) if hi is None else float(hi)
    span = hi - lo
    scaled = (values - lo) * (255 / span) if span > 0 else np.zeros_like(values)
    data = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return {
        "shape": list(values.shape),
        "min": lo,
        "max": hi,
        "data": base64.b64encode(data.tobytes()).decode("ascii"),
    }


def decode_array(encoded):
    """The float64 values that :func:`encode_array`'s bytes stand for (to within a step)."""
    q = np.frombuffer(base64.b64decode(encoded["data"]), dtype=np.uint8)
    lo, hi = encoded["min"], encoded["max"]
    return (lo + q.astype(np.float64) * ((hi - lo) / 255)).reshape(encoded["shape"])


def _shows_maps(layer, shape):
    return bool(_MAP_LAYERS.search(type(layer).__name__)) and len(shape) == 4


def _map_probe(model):
    """For a functional model of one input and one output: a model sharing its layers that
    gives each conv/pool call's output, in the order the layers run, then the model's
    output; with those layers. None for other models."""
    if not isinstance(model, Functional) or len(model.inputs) != 1 or len(model.outputs) != 1:
        return None, []
    found, seen, stack = [], set(), list(model.outputs)
    while stack:
        x = stack.pop()
        if id(x) not in seen:
            seen.add(id(x))
            if _shows_maps(x.node.layer, x.shape):
                found.append(x)
            stack.extend(x.node.flat_inputs)
    position = {id(layer): k for k, layer in enumerate(model.layers)}
    found.sort(key=lambda x: position[id(x.node.layer)])
    probe = Functional(model.inputs, [*found, model.outputs[0]], name=f"{model.name}_maps")
    return probe, [x.node.layer for x in found]


def _to_channels_first(y, data_format):
    """One sample's maps as ``(C, H, W)``."""
    return y if data_format == "channels_first" else y.transpose(2, 0, 1)  # (C, H, W)


class Inspector:
    """A classifier of images, and what the page shows of it.

    Args:
        model: a built model taking images ``(None, H, W, C)`` (or ``(None, C, H, W)`` when
            its layers are ``channels_first``) and giving class scores ``(None, K)``.
        class_names: K names, or None for ``"0"`` .. ``"K-1"``.

    Raises:
        ValueError: a model that does not take images or does not give one score per class,
            or class names that are not K.
    """

    def __init__(self, model, class_names=None):
        text = []
        model.summary(print_fn=text.append)  # builds a model declaring its input shape
        shape = model.build_input_shape
        if shape is None or len(shape) != 4:
            raise ValueError(
                f"Expected a model taking images (None, H, W, C). Received: model "
                f"'{model.name}' with input shape {shape}"
            )
        output = model.output_shape
        if output is None or len(output) != 2:
            raise ValueError(
                f"Expected a classifier giving (None, classes). Received: model "
                f"'{model.name}' with output shape {output}"
            )
        count = output[1]
        names = [str(k) for k in range(count)] if class_names is None else list(class_names)
        if len(names) != count:
            raise ValueError(
                f"Expected {count} class names for model '{model.name}'. "
                f"Received: {len(names)} names"
            )
        self.model = model
        self.class_names = names
        self.sample_shape = tuple(shape[1:])
        first = next((layer for layer in model.layers if hasattr(layer, "data_format")), None)
        self.data_format = getattr(first, "data_format", "channels_last")
        self._probe, self._probe_layers = _map_probe(model)
        self._summary = self._describe("\n".join(text))

    # --- the model -----------------------------------------------------------------------
    @property
    def image_size(self):
        """``(height, width)`` of the model's input images."""
        if self.data_format == "channels_first":
            return self.sample_shape[1:]
        return self.sample_shape[:2]

    @property
    def channels(self):
        """The number of channels of the model's input images."""
        index = 0 if self.data_format == "channels_first" else 2
        return self.sample_shape[index]

    @property
    def shows_maps(self):
        """Whether feature maps can be had: from a ``Sequential`` model, its layers run one
        by one, and from a functional one, a model sharing its layers with more outputs (a
        subclassed model's ``call`` cannot be looked into)."""
        return isinstance(self.model, Sequential) or self._probe is not None

    def summary(self):
        """The model as JSON values: name, input, classes, layers, parameter counts, the
        text of ``model.summary()``, and the first convolution's filters.

        Filters are ``(F, C, KH, KW)`` over one range symmetric about 0, so that the sign of
        a weight keeps its colour; None when the model has no convolution.
        """
        return self._summary

    def _describe(self, text):
        model = self.model
        layers = [
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output_shape": list(layer.output_shape),
                "params": layer.count_params(),
            }
            for layer in model.layers
            if not isinstance(layer, InputLayer)
        ]
        trainable = sum(w.size for w in model.trainable_weights)
        return {
            "name": model.name,
            "input_shape": list(self.sample_shape),
            "data_format": self.data_format,
            "image_size": list(self.image_size),
            "channels": self.channels,
            "classes": self.class_names,
            "layers": layers,
            "total_params": model.count_params(),
            "trainable_params": trainable,
            "text": text,
            "shows_maps": self.shows_maps,
            "filters": self._first_filters(),
        }

    def _first_filters(self):
        conv = next(
            (
                layer
                for layer in self.model.layers
                if _MAP_LAYERS.search(type(layer).__name__) and hasattr(layer, "kernel")
            ),
            None,
        )
        if conv is None or conv.kernel.data.ndim != 4:
            return None
        kernel = conv.kernel.data.transpose(3, 2, 0, 1)  # (F, C, KH, KW)
        bound = float(np.abs(kernel).max())
        return {"layer": conv.name, **encode_array(kernel, -bound, bound)}

    # --- inputs --------------------------------------------------------------------------
    def input_from_array(self, value):
        """A JSON nested list as one input sample ``(1, *sample_shape)``.

        Args:
            value: numbers shaped like the model's input, with or without a batch axis of 1.

        Raises:
            InputError: not a rectangular array of numbers, the wrong shape, or a value that
                is NaN or infinite.
        """
        try:
            x = np.asarray(value)
        except ValueError:
            raise InputError(
                "Expected `input` to be a rectangular nested array of numbers. "
                "Received: rows of different lengths"
            ) from None
        if x.dtype.kind not in "iuf":
            raise InputError(
                "Expected `input` to hold only numbers. Received: an array of "
                f"{'booleans' if x.dtype.kind == 'b' else 'non-numbers'}"
            )
        if x.shape == self.sample_shape:
            x = x[None]
        if x.shape != (1, *self.sample_shape):
            raise InputError(
                f"Expected `input` of shape {list(self.sample_shape)} (or with a batch axis "
                f"of 1). Received: shape {list(x.shape)}"
            )
        x = x.astype(backend.floatx())
        if not np.isfinite(x).all():
            raise InputError("Expected finite numbers in `input`. Received: NaN or infinity")
        return x

    def input_from_image(self, data, invert="0"):
        """Image file bytes as one input: converted to the model's channels, resized
        (``resize_images``, bilinear) to its size and scaled to [0, 1], as ``juanji predict``
        does.

        Args:
            data: the bytes of an image file.
            invert: ``"1"`` to use ``1 - x`` (dark ink on light paper, for a model trained
                on light ink on dark, as MNIST), ``"auto"`` to do so when the image's border
                is mostly light, ``"0"`` to keep it.

        Raises:
            ImageError: bytes that are not a readable image.
            InputError: a model taking images of a number of channels other than 1, 3, 4.
        """
        if self.channels not in _COLOR_MODES:
            raise InputError(
                f"The model takes {self.channels}-channel images; image files give 1, 3 or 4"
            )
        img = _load_image_bytes(data, color_mode=_COLOR_MODES[self.channels])
        x = resize_images(img_to_array(img), self.image_size) / 255  # (H, W, C)
        if self.data_format == "channels_first":
            x = x.transpose(2, 0, 1)  # (C, H, W)
        if invert == "1" or (invert == "auto" and _light_border(x, self.data_format)):
            x = 1 - x
        return x[None].astype(backend.floatx())

    # --- outputs -------------------------------------------------------------------------
    def predict(self, x, *, top=3, maps=False):
        """Class probabilities of one input, its top classes and, if asked, its maps.

        Args:
            x: one sample ``(1, *sample_shape)``, as the ``input_from_*`` methods give.
            top: how many of the most probable classes to list (at most K).
            maps: also give each conv/pool layer's feature maps (and the input itself).

        Returns:
            ``{"probabilities": [K floats summing to 1], "top": [{"class", "index",
            "probability"}, ...]}``, plus ``"maps"`` (a list of ``{"layer", "type",
            **encode_array(maps (C, H, W))}``) and ``"input"`` when ``maps`` is true.
        """
        collected = []
        with no_grad():
            if maps and isinstance(self.model, Sequential):
                h = x
                for layer in self.model.layers:
                    h = layer(h, training=False)
                    if _shows_maps(layer, h.shape):
                        collected.append((layer, h.data[0]))
                scores = h.data[0]
            elif maps and self._probe is not None:
                *outputs, last = self._probe(x, training=False)
                collected = [(lay, y.data[0]) for lay, y in zip(self._probe_layers, outputs)]
                scores = last.data[0]
            else:
                scores = self.model(x, training=False).data[0]
        probabilities = _as_probabilities(scores.astype(np.float64))
        order = np.argsort(-probabilities, kind="stable")[: max(1, min(top, len(scores)))]
        result = {
            "probabilities": probabilities.tolist(),
            "top": [
                {
                    "class": self.class_names[k],
                    "index": int(k),
                    "probability": float(probabilities[k]),
                }
                for k in order
            ],
        }
        if maps:
            result["input"] = encode_array(_to_channels_first(x[0], self.data_format))
            result["maps"] = [
                {
                    "layer": layer.name,
                    "type": type(layer).__name__,
                    **encode_array(
                        _to_channels_first(y, getattr(layer, "data_format", "channels_last"))
                    ),
                }
                for layer, y in collected
            ]
        return result


def _load_image_bytes(data, **options):
    """``load_img`` on bytes: its allowed formats and checks, its errors as ImageError."""
    # NOTE: load_img reads regular files only (it opens the path itself, to refuse FIFOs and
    # devices), so the bytes go through a private temporary file.
    with tempfile.TemporaryDirectory(prefix="juanji-upload-") as folder:
        path = os.path.join(folder, "upload")
        with open(path, "wb") as f:
            f.write(data)
        try:
            return load_img(path, **options)
        except (OSError, ValueError) as error:
            message = str(error).replace(repr(path), "the upload").replace(path, "the upload")
            raise ImageError(f"The file is not a readable image: {message}") from None


def _as_probabilities(scores):
    """Scores that already are probabilities (a softmax output) renormalised; other scores
    (logits) through a softmax."""
    if (scores >= 0).all() and abs(scores.sum() - 1) < 1e-3:
        return scores / scores.sum()
    e = np.exp(scores - scores.max())
    return e / e.sum()


def _light_border(x, data_format):
    """Whether the one-pixel border of an image in [0, 1] is light on average."""
    image = x if data_format == "channels_last" else x.transpose(1, 2, 0)  # (H, W, C)
    border = np.concatenate(
        [image[0], image[-1], image[1:-1, 0], image[1:-1, -1]], axis=0
    )  # (2W + 2H - 4, C)
    return float(border.mean()) > 0.5


__all__ = ["ImageError", "InputError", "Inspector", "decode_array", "encode_array"]
