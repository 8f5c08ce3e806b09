"""ImageDataGenerator: the geometry of each transform, the statistics of standardisation, and
the batches of flow."""

import json

import numpy as np
import pytest

from juanji.data.augment import ImageDataGenerator, affine_matrices


def _asymmetric(size=9, channels=1):
    """An image with no symmetry: an L-shaped stroke, a dot and a ramp per channel, in a
    9x9 box in the middle (so that shifts of up to 3 pixels keep it whole)."""
    x = np.zeros((size, size, channels), dtype=np.float32)
    box = x[(size - 9) // 2 :, (size - 9) // 2 :]
    box[1, 1:6] = 1.0
    box[1:7, 1] = 2.0
    box[6, 6] = 3.0
    return x + np.arange(channels, dtype=np.float32) * 0.25 * (x > 0)


def _centre_of_mass(image):
    w = image.sum(axis=-1)
    rows, cols = np.indices(w.shape)
    return np.array([(rows * w).sum(), (cols * w).sum()]) / w.sum()


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("theta,k", [(90, 1), (-90, -1), (180, 2)])
def test_rotation_matches_rot90(theta, k, channels):
    x = _asymmetric(channels=channels)
    gen = ImageDataGenerator()
    rotated = gen.apply_transform(x, {"theta": theta})
    np.testing.assert_allclose(rotated, np.rot90(x, k, axes=(0, 1)), atol=1e-5)


def test_rotation_channels_first():
    x = _asymmetric(channels=2).transpose(2, 0, 1)
    rotated = ImageDataGenerator(data_format="channels_first").apply_transform(x, {"theta": 90})
    np.testing.assert_allclose(rotated, np.rot90(x, 1, axes=(1, 2)), atol=1e-5)


def test_explicit_shifts_move_the_content():
    x = _asymmetric(size=15)
    gen = ImageDataGenerator(fill_mode="constant")
    # As Keras, tx samples `tx` columns to the right: the content moves left by tx.
    shifted = gen.apply_transform(x, {"tx": 3, "ty": -2})
    np.testing.assert_allclose(_centre_of_mass(shifted) - _centre_of_mass(x), [2, -3], atol=1e-6)


@pytest.mark.parametrize("option,axis", [("width_shift_range", 1), ("height_shift_range", 0)])
def test_random_shift_moves_along_its_own_axis(option, axis):
    x = _asymmetric(size=16)
    gen = ImageDataGenerator(fill_mode="constant", **{option: [3]})
    moves = []
    for seed in range(8):
        moved = _centre_of_mass(gen.random_transform(x, seed=seed)) - _centre_of_mass(x)
        assert abs(moved[1 - axis]) < 1e-6
        moves.append(round(moved[axis], 6))
    assert set(moves) == {-3.0, 3.0}


def test_fractional_shift_is_a_fraction_of_the_size():
    gen = ImageDataGenerator(width_shift_range=0.25, height_shift_range=2)
    draws = [gen.get_random_transform((12, 40, 1), seed=s) for s in range(200)]
    tx = np.array([d["tx"] for d in draws])
    ty = np.array([d["ty"] for d in draws])
    assert np.abs(tx).max() <= 10 and np.abs(tx).max() > 8
    assert set(ty) == {-1.0, 0.0, 1.0}  # an int range gives whole pixels in (-2, 2)


def test_zoom_below_one_enlarges_about_the_centre():
    x = np.zeros((9, 9, 1), dtype=np.float32)
    x[6, 2] = 1.0  # (2, -2) from the centre
    zoomed = ImageDataGenerator(fill_mode="constant").apply_transform(x, {"zx": 2, "zy": 2})
    assert np.unravel_index(np.argmax(zoomed), zoomed.shape)[:2] == (5, 3)
    assert zoomed.max() == pytest.approx(1.0)


def _keras_matrix(theta, tx, ty, shear, zx, zy, size):
    """Keras's composition in (x, y) coordinates, permuted to (row, col) as Keras does."""
    t, s = np.deg2rad(theta), np.deg2rad(shear)
    rotation = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    shift = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    shearing = np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
    zoom = np.diag([zx, zy, 1.0])
    o = size / 2 - 0.5
    offset = np.array([[1, 0, o], [0, 1, o], [0, 0, 1]])
    reset = np.array([[1, 0, -o], [0, 1, -o], [0, 0, 1]])
    m = offset @ rotation @ shift @ shearing @ zoom @ reset
    return m[[1, 0, 2]][:, [1, 0, 2]]


def test_affine_matrices_match_keras_composition():
    rng = np.random.default_rng(0)
    params = {
        "theta": rng.uniform(-40, 40, 5),
        "tx": rng.uniform(-3, 3, 5),
        "ty": rng.uniform(-3, 3, 5),
        "shear": rng.uniform(-20, 20, 5),
        "zx": rng.uniform(0.8, 1.2, 5),
        "zy": rng.uniform(0.8, 1.2, 5),
    }
    ours = affine_matrices(params, 11, 11)
    for i in range(5):
        expected = _keras_matrix(*(params[k][i] for k in params), size=11)
        np.testing.assert_allclose(ours[i], expected, atol=1e-12)


def test_flips():
    x = _asymmetric(channels=3)
    gen = ImageDataGenerator()
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_horizontal": True}), x[:, ::-1])
    np.testing.assert_array_equal(gen.apply_transform(x, {"flip_vertical": True}), x[::-1])
    batch = np.stack([x] * 32)
    flipped = next(ImageDataGenerator(horizontal_flip=True).flow(batch, batch_size=32, seed=0))
    same = np.all(flipped == x, axis=(1, 2, 3))
    mirrored = np.all(flipped == x[:, ::-1], axis=(1, 2, 3))
    assert np.all(same ^ mirrored) and 0 < same.sum() < 32


def test_channel_shift_is_clipped_to_the_image_range():
    x = np.stack([np.linspace(0, 100, 16).reshape(4, 4)] * 2, axis=-1).astype(np.float32)
    shifted = ImageDataGenerator().apply_transform(x, {"channel_shift_intensity": 10.0})
    np.testing.assert_allclose(shifted, np.clip(x + 10, 0, 100))


def test_input_is_not_modified():
    x = _asymmetric(channels=3)
    before = x.copy()
    gen = ImageDataGenerator(rotation_range=30, horizontal_flip=True, rescale=0.5)
    gen.random_transform(x, seed=0)
    gen.standardize(x)
    np.testing.assert_array_equal(x, before)


def _channel_data(n=300, size=6, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, size, size, 3)) * [2, 0.5, 4] + [3, -2, 5]).astype(np.float32)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_featurewise_standardisation(data_format):
    x = _channel_data()
    axes = (0, 1, 2)
    if data_format == "channels_first":
        x, axes = x.transpose(0, 3, 1, 2), (0, 2, 3)
    gen = ImageDataGenerator(
        featurewise_center=True, featurewise_std_normalization=True, data_format=data_format
    )
    gen.fit(x)
    out = next(gen.flow(x, batch_size=len(x), shuffle=False))
    np.testing.assert_allclose(out.mean(axis=axes), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=axes), 1, atol=1e-5)
    np.testing.assert_allclose(gen.mean.ravel(), x.mean(axis=axes), rtol=1e-5)


