"""The autograd engine: accumulation, broadcasting, no_grad, deep graphs, errors, memory."""

import gc
import threading
import weakref

import numpy as np
import pytest

from juanji import ops
from juanji.autograd import Tensor, is_grad_enabled, no_grad, primitive, unbroadcast


def _leaf(shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_a_value_used_twice_accumulates_its_gradient():
    x = _leaf(3)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 1)


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    x = _leaf(3)
    (x * 2.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, np.full(3, 5.0))
    x.zero_grad()
    assert x.grad is None


def test_broadcast_gradients_reduce_to_each_input_shape():
    a, b = _leaf((3, 1)), _leaf((4,), seed=1)
    gy = np.random.default_rng(2).standard_normal((3, 4))
    ops.multiply(a, b).backward(gy)
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_allclose(a.grad, (gy * b.data).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(b.grad, (gy * a.data).sum(axis=0))


def test_unbroadcast_sums_leading_and_size_one_axes():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    assert unbroadcast(g, (2, 3, 4)) is g


def test_no_grad_records_nothing():
    x = _leaf(3)
    with no_grad():
        y = x * 2.0 + 1.0
    assert not y.requires_grad and y._parents == () and y._backward is None
    z = x * 2.0  # recording resumes after the block
    assert z.requires_grad


def test_no_grad_in_overlapping_threads_leaves_each_thread_its_own_mode():
    # A enters, B enters, A leaves, B leaves: the order in which a process-wide flag would
    # end up switched off for everyone (B restores the False it saw on entering).
    steps = [threading.Event() for _ in range(3)]
    seen = {}

    def first():
        with no_grad():
            steps[0].set()
            steps[1].wait(5)
        steps[2].set()

    def second():
        steps[0].wait(5)
        with no_grad():
            steps[1].set()
            steps[2].wait(5)
            seen["inside"] = is_grad_enabled()
        seen["after"] = is_grad_enabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert all(step.is_set() for step in steps)
    assert seen == {"inside": False, "after": True}
    assert is_grad_enabled() and (_leaf(3) * 2.0).requires_grad


def test_constants_are_not_recorded():
    y = ops.add(Tensor(np.ones(3)), 1.0)
    assert not y.requires_grad and y._parents == ()


def test_a_deep_chain_backpropagates_without_recursion_error():
    x = Tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0])


def test_backward_through_a_freed_graph_raises():
    x = _leaf(3)
    h = x * x
    first, second = h.sum(), (h * 2.0).sum()
    first.backward()
    with pytest.raises(RuntimeError, match="already freed"):
        second.backward()
    with pytest.raises(RuntimeError, match="already freed"):
        first.backward()


def test_backward_of_a_non_scalar_needs_a_gradient():
    y = _leaf(3) * 2.0
    with pytest.raises(ValueError, match=r"Received: shape=\(3,\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"grad.shape=\(2,\)"):
        y.backward(np.ones(2))


def test_backward_of_a_constant_raises():
    with pytest.raises(RuntimeError, match="does not require gradients"):
        Tensor(np.ones(3)).sum().backward()


@pytest.mark.parametrize("data", [np.arange(3), np.array([True, False])])
def test_only_float_tensors_can_require_grad(data):
    with pytest.raises(TypeError, match=f"Received: dtype={data.dtype}"):
        Tensor(data, requires_grad=True)


def test_ops_declaring_needs_grad_receive_one_flag_per_input():
    seen = []

    @primitive
    def scaled_sum(a, b, c, *, needs_grad):
        seen.append(needs_grad)
        return a * b + c, lambda gy: (gy * b, gy * a, gy)

    w, const = _leaf(2), Tensor(np.ones(2))
    scaled_sum(w, const, 3.0)
    scaled_sum(const, w, w)
    scaled_sum(const, const, 3.0)
    with no_grad():
        scaled_sum(w, w, w)
    assert seen == [
        (True, False, False),
        (False, True, True),
        (False, False, False),
        (False, False, False),
    ]


def test_gradients_nobody_needs_are_skipped():
    @primitive
    def product(a, b, *, needs_grad):
        def backward(gy):
            assert not needs_grad[1], "the gradient of a constant was asked for"
            return gy * b, None

        return a * b, backward

    x = _leaf(3)
    product(x, np.ones(3)).backward(np.ones(3))
    np.testing.assert_allclose(x.grad, np.ones(3))


def test_intermediates_are_released_after_backward():
    saved = []

    @primitive
    def square(x):
        twice = 2 * x
        saved.append(weakref.ref(twice))
        return x * x, lambda gy: gy * twice

    x = _leaf(3)
    loss = ops.sum(square(x))
    gc.collect()
    assert saved[0]() is not None, "backward needs the intermediate before it runs"
    loss.backward()
    gc.collect()
    assert saved[0]() is None, "the intermediate outlived backward()"
    np.testing.assert_allclose(x.grad, 2 * x.data)
