"""juanji.random: seeded draws as Keras's keras.random."""

import numpy as np
import pytest

import juanji
from juanji import random
from juanji.autograd import Tensor


def test_int_seeds_repeat_and_seed_generators_advance():
    a = random.normal((3, 4), seed=5).numpy()
    np.testing.assert_array_equal(a, random.normal((3, 4), seed=5).numpy())
    gen, again = random.SeedGenerator(1337), random.SeedGenerator(1337)
    first, second = random.uniform((5,), seed=gen).numpy(), random.uniform((5,), seed=gen).numpy()
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, random.uniform((5,), seed=again).numpy())


def test_unseeded_draws_follow_set_seed():
    juanji.set_seed(3)
    a = random.randint((10,), 0, 5).numpy()
    juanji.set_seed(3)
    np.testing.assert_array_equal(a, random.randint((10,), 0, 5).numpy())
    assert a.dtype == np.int32 and a.min() >= 0 and a.max() < 5


def test_distributions_have_their_moments():
    x = random.normal((20000,), mean=2.0, stddev=3.0, seed=0).numpy()
    assert abs(x.mean() - 2.0) < 0.1 and abs(x.std() - 3.0) < 0.1 and x.dtype == np.float32
    u = random.uniform((20000,), minval=-1.0, maxval=3.0, seed=0).numpy()
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.05
    t = random.truncated_normal((5000,), stddev=2.0, seed=0).numpy()
    assert np.abs(t).max() <= 4.0


def test_shuffle_permutes_along_an_axis():
    x = np.arange(60).reshape(20, 3)
    y = random.shuffle(x, seed=1).numpy()
    assert sorted(map(tuple, y)) == sorted(map(tuple, x)) and not np.array_equal(x, y)


def test_dropout_keeps_the_mean_and_passes_gradients_through_the_mask():
    x = Tensor(np.ones((200, 50), np.float32), requires_grad=True)
    y = random.dropout(x, 0.25, seed=0)
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.75) < 0.02 and np.allclose(y.numpy()[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, y.numpy())
    with pytest.raises(ValueError, match="rate"):
        random.dropout(x, 1.0)