def test_samplewise_standardisation_and_rescale():
    x = _channel_data(n=5)
    out = ImageDataGenerator(samplewise_std_normalization=True).standardize(x)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 1, atol=1e-5)
    pixels = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    np.testing.assert_allclose(
        ImageDataGenerator(rescale=1 / 255).standardize(pixels), pixels / 255
    )


def test_zca_whitening_gives_identity_covariance():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(16, 16)) + 3 * np.eye(16)
    x = (rng.normal(size=(4000, 16)) @ mixing + 7).reshape(-1, 4, 4, 1).astype(np.float32)
    gen = ImageDataGenerator(zca_whitening=True)
    assert gen.featurewise_center  # implied, as Keras
    gen.fit(x)
    white = gen.standardize(x).reshape(len(x), -1)
    # Centred per channel (as Keras), so the whitened second moment is the identity.
    np.testing.assert_allclose(white.T @ white / len(x), np.eye(16), atol=1e-3)
    np.testing.assert_allclose(gen.zca_whitening_matrix, gen.zca_whitening_matrix.T, atol=1e-5)


def test_fit_on_augmented_copies():
    x = _channel_data(n=20)
    plain = ImageDataGenerator(featurewise_center=True)
    plain.fit(x)
    augmented = ImageDataGenerator(featurewise_center=True, horizontal_flip=True)
    augmented.fit(x, augment=True, rounds=3, seed=0)
    np.testing.assert_allclose(augmented.mean, plain.mean, rtol=1e-5)  # flips keep the mean


