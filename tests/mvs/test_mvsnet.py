"""juanji.mvs.mvsnet and cost_volume: shapes, the variance cost, soft argmin, confidence,
the masked loss, gradients of the whole forward pass (float64), save/load."""

import numpy as np
import pytest

from juanji import backend, saving
from juanji.autograd import Tensor
from juanji.mvs.cost_volume import variance_cost_volume
from juanji.mvs.mvsnet import MVSNet, confidence_map, depth_l1_loss, soft_argmin
from juanji.mvs.synthetic import make_scene
from juanji.mvs.training import optimizer_step, scene_batch
from tests.helpers import check_grad

TINY = {"feature_channels": (2, 3, 3), "regularizer_channels": (3, 2, 3, 3)}


@pytest.fixture
def float64():
    previous = backend.floatx()
    backend.set_floatx("float64")
    yield
    backend.set_floatx(previous)


def test_variance_is_the_same_quantity_for_any_number_of_views():
    rng = np.random.default_rng(0)
    ref = rng.random((1, 4, 5, 2))
    sources = [rng.random((1, 3, 4, 5, 2)) for _ in range(4)]
    cost = variance_cost_volume(ref, sources).data
    stacked = np.stack([np.broadcast_to(ref[:, None], sources[0].shape), *sources])
    np.testing.assert_allclose(cost, stacked.var(axis=0), atol=1e-12)
    # Views that agree cost nothing, whatever their number.
    same = [np.broadcast_to(ref[:, None], (1, 3, 4, 5, 2))] * 2
    np.testing.assert_allclose(variance_cost_volume(ref, same).data, 0, atol=1e-12)


def test_soft_argmin_and_confidence():
    depths = np.array([[2.0, 2.5, 3.0, 3.5, 4.0, 4.5]])
    probability = np.zeros((1, 6, 1, 2))
    probability[0, 2, 0, 0] = 1.0  # certain: plane 2
    probability[0, :, 0, 1] = 1 / 6  # uniform
    depth = soft_argmin(Tensor(probability), depths).data
    np.testing.assert_allclose(depth[0, 0], [3.0, 3.25])
    confidence = confidence_map(probability, depths, depth)
    np.testing.assert_allclose(confidence[0, 0], [1.0, 4 / 6])


def test_masked_l1_loss_in_intervals():
    depth = Tensor(np.array([[[2.0, 3.0], [9.0, 2.5]]]))
    target = np.array([[[2.5, 3.0], [np.inf, 2.0]]])
    mask = np.isfinite(target)
    loss = depth_l1_loss(depth, target, mask, np.array([0.25]))
    assert loss.item() == pytest.approx((2 + 0 + 2) / 3)
    with pytest.raises(ValueError, match="valid pixel"):
        depth_l1_loss(depth, target, np.zeros_like(mask), np.array([0.25]))


def _tiny_batch(size=(32, 32), views=2, num_depths=8):
    scene = make_scene(7, num_views=views, height=size[0], width=size[1], num_depths=num_depths)
    return scene_batch([scene])


def test_shapes_padding_and_any_number_of_views():
    net = MVSNet(**TINY)
    for size, views, num_depths in (((32, 32), 2, 8), ((36, 50), 3, 5), ((64, 96), 5, 32)):
        batch = _tiny_batch(size, views, num_depths)
        out = net(batch.images, batch.cameras, batch.depths)
        h, w = -(-size[0] // 4), -(-size[1] // 4)
        assert out.depth.shape == (1, h, w)
        assert out.probability.shape == (1, num_depths, h, w)
        np.testing.assert_allclose(out.probability.data.sum(axis=1), 1, rtol=1e-5)
        assert (out.depth.data >= batch.depths[0, 0] - 1e-4).all()
        assert (out.depth.data <= batch.depths[0, -1] + 1e-4).all()
        assert ((out.confidence >= 0) & (out.confidence <= 1)).all()


def test_bad_inputs():
    net = MVSNet(**TINY)
    batch = _tiny_batch()
    with pytest.raises(ValueError, match=r"\(B, V, H, W, 3\)"):
        net(batch.images[:, :1], batch.cameras, batch.depths)
    with pytest.raises(ValueError, match="lists of 2 cameras"):
        net(batch.images, [batch.cameras[0][:1]], batch.depths)
    with pytest.raises(ValueError, match="3 feature_channels"):
        MVSNet(feature_channels=(8, 16))


@pytest.mark.parametrize("refine", [False, True])
def test_gradients_of_the_whole_forward_pass(float64, refine):
    net = MVSNet(**TINY, refine=refine)
    batch = _tiny_batch()
    net(batch.images, batch.cameras, batch.depths)  # builds the weights (in float64)
    # Kernels of more than 60 values are checked along random directions (cheap); together
    # they cover the feature net, the cost volume, every U-Net level and the output head.
    checked = [net.features[3], net.encoder[0], net.downsample[0], net.decoder[0], net.logits]
    if refine:
        checked.append(net.refiner[0])

    for block in checked:

        def depth_of(kernel, block=block):
            block.kernel = kernel
            out = net(batch.images, batch.cameras, batch.depths, training=True)
            return out.depth

        kernel = block.kernel.data.copy()
        check_grad(depth_of, [kernel], atol=1e-6, rtol=1e-4, eps=1e-5, directions=2)
        block.kernel = Tensor(kernel, requires_grad=True)


def test_training_steps_lower_the_loss_and_save_load_round_trips(tmp_path):
    from juanji import optimizers

    net = MVSNet(**TINY)
    batch = _tiny_batch()
    net.build((None, 2, 32, 32, 3))
    optimizer = optimizers.Adam(0.01)
    params = net.trainable_weights
    losses = []
    for _ in range(8):
        out = net(batch.images, batch.cameras, batch.depths, training=True)
        loss = net.training_loss(out, batch.target, batch.mask, batch.interval)
        losses.append(optimizer_step(optimizer, loss, params))
    assert losses[-1] < losses[0]
    path = tmp_path / "net.juanji"
    net.save(path)
    loaded = saving.load_model(path, compile=False)
    assert isinstance(loaded, MVSNet) and loaded.feature_channels == TINY["feature_channels"]
    a = net(batch.images, batch.cameras, batch.depths).depth.data
    b = loaded(batch.images, batch.cameras, batch.depths).depth.data
    np.testing.assert_array_equal(a, b)
