"""What every Keras 1 layer shares: the input-shape arguments and initial ``weights``."""

from juanji.compat.keras1.legacy import Legacy

# Arguments of Keras 1 layers with weights that only Theano-era Keras acted on.
WEIGHTED_NO_EFFECT = {
    "W_constraint": (None,),
    "b_constraint": (None,),
    "activity_regularizer": (None,),
    "input_dtype": ("float32",),
}


def layer_kwargs(
    input_shape=None, input_dim=None, batch_input_shape=None, name=None, trainable=True, **unknown
):
    """juanji's ``Layer`` arguments from Keras 1's.

    ``input_dim=n`` is ``input_shape=(n,)``; ``batch_input_shape`` loses its batch size
    (juanji layers take any).

    Example:
        >>> layer_kwargs(input_dim=784)
        {'input_shape': (784,)}

    Raises:
        TypeError: for an argument that Keras 1 layers did not take.
    """
    if unknown:
        raise TypeError(f"Unexpected keyword arguments for a Keras 1 layer. Received: {unknown}")
    if input_dim is not None:
        input_shape = (input_dim,)
    if batch_input_shape is not None:
        input_shape = tuple(batch_input_shape)[1:]
    kwargs = {"input_shape": tuple(input_shape)} if input_shape is not None else {}
    if name is not None:
        kwargs["name"] = name
    if not trainable:
        kwargs["trainable"] = False
    return kwargs


class LegacyLayer(Legacy):
    """A Keras 1 layer: accepts ``weights=[...]`` (juanji's layout, as ``get_weights()``
    returns it), loaded when the layer is built."""

    def __init__(self, *args, weights=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial_weights = weights

    def build(self, input_shape):
        super().build(input_shape)
        if self.initial_weights is not None:
            self.set_weights(self.initial_weights)
            self.initial_weights = None