def test_standardising_before_fit_is_an_error():
    with pytest.raises(ValueError, match="fit"):
        ImageDataGenerator(featurewise_center=True).standardize(np.zeros((4, 4, 1)))


def test_flow_batches_cover_each_sample_once_per_epoch():
    x = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1) * np.ones((1, 3, 3, 1), np.uint8)
    y = np.arange(10)
    it = ImageDataGenerator().flow(x, y, batch_size=4, seed=0)
    assert len(it) == 3
    orders = []
    for _ in range(3):
        batches = [next(it) for _ in range(len(it))]
        assert [len(b[0]) for b in batches] == [4, 4, 2]
        for xb, yb in batches:
            assert xb.dtype == np.float32 and yb.dtype == y.dtype
            np.testing.assert_array_equal(xb[:, 0, 0, 0], yb)  # images stay with their labels
        order = np.concatenate([b[1] for b in batches])
        assert sorted(order) == list(range(10))
        orders.append(order.tolist())
    assert orders[0] != list(range(10)) and orders[0] != orders[1]
    again = ImageDataGenerator().flow(x, y, batch_size=4, seed=0)
    assert np.concatenate([next(again)[1] for _ in range(3)]).tolist() == orders[0]


def test_flow_without_shuffle_and_with_weights():
    x, y, w = np.zeros((5, 2, 2, 1)), np.arange(5), np.linspace(0, 1, 5)
    it = ImageDataGenerator().flow(x, y, batch_size=2, shuffle=False, sample_weight=w)
    assert [next(it)[1].tolist() for _ in range(4)] == [[0, 1], [2, 3], [4], [0, 1]]
    xb, yb, wb = next(it)
    assert yb.tolist() == [2, 3] and wb.tolist() == [0.5, 0.75]
    assert next(ImageDataGenerator().flow(x, batch_size=5)).shape == (5, 2, 2, 1)


def test_flow_augments_each_image_differently():
    x = np.stack([_asymmetric(size=12)] * 8)
    gen = ImageDataGenerator(rotation_range=40, zoom_range=0.2, shear_range=10)
    out = next(gen.flow(x, batch_size=8, seed=1))
    assert out.shape == x.shape and out.dtype == np.float32
    assert len({out[i].tobytes() for i in range(8)}) == 8


def test_config_round_trip():
    gen = ImageDataGenerator(rotation_range=10, width_shift_range=(1, 2), zoom_range=0.1)
    config = json.loads(json.dumps(gen.get_config()))
    assert ImageDataGenerator.from_config(config).get_config() == gen.get_config()
    assert config["zoom_range"] == [0.9, 1.1] and config["width_shift_range"] == [1, 2]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(fill_mode="mirror"), "fill_mode='mirror'"),
        (dict(rotation_range=-5), "rotation_range=-5"),
        (dict(zoom_range=(1.2, 0.8)), "zoom_range"),
        (dict(width_shift_range="wide"), "width_shift_range='wide'"),
        (dict(data_format="NHWC"), "data_format='NHWC'"),
        (dict(interpolation_order=7), "interpolation_order=7"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ImageDataGenerator(**kwargs)


def test_flow_checks_its_inputs():
    gen = ImageDataGenerator()
    with pytest.raises(ValueError, match="rank 4"):
        gen.flow(np.zeros((4, 4, 1)))
    with pytest.raises(ValueError, match="len\\(y\\)=3"):
        gen.flow(np.zeros((4, 2, 2, 1)), np.arange(3))
