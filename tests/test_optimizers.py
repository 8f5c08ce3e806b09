"""Optimizers step for step against PyTorch, schedules against their formulas, and state."""

import json
import math

import numpy as np
import pytest

from juanji import optimizers, registry
from juanji.autograd import Tensor
from juanji.optimizers import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    AdamW,
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    PiecewiseConstantDecay,
    RMSprop,
)

SHAPES = [(3, 4), (5,)]


def _problem(steps, seed=0):
    """Initial values and a sequence of gradients (float64) for two variables."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]
    return init, grads


def _run(optimizer, init, grads):
    variables = [Tensor(a.copy()) for a in init]
    for gs in grads:
        optimizer.apply(gs, variables)
    return [v.data for v in variables]


# Each case: our optimizer, and the torch optimizer (by name and arguments) that follows the
# same rule. Where the conventions differ, the hyper-parameters make them coincide:
# - SGD momentum: Keras's velocity holds the learning rate (v = m*v - lr*g), torch's does not
#   (b = m*b + g; w -= lr*b); equal while the learning rate is constant.
# - Adagrad, RMSprop: Keras adds epsilon inside the square root, torch outside; epsilon = 0.
# - Adam(W): Keras's epsilon is torch's eps times sqrt(1 - beta_2**t); epsilon = 0.
# - Adagrad: torch's accumulator starts at 0 unless told; both start at 0.1 here.
TORCH_CASES = {
    "sgd": (lambda: SGD(0.1), "SGD", dict(lr=0.1)),
    "sgd_momentum": (lambda: SGD(0.1, momentum=0.9), "SGD", dict(lr=0.1, momentum=0.9)),
    "sgd_nesterov": (
        lambda: SGD(0.1, momentum=0.8, nesterov=True),
        "SGD",
        dict(lr=0.1, momentum=0.8, nesterov=True),
    ),
    "adagrad": (
        lambda: Adagrad(0.1, initial_accumulator_value=0.1, epsilon=0.0),
        "Adagrad",
        dict(lr=0.1, initial_accumulator_value=0.1, eps=0.0),
    ),
    "adadelta": (
        lambda: Adadelta(1.0, rho=0.9, epsilon=1e-6),
        "Adadelta",
        dict(lr=1.0, rho=0.9, eps=1e-6),
    ),
    "rmsprop": (lambda: RMSprop(0.01, epsilon=0.0), "RMSprop", dict(lr=0.01, alpha=0.9, eps=0.0)),
    "rmsprop_momentum_centered": (
        lambda: RMSprop(0.01, rho=0.8, momentum=0.5, epsilon=0.0, centered=True),
        "RMSprop",
        dict(lr=0.01, alpha=0.8, momentum=0.5, eps=0.0, centered=True),
    ),
    "adam": (
        lambda: Adam(0.01, beta_1=0.8, epsilon=0.0),
        "Adam",
        dict(lr=0.01, betas=(0.8, 0.999), eps=0.0),
    ),
    "adam_amsgrad": (
        lambda: Adam(0.01, epsilon=0.0, amsgrad=True),
        "Adam",
        dict(lr=0.01, eps=0.0, amsgrad=True),
    ),
    "adamw": (
        lambda: AdamW(0.01, weight_decay=0.1, epsilon=0.0),
        "AdamW",
        dict(lr=0.01, weight_decay=0.1, eps=0.0),
    ),
}


@pytest.mark.parametrize("case", TORCH_CASES)
def test_steps_match_torch(case):
    torch = pytest.importorskip("torch")
    make_ours, torch_name, torch_kwargs = TORCH_CASES[case]
    init, grads = _problem(steps=6)
    ours = _run(make_ours(), init, grads)
    params = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    theirs = getattr(torch.optim, torch_name)(params, **torch_kwargs)
    for gs in grads:
        for p, g in zip(params, gs, strict=True):
            p.grad = torch.from_numpy(g.copy())
        theirs.step()
    for w, p in zip(ours, params, strict=True):
        np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "optimizer,expected",
    [
        # One step from w = 1 with g = 2: where epsilon enters in Keras's rules.
        (Adagrad(0.1, epsilon=0.5), 1 - 0.1 * 2 / math.sqrt(0.1 + 4 + 0.5)),
        (RMSprop(0.1, epsilon=0.5), 1 - 0.1 * 2 / math.sqrt(0.1 * 4 + 0.5)),
        (Adam(0.1, epsilon=0.5), 1 - 0.1 * math.sqrt(0.001) / 0.1 * 0.2 / (math.sqrt(0.004) + 0.5)),
    ],
    ids=["adagrad", "rmsprop", "adam"],
)
def test_epsilon_follows_keras(optimizer, expected):
    w = Tensor(np.ones(3))
    optimizer.apply([np.full(3, 2.0)], [w])
    np.testing.assert_allclose(w.data, expected, rtol=1e-12)


@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9), Adam, RMSprop, Adadelta])
def test_updates_in_place_and_keep_float32(make):
    w = Tensor(np.ones((2, 3), dtype=np.float32))
    data = w.data
    optimizer = make()
    optimizer.apply([np.full((2, 3), 0.5, dtype=np.float32)], [w])
    assert w.data is data and w.dtype == np.float32 and np.all(w.data < 1.0)
    assert all(a.dtype == np.float32 for a in optimizer.get_state().values() if a.ndim)


def test_sgd_decay_is_inverse_time_in_the_step_count():
    init, grads = [np.zeros(2)], [[np.ones(2)] for _ in range(4)]
    optimizer = SGD(0.1, decay=0.5)
    variables = [Tensor(init[0].copy())]
    for gs in grads:
        optimizer.apply(gs, variables)
    expected = -sum(0.1 / (1 + 0.5 * t) for t in range(4))
    np.testing.assert_allclose(variables[0].data, expected, rtol=1e-12)
    assert optimizer.learning_rate == 0.1 and optimizer.iterations == 4


def test_sgd_decay_with_momentum_follows_keras():
    optimizer = SGD(0.1, momentum=0.9, decay=1.0)
    w = Tensor(np.zeros(1))
    v, expected = 0.0, 0.0
    for t in range(3):
        optimizer.apply([np.ones(1)], [w])
        v = 0.9 * v - 0.1 / (1 + t)
        expected += v
    np.testing.assert_allclose(w.data, expected, rtol=1e-12)


def test_none_gradient_leaves_its_variable():
    a, b = Tensor(np.ones(2)), Tensor(np.ones(3))
    optimizer = Adam(0.1)
    optimizer.apply([None, np.ones(3)], [a, b])
    np.testing.assert_array_equal(a.data, 1.0)
    assert not np.allclose(b.data, 1.0) and optimizer.iterations == 1


def test_apply_gradients_and_apply_after_build():
    a, b = Tensor(np.zeros(2)), Tensor(np.zeros(2))
    SGD(1.0).apply_gradients([(np.ones(2), a)])
    optimizer = SGD(1.0)
    optimizer.build([b])
    optimizer.apply([Tensor(np.ones(2))])
    np.testing.assert_array_equal(a.data, -1.0)
    np.testing.assert_array_equal(b.data, -1.0)


def test_apply_rejects_mismatched_lists():
    optimizer = SGD()
    with pytest.raises(ValueError, match="shape"):
        optimizer.apply([np.ones(3)], [Tensor(np.ones(2))])
    with pytest.raises(ValueError, match="len"):
        optimizer.apply([np.ones(2)], [Tensor(np.ones(2)), Tensor(np.ones(2))])
    with pytest.raises(ValueError, match="built"):
        SGD().apply([np.ones(2)])


# --------------------------------------------------------------------------- clipping


def test_clipnorm_rescales_each_gradient():
    big, small = np.array([3.0, 4.0]), np.array([0.3, 0.4])
    a, b = Tensor(np.zeros(2)), Tensor(np.zeros(2))
    SGD(1.0, clipnorm=1.0).apply([big, small], [a, b])
    np.testing.assert_allclose(a.data, -big / 5)
    np.testing.assert_allclose(b.data, -small)
    np.testing.assert_array_equal(big, [3.0, 4.0])  # the caller's gradient is not modified


def test_global_clipnorm_rescales_all_together():
    g1, g2 = np.array([3.0, 0.0]), np.array([0.0, 4.0])
    a, b = Tensor(np.zeros(2)), Tensor(np.zeros(2))
    SGD(1.0, global_clipnorm=2.5).apply([g1, g2], [a, b])
    np.testing.assert_allclose(a.data, -g1 / 2)
    np.testing.assert_allclose(b.data, -g2 / 2)
    c = Tensor(np.zeros(2))
    SGD(1.0, global_clipnorm=10.0).apply([g1], [c])
    np.testing.assert_allclose(c.data, -g1)


def test_clipvalue_clips_elementwise():
    w = Tensor(np.zeros(3))
    SGD(1.0, clipvalue=0.5).apply([np.array([-2.0, 0.1, 3.0])], [w])
    np.testing.assert_allclose(w.data, [0.5, -0.1, -0.5])


def test_only_one_clipping_argument():
    with pytest.raises(ValueError, match="at most one"):
        SGD(clipnorm=1.0, clipvalue=1.0)


# --------------------------------------------------------------------------- schedules


@pytest.mark.parametrize("step", [0, 3, 10, 25])
def test_schedules_follow_their_formulas(step):
    exp = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert exp(step) == pytest.approx(0.1 * 0.5 ** (step / 10))
    stair = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert stair(step) == pytest.approx(0.1 * 0.5 ** (step // 10))
    inv = InverseTimeDecay(0.1, decay_steps=5, decay_rate=2.0)
    assert inv(step) == pytest.approx(0.1 / (1 + 2.0 * step / 5))
    cos = CosineDecay(0.1, decay_steps=20, alpha=0.1)
    fraction = min(step, 20) / 20
    assert cos(step) == pytest.approx(0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi * fraction)) + 0.1))


def test_piecewise_constant_boundaries_are_inclusive_on_the_left_piece():
    schedule = PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [schedule(s) for s in (0, 10, 11, 20, 21)] == [1.0, 1.0, 0.5, 0.5, 0.1]
    with pytest.raises(ValueError, match="boundaries"):
        PiecewiseConstantDecay([10, 20], [1.0, 0.5])


def test_cosine_decay_warmup():
    schedule = CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=4)
    assert schedule(0) == 0.0 and schedule(2) == pytest.approx(0.5)
    assert schedule(4) == pytest.approx(1.0) and schedule(9) == pytest.approx(0.5)
    assert schedule(14) == pytest.approx(0.0) and schedule(100) == pytest.approx(0.0)


def test_cosine_decay_matches_torch_cosine_annealing():
    torch = pytest.importorskip("torch")
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=0.2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=8, eta_min=0.02)
    ours = CosineDecay(0.2, decay_steps=8, alpha=0.1)
    for step in range(9):
        assert ours(step) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9)
        opt.step()
        sched.step()


def test_optimizer_steps_with_its_schedule():
    schedule = ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    optimizer = SGD(schedule)
    w = Tensor(np.zeros(1))
    for _ in range(3):
        optimizer.apply([np.ones(1)], [w])
    np.testing.assert_allclose(w.data, -(1.0 + 0.5 + 0.25))
    assert optimizer.learning_rate == 0.125
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        optimizer.learning_rate = 0.1


def test_learning_rate_is_settable():
    optimizer = Adam(0.01)
    optimizer.learning_rate = 0.005
    assert optimizer.learning_rate == 0.005 and optimizer.get_config()["learning_rate"] == 0.005
    with pytest.raises(ValueError, match="learning_rate"):
        optimizer.learning_rate = -1.0


# --------------------------------------------------------------------------- config, state


@pytest.mark.parametrize("case", TORCH_CASES)
def test_config_round_trips_through_json(case):
    optimizer = TORCH_CASES[case][0]()
    config = json.loads(json.dumps(optimizer.get_config()))
    rebuilt = type(optimizer).from_config(config)
    assert rebuilt.get_config() == optimizer.get_config()
    assert registry.get("optimizer", registry.serialize(optimizer)).get_config() == config


def test_schedule_config_round_trips_inside_an_optimizer():
    optimizer = SGD(CosineDecay(0.1, decay_steps=100, warmup_target=0.2, warmup_steps=5))
    config = json.loads(json.dumps(optimizer.get_config()))
    rebuilt = SGD.from_config(config)
    assert isinstance(rebuilt._learning_rate, CosineDecay)
    assert rebuilt.get_config() == optimizer.get_config()


@pytest.mark.parametrize("case", ["sgd_momentum", "rmsprop_momentum_centered", "adam_amsgrad"])
def test_state_round_trip_continues_identically(case):
    make = TORCH_CASES[case][0]
    init, grads = _problem(steps=6, seed=1)
    straight = _run(make(), init, grads)

    first = make()
    variables = [Tensor(a.copy()) for a in init]
    for gs in grads[:3]:
        first.apply(gs, variables)
    state = first.get_state()
    assert state["iterations"] == 3
    assert {k.rpartition("/")[2] for k in state if k != "iterations"} == {"0", "1"}
    second = type(first).from_config(first.get_config())
    second.set_state(state)
    resumed = [Tensor(v.data.copy()) for v in variables]
    for gs in grads[3:]:
        second.apply(gs, resumed)
    for a, b in zip(straight, resumed, strict=True):
        np.testing.assert_array_equal(a, b.data)


def test_state_names_are_flat_and_copied():
    optimizer = Adam()
    w = Tensor(np.ones(2))
    optimizer.apply([np.ones(2)], [w])
    state = optimizer.get_state()
    assert sorted(state) == ["iterations", "momentum/0", "velocity/0"]
    optimizer.apply([np.ones(2)], [w])
    assert not np.array_equal(state["momentum/0"], optimizer.get_state()["momentum/0"])


def test_set_state_rejects_bad_states():
    with pytest.raises(ValueError, match="iterations"):
        Adam().set_state({"momentum/0": np.zeros(2)})
    with pytest.raises(ValueError, match="slot"):
        Adam().set_state({"iterations": 1, "accumulator/0": np.zeros(2)})
    with pytest.raises(ValueError, match="every slot"):
        Adam().set_state({"iterations": 1, "momentum/0": np.zeros(2)})
    optimizer = Adam()
    optimizer.set_state({"iterations": 1, "momentum/0": np.zeros(2), "velocity/0": np.zeros(2)})
    with pytest.raises(ValueError, match="shape"):
        optimizer.apply([np.ones(3)], [Tensor(np.ones(3))])


def test_lookup_by_name_and_errors():
    assert isinstance(optimizers.get("sgd"), SGD)
    assert isinstance(optimizers.get("RMSprop"), RMSprop)
    assert isinstance(optimizers.get("adamw"), AdamW)
    assert registry.lookup("schedule", "exponential_decay") is ExponentialDecay
    with pytest.raises(ValueError, match="Unknown optimizer"):
        optimizers.get("nadam2")
    with pytest.raises(TypeError, match="learning_rate"):
        SGD(lr=0.1)
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=1.5)
    with pytest.raises(ValueError, match="beta_1"):
        Adam(beta_1=1.0)
