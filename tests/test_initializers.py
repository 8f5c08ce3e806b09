"""Initializers: Keras's fans, bounds and variances, dtypes, seeding, names and configs."""

import json
import math

import numpy as np
import pytest

import juanji
from juanji import initializers, registry
from juanji.initializers import compute_fans

NAMES = {
    "zeros": initializers.Zeros,
    "ones": initializers.Ones,
    "constant": initializers.Constant,
    "random_normal": initializers.RandomNormal,
    "random_uniform": initializers.RandomUniform,
    "truncated_normal": initializers.TruncatedNormal,
    "variance_scaling": initializers.VarianceScaling,
    "glorot_uniform": initializers.GlorotUniform,
    "glorot_normal": initializers.GlorotNormal,
    "he_normal": initializers.HeNormal,
    "he_uniform": initializers.HeUniform,
    "lecun_normal": initializers.LecunNormal,
    "lecun_uniform": initializers.LecunUniform,
    "orthogonal": initializers.Orthogonal,
}
RANDOM = [name for name in NAMES if name not in ("zeros", "ones", "constant")]
DENSE, CONV = (300, 200), (3, 5, 32, 64)  # fans (300, 200) and (480, 960)


@pytest.mark.parametrize(
    "shape, fans",
    [
        ((), (1, 1)),
        ((7,), (7, 7)),
        ((4, 6), (4, 6)),
        ((3, 3, 8, 16), (72, 144)),
        ((2, 3, 4, 5, 6), (120, 144)),
    ],
)
def test_fans_follow_keras(shape, fans):
    assert compute_fans(shape) == fans


@pytest.mark.parametrize("name", NAMES)
def test_names_resolve_to_instances(name):
    assert type(registry.get("initializer", name)) is NAMES[name]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [DENSE, CONV])
def test_shape_and_dtype(name, shape):
    init = registry.get("initializer", name)
    assert init(shape).shape == shape and init(shape).dtype == juanji.floatx()
    assert init(list(shape), dtype="float64").dtype == np.float64


def test_constants():
    np.testing.assert_array_equal(initializers.Zeros()((2, 3)), 0)
    np.testing.assert_array_equal(initializers.Ones()((2, 3)), 1)
    np.testing.assert_array_equal(initializers.Constant(2.5)((4,), dtype="float64"), 2.5)
    assert initializers.Constant(3)((2,), dtype="int32").dtype == np.int32


# (name, shape) -> (bound on |w| or None, expected variance); mean 0 throughout
SCALING = [
    ("glorot_uniform", DENSE, math.sqrt(6 / 500), 2 / 500),
    ("glorot_uniform", CONV, math.sqrt(6 / 1440), 2 / 1440),
    ("glorot_normal", CONV, 2 * math.sqrt(2 / 1440) / 0.8796256610342398, 2 / 1440),
    ("he_normal", CONV, 2 * math.sqrt(2 / 480) / 0.8796256610342398, 2 / 480),
    ("he_uniform", DENSE, math.sqrt(6 / 300), 2 / 300),
    ("lecun_normal", DENSE, 2 * math.sqrt(1 / 300) / 0.8796256610342398, 1 / 300),
    ("lecun_uniform", CONV, math.sqrt(3 / 480), 1 / 480),
    ("random_uniform", DENSE, 0.05, 0.05**2 / 3),
    ("random_normal", DENSE, None, 0.05**2),
    ("truncated_normal", DENSE, 2 * 0.05, 0.05**2 * 0.8796256610342398**2),
]


@pytest.mark.parametrize(
    "name, shape, bound, variance", SCALING, ids=[f"{s[0]}-{len(s[1])}d" for s in SCALING]
)
def test_bounds_and_variance_on_a_big_draw(name, shape, bound, variance):
    juanji.set_seed(0)
    w = registry.get("initializer", name)(shape, dtype="float64")
    if bound is not None:
        assert np.abs(w).max() <= bound
        assert np.abs(w).max() > 0.95 * bound  # the range is used, not a narrower one
    # within five standard errors (the sample variance's is at most sqrt(2 / n))
    assert w.mean() == pytest.approx(0, abs=5 * math.sqrt(variance / w.size))
    assert w.var() == pytest.approx(variance, rel=5 * math.sqrt(2 / w.size))


