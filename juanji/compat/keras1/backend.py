"""``keras.backend`` in Keras 1's terms: the image dimension ordering and the float type.

The ordering is Theano's ``"th"`` (channels first, ``(N, C, H, W)``) unless the environment
variable ``KERAS_IMAGE_DIM_ORDERING`` or :func:`set_image_dim_ordering` says ``"tf"``
(channels last, ``(N, H, W, C)``, juanji's own layout).
"""

import os

from juanji.backend import floatx, set_floatx

_ORDERINGS = {"th": "channels_first", "tf": "channels_last"}
_ordering = None  # set by set_image_dim_ordering; None follows the environment


def _check_ordering(dim_ordering, name):
    if dim_ordering not in _ORDERINGS:
        raise ValueError(
            f"Expected `{name}` 'th' (channels first) or 'tf' (channels last). "
            f"Received: {name}={dim_ordering!r}"
        )
    return dim_ordering


def image_dim_ordering():
    """``"th"`` or ``"tf"``: the ordering that layers with ``dim_ordering='default'`` use.

    Raises:
        ValueError: if ``KERAS_IMAGE_DIM_ORDERING`` holds another value.
    """
    if _ordering is not None:
        return _ordering
    return _check_ordering(
        os.environ.get("KERAS_IMAGE_DIM_ORDERING", "th"), "KERAS_IMAGE_DIM_ORDERING"
    )


def set_image_dim_ordering(dim_ordering):
    """Make ``dim_ordering`` (``"th"`` or ``"tf"``) the default of layers built from now on."""
    global _ordering
    _ordering = _check_ordering(dim_ordering, "dim_ordering")


def data_format(dim_ordering):
    """The juanji ``data_format`` of a Keras 1 ``dim_ordering`` (``"default"``, ``"th"``, ``"tf"``).

    Example:
        >>> data_format("th"), data_format("tf")
        ('channels_first', 'channels_last')
    """
    if dim_ordering == "default":
        dim_ordering = image_dim_ordering()
    return _ORDERINGS[_check_ordering(dim_ordering, "dim_ordering")]


def epsilon():
    """The fuzz factor Keras 1 adds to denominators (1e-7)."""
    return 1e-7


__all__ = ["epsilon", "floatx", "image_dim_ordering", "set_floatx", "set_image_dim_ordering"]
