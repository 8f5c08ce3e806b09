"""juanji.activations: Keras's activation functions by name, the composed ones checked."""

import numpy as np
import pytest

from juanji import activations, layers
from tests.helpers import check_grad, check_vs_torch

torch = pytest.importorskip("torch")
F = torch.nn.functional

# points away from the kinks at 0, 6 and +-3
X = np.array([[-5.0, -2.5, -0.7, 0.4], [1.3, 2.2, 4.0, 7.5]])

COMPOSED = [
    ("relu6", F.relu6),
    ("exponential", torch.exp),
    ("mish", F.mish),
    ("hard_silu", F.hardswish),
    ("log_sigmoid", F.logsigmoid),
]


@pytest.mark.parametrize("name,torch_fn", COMPOSED, ids=[n for n, _ in COMPOSED])
def test_composed_activations_match_torch_and_differentiate(name, torch_fn):
    fn = activations.get(name)
    check_grad(fn, [X.copy()])
    check_vs_torch(fn, torch_fn, [X.copy()])


def test_relu_takes_keras_arguments():
    x = np.array([-2.0, 0.5, 3.0, 8.0])
    np.testing.assert_allclose(activations.relu(x).numpy(), [0, 0.5, 3, 8])
    got = activations.relu(x, negative_slope=0.1, max_value=6.0, threshold=1.0).numpy()
    np.testing.assert_allclose(got, [-0.3, -0.05, 3.0, 6.0])


def test_names_resolve_as_layers_resolve_them():
    assert activations.get("swish") is activations.silu
    assert activations.serialize(activations.get("hard_swish")) == "hard_silu"
    layer = layers.Dense(2, activation="mish")
    assert layer.get_config()["activation"] == "mish"
    with pytest.raises(ValueError, match="Unknown activation 'nope'"):
        activations.get("nope")