def test_random_normal_and_uniform_take_their_parameters():
    juanji.set_seed(1)
    w = initializers.RandomNormal(mean=3.0, stddev=0.5)((200, 200))
    assert w.mean() == pytest.approx(3.0, abs=0.01) and w.std() == pytest.approx(0.5, rel=0.02)
    w = initializers.RandomUniform(minval=2.0, maxval=4.0)((200, 200))
    assert w.min() >= 2.0 and w.max() < 4.0 and w.mean() == pytest.approx(3.0, abs=0.01)
    w = initializers.TruncatedNormal(mean=-1.0, stddev=0.1)((200, 200))
    assert np.abs(w + 1).max() <= 0.2


@pytest.mark.parametrize("shape", [(30, 10), (10, 30), (3, 3, 4, 8), (3, 3, 8, 4)])
def test_orthogonal_has_orthonormal_columns_or_rows(shape):
    w = initializers.Orthogonal(gain=2.0)(shape, dtype="float64")
    m = w.reshape(-1, shape[-1])  # (rows, cols)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, 4 * np.eye(len(gram)), atol=1e-12)


@pytest.mark.parametrize("name", RANDOM)
def test_set_seed_repeats_draws(name):
    init = registry.get("initializer", name)
    juanji.set_seed(5)
    first, second = init(CONV), init(CONV)
    juanji.set_seed(5)
    np.testing.assert_array_equal(init(CONV), first)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("name", RANDOM)
def test_a_seeded_initializer_repeats_itself_and_leaves_the_shared_generator(name):
    init = NAMES[name](seed=3)
    juanji.set_seed(0)
    a = init(DENSE)
    after_a = juanji.backend.rng().random()
    juanji.set_seed(0)
    b = init(DENSE)
    np.testing.assert_array_equal(a, b)
    assert juanji.backend.rng().random() == after_a  # the shared Generator was not touched
    assert not np.array_equal(a, NAMES[name](seed=4)(DENSE))


INSTANCES = [
    initializers.Zeros(),
    initializers.Ones(),
    initializers.Constant(0.3),
    initializers.RandomNormal(mean=1.0, stddev=2.0, seed=1),
    initializers.RandomUniform(minval=-1.0, maxval=2.0, seed=2),
    initializers.TruncatedNormal(stddev=0.2, seed=3),
    initializers.VarianceScaling(scale=0.5, mode="fan_out", distribution="uniform", seed=4),
    initializers.GlorotUniform(seed=5),
    initializers.GlorotNormal(),
    initializers.HeNormal(seed=6),
    initializers.HeUniform(),
    initializers.LecunNormal(seed=7),
    initializers.LecunUniform(),
    initializers.Orthogonal(gain=0.5, seed=8),
]


@pytest.mark.parametrize("init", INSTANCES, ids=lambda i: type(i).__name__)
def test_config_round_trip(init):
    config = json.loads(json.dumps(registry.serialize(init)))
    again = registry.get("initializer", config)
    assert type(again) is type(init) and again.get_config() == init.get_config()
    if getattr(init, "seed", 0) is not None:  # deterministic: the same values
        np.testing.assert_array_equal(again((4, 6)), init((4, 6)))


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: initializers.VarianceScaling(mode="fan_sum"), ValueError, r"mode='fan_sum'"),
        (
            lambda: initializers.VarianceScaling(distribution="beta"),
            ValueError,
            r"distribution='beta'",
        ),
        (lambda: initializers.VarianceScaling(scale=0), ValueError, r"Received: scale=0"),
        (lambda: initializers.RandomNormal(stddev=-1), ValueError, r"Received: stddev=-1"),
        (lambda: initializers.RandomUniform(minval=1, maxval=0), ValueError, r"minval=1"),
        (lambda: initializers.GlorotUniform(seed=-2), ValueError, r"Received: seed=-2"),
        (lambda: initializers.Constant("a"), ValueError, r"Received: value='a'"),
        (lambda: initializers.HeNormal()((3, 4), dtype="int32"), TypeError, r"dtype=int32"),
        (lambda: initializers.Zeros()((3, -1)), TypeError, r"Received: shape=\(3, -1\)"),
        (lambda: initializers.Orthogonal()((5,)), ValueError, r"two dimensions"),
        (lambda: registry.get("initializer", "glorot"), ValueError, r"initializer='glorot'"),
    ],
)
def test_errors_say_what_was_expected(make, error, match):
    with pytest.raises(error, match=match):
        make()
