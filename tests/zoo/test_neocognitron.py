"""The Neocognitron's cells against the formulas of Fukushima (1980), written out directly."""

import numpy as np

from juanji.zoo.neocognitron import CLayer, GlobalCLayer, Neocognitron, SLayer


def _layer(seed=0):
    layer = SLayer(2, 3, 3, r=2.0, q=4.0, rng=np.random.default_rng(seed))
    layer.a = np.random.default_rng(seed + 1).random(layer.a.shape)
    layer.b = np.array([0.5, 2.0, 8.0])
    return layer


def test_s_and_v_cells_follow_the_shunting_formula_at_every_position():
    layer = _layer()
    u_c = np.random.default_rng(2).random((2, 5, 6, 2))
    u_s, v = layer(u_c, with_v=True)
    padded = np.pad(u_c, [(0, 0), (1, 1), (1, 1), (0, 0)])
    for n, y, x, k in [(0, 0, 0, 0), (1, 2, 3, 1), (0, 4, 5, 2), (1, 3, 0, 2)]:
        window = padded[n, y : y + 3, x : x + 3]  # (3, 3, κ)
        excitation = np.sum(window.transpose(2, 0, 1) * layer.a[..., k])
        v_direct = np.sqrt(np.sum(layer.c * window.transpose(2, 0, 1) ** 2))
        expected = layer.r * max(
            (1 + excitation) / (1 + layer.r / (1 + layer.r) * layer.b[k] * v_direct) - 1, 0
        )
        assert v[n, y, x] == np.float64(v_direct) or abs(v[n, y, x] - v_direct) < 1e-12
        assert abs(u_s[n, y, x, k] - expected) < 1e-12
    assert np.isclose(layer.c.sum(), 1.0)


def test_c_cells_blur_subsample_and_saturate():
    c_layer = CLayer(3, 2, alpha=0.5)
    u_s = np.random.default_rng(3).random((1, 6, 6, 2))
    u_c = c_layer(u_s)
    assert u_c.shape == (1, 3, 3, 2)
    padded = np.pad(u_s, [(0, 0), (1, 1), (1, 1), (0, 0)])
    blurred = np.sum(padded[0, 2:5, 0:3, 1] * c_layer.d)  # the cell at (1, 0) of plane 1
    assert abs(u_c[0, 1, 0, 1] - blurred / (0.5 + blurred)) < 1e-12
    assert np.all(u_c < 1) and np.all(u_c >= 0)
    peak = GlobalCLayer(0.5)(u_s)
    assert np.allclose(peak, u_s.max(axis=(1, 2)) / (0.5 + u_s.max(axis=(1, 2))))


def test_reinforcement_changes_only_the_planes_of_representatives():
    layer = SLayer(1, 4, 3, r=4.0, q=2.0, rng=np.random.default_rng(4))
    pattern = np.zeros((1, 7, 7, 1))
    pattern[0, 3, 1:6] = 1.0  # a horizontal bar
    before_a, before_b = layer.a.copy(), layer.b.copy()
    before_response = layer(pattern)
    chosen = layer.reinforce(pattern)
    assert len(chosen) >= 1
    unchanged = [k for k in range(4) if k not in chosen]
    assert np.array_equal(layer.a[..., unchanged], before_a[..., unchanged])
    assert np.all(layer.b[chosen] > before_b[chosen])
    # the reinforced plane now answers the bar far more strongly than its random start did
    k = chosen[0]
    assert layer(pattern)[..., k].max() > 10 * before_response[..., k].max()


def test_the_network_maps_images_to_one_final_cell_per_plane_and_is_shift_equivariant():
    net = Neocognitron(planes=(4, 6, 3), seed=0)
    x = np.zeros((2, 20, 20, 1))
    x[0, 8:11, 8:11] = 1.0
    x[1, 10:13, 8:11] = 1.0  # the same blob two pixels (one C1 stride) lower
    outputs = net.layer_outputs(x)
    assert [o.shape[1:3] for o in outputs[:4]] == [(20, 20), (10, 10), (10, 10), (10, 10)]
    final = net.predict(x)
    assert final.shape == (2, 3)
    assert np.allclose(final[0], final[1])


def test_a_whole_layer_column_lets_one_pattern_train_one_plane():
    local = SLayer(1, 4, 3, r=4.0, q=2.0, column=1, rng=np.random.default_rng(5))
    whole = SLayer(1, 4, 3, r=4.0, q=2.0, column=None, rng=np.random.default_rng(5))
    pattern = np.zeros((1, 9, 9, 1))
    pattern[0, 2:7, 4] = 1.0
    pattern[0, 4, 2:7] = 1.0  # a cross: several local features
    assert len(local.reinforce(pattern)) > 1
    assert len(whole.reinforce(pattern)) == 1
