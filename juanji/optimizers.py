"""Optimizers and learning-rate schedules, with Keras 3's names, defaults and update rules.

An optimizer sees parameter tensors, never layers: ``apply(grads, variables)`` clips the
gradients, applies decoupled weight decay, updates every ``variable.data`` in place (the only
place in juanji that writes parameter arrays) and counts ``iterations``. Per-variable state
("slots", e.g. Adam's ``momentum`` and ``velocity``) is created on the first ``apply`` and
addressed by the variable's position in the list, so ``get_state()`` can name it flatly
(``"momentum/3"``) for saving.
"""

import math

import numpy as np

from juanji import registry
from juanji.autograd import Tensor

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "Adadelta",
    "RMSprop",
    "Adam",
    "AdamW",
    "LearningRateSchedule",
    "ExponentialDecay",
    "InverseTimeDecay",
    "PiecewiseConstantDecay",
    "CosineDecay",
    "get",
]


def _check_range(name, value, low=-math.inf, high=math.inf, closed="both"):
    """Raise ValueError unless ``value`` is a real number between ``low`` and ``high``.

    ``closed`` ("both", "left", "right" or "neither") says which ends are included.
    """
    left, right = closed in ("both", "left"), closed in ("both", "right")
    ok = (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and (low <= value if left else low < value)
        and (value <= high if right else value < high)
    )
    if not ok:
        interval = f"{'[' if left else '('}{low}, {high}{']' if right and high < math.inf else ')'}"
        raise ValueError(
            f"Expected `{name}` to be a number in {interval}. Received: {name}={value!r}"
        )


# --------------------------------------------------------------------------- schedules


class LearningRateSchedule:
    """A learning rate as a function of the optimizer's step count (``iterations``)."""

    def __call__(self, step):
        """The learning rate (a Python float) at ``step`` (updates already applied)."""
        raise NotImplementedError

    def get_config(self):
        """The constructor's arguments as JSON values: ``type(self)(**get_config())`` is a copy."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _RateDecay(LearningRateSchedule):
    """Shared arguments of the decays driven by ``step / decay_steps``."""

    def __init__(
        self, initial_learning_rate, *, decay_steps, decay_rate, staircase=False, name=None
    ):
        _check_range("initial_learning_rate", initial_learning_rate)
        _check_range("decay_steps", decay_steps, 0, closed="right")
        _check_range("decay_rate", decay_rate)
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)
        self.name = name or type(self).__name__

    def _progress(self, step):
        p = step / self.decay_steps
        return math.floor(p) if self.staircase else p

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


@registry.register("schedule")
class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps over which the rate is multiplied by ``decay_rate`` once.
        decay_rate: the factor per ``decay_steps``.
        staircase: decay in whole steps (``floor(step / decay_steps)``).
        name: a name for the schedule.

    Example:
        >>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(20)
        0.025
    """

    def __call__(self, step):
        return self.initial_learning_rate * self.decay_rate ** self._progress(step)


@registry.register("schedule")
class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``.

    Takes the arguments of :class:`ExponentialDecay` (``staircase`` floors
    ``step / decay_steps``).

    Example:
        >>> InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)(2)
        0.05
    """

    def __call__(self, step):
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step))


@registry.register("schedule")
class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, and ``values[-1]`` after the last boundary.

    Example:
        >>> schedule = PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
        >>> schedule(100), schedule(101), schedule(500)
        (1.0, 0.5, 0.1)
    """

    def __init__(self, boundaries, values, name=None):
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1 or np.any(np.diff(boundaries) <= 0):
            raise ValueError(
                "Expected strictly increasing `boundaries` and one more entry in `values`. "
                f"Received: boundaries={boundaries}, values={values}"
            )
        self.boundaries = boundaries
        self.values = [float(v) for v in values]
        self.name = name or "PiecewiseConstant"

    def __call__(self, step):
        return self.values[int(np.searchsorted(self.boundaries, step, side="left"))]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


@registry.register("schedule")
class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` to ``alpha * initial_learning_rate``.

    ``lr(step) = lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps))
    + alpha)``. With ``warmup_target``, the rate first rises linearly from
    ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``, then decays from
    ``warmup_target`` over the next ``decay_steps``.

    Example:
        >>> CosineDecay(1.0, decay_steps=10)(5)
        0.5
    """

    def __init__(
        self,
        initial_learning_rate,
        *,
        decay_steps,
        alpha=0.0,
        name=None,
        warmup_target=None,
        warmup_steps=0,
    ):
        _check_range("initial_learning_rate", initial_learning_rate)
        _check_range("decay_steps", decay_steps, 0, closed="right")
        _check_range("warmup_steps", warmup_steps, 0)
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.alpha = float(alpha)
        self.name = name or type(self).__name__
        self.warmup_target = None if warmup_target is None else float(warmup_target)
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        start, warmup = self.initial_learning_rate, 0
        if self.warmup_target is not None:
            if step < self.warmup_steps:
                return start + (self.warmup_target - start) * step / self.warmup_steps
            start, warmup = self.warmup_target, self.warmup_steps
        fraction = min(step - warmup, self.decay_steps) / self.decay_steps
        return start * (
            (1.0 - self.alpha) * 0.5 * (1.0 + math.cos(math.pi * fraction)) + self.alpha
        )

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


# --------------------------------------------------------------------------- optimizers


class Optimizer:
    """Base optimizer: clipping, weight decay, slot state, step count, config and state.

    Subclasses declare their slots in ``_slots_spec()`` (name -> initial value) and write
    ``update_step(i, g, w, lr)``, which updates the array ``w`` of variable ``i`` in place.

    Args:
        learning_rate: a positive float, or a :class:`LearningRateSchedule` called with
            ``iterations``.
        weight_decay: if set, every step first shrinks each variable by
            ``w -= lr * weight_decay * w`` (decoupled weight decay).
        clipnorm: if set, each gradient is rescaled so its L2 norm is at most this.
        clipvalue: if set, each gradient is clipped elementwise to ``[-clipvalue, clipvalue]``.
        global_clipnorm: if set, all gradients are rescaled together so that the L2 norm of
            their concatenation is at most this. At most one of the three clipping
            arguments may be set.
        name: a name for the optimizer (default: its class name in lower case).

    Raises:
        ValueError: on an out-of-range hyper-parameter or more than one clipping argument.
        TypeError: on ``lr=`` (Keras 3 calls it ``learning_rate``).
    """

    def __init__(
        self,
        learning_rate,
        *,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
        **kwargs,
    ):
        if "lr" in kwargs:
            raise TypeError(f"`lr` is called `learning_rate`. Received: lr={kwargs['lr']!r}")
        if kwargs:
            raise TypeError(f"Unexpected keyword arguments. Received: {kwargs}")
        for arg, value in (
            ("weight_decay", weight_decay),
            ("clipnorm", clipnorm),
            ("clipvalue", clipvalue),
            ("global_clipnorm", global_clipnorm),
        ):
            if value is not None:
                _check_range(arg, value, 0)
        if sum(v is not None for v in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Expected at most one of `clipnorm`, `clipvalue` and `global_clipnorm`. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        self.name = name or type(self).__name__.lower()
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.iterations = 0
        self.learning_rate = learning_rate
        self._slots = {}  # slot name -> one array per variable position
        self._variables = None

    # ----- learning rate

    @property
    def learning_rate(self):
        """The current learning rate: the float, or the schedule at ``iterations``."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, LearningRateSchedule):
            self._learning_rate = value
            return
        if isinstance(getattr(self, "_learning_rate", None), LearningRateSchedule):
            raise TypeError(
                "This optimizer's learning rate is a LearningRateSchedule and cannot be set "
                f"to a number; create it with a float `learning_rate`. Received: {value!r}"
            )
        _check_range("learning_rate", value, 0, closed="neither")  # finite and positive
        self._learning_rate = float(value)

    def _step_learning_rate(self):
        """The learning rate this step uses (subclasses may decay it further)."""
        return self.learning_rate

    # ----- slots

    def _slots_spec(self):
        """Slot name -> initial value of the per-variable state this optimizer keeps."""
        return {}

    @property
    def built(self):
        """Whether the slots exist (made by ``build`` or restored by ``set_state``)."""
        return bool(self._slots) or (self._variables is not None)

    def build(self, variables):
        """Create the slot arrays (shaped and typed like each variable) for ``variables``."""
        variables = list(variables)
        self._slots = {
            name: [np.full(v.shape, init, dtype=v.dtype) for v in variables]
            for name, init in self._slots_spec().items()
        }
        self._variables = variables

    def _bind(self, variables):
        """Attach ``variables`` to slots restored by ``set_state``, checking their shapes."""
        for name, arrays in self._slots.items():
            if len(arrays) != len(variables):
                raise ValueError(
                    f"Expected {len(arrays)} variables (the saved `{name}` state). "
                    f"Received: len(variables)={len(variables)}"
                )
            for i, (a, v) in enumerate(zip(arrays, variables, strict=True)):
                if a.shape != v.shape:
                    raise ValueError(
                        f"Expected variable {i} of shape {a.shape} (the saved `{name}` state). "
                        f"Received: variables[{i}].shape={v.shape}"
                    )
        self._variables = variables

    # ----- updates

    def apply_gradients(self, grads_and_vars):
        """Apply ``[(grad, variable), ...]``; see :meth:`apply`."""
        grads, variables = zip(*grads_and_vars, strict=True)
        self.apply(grads, variables)

    def apply(self, grads, variables=None):
        """One update of ``variables`` (Tensors) from ``grads`` (arrays or Tensors), in place.

        Variables whose gradient is None are left unchanged. The variable list must keep
        the same order and length from step to step: state is held per position.

        Args:
            grads: one gradient per variable, shaped like it, or None.
            variables: the Tensors to update; may be omitted after ``build(variables)``.

        Raises:
            ValueError: if the lists differ in length, a gradient's shape differs from its
                variable's, or the variables differ from those the optimizer was built for.
        """
        grads = [g.data if isinstance(g, Tensor) else g for g in grads]
        if variables is None:
            if self._variables is None:
                raise ValueError(
                    "Expected `variables` (the optimizer has not been built). Received: "
                    "variables=None"
                )
            variables = self._variables
        variables = list(variables)
        if not self.built:
            self.build(variables)
        elif self._variables is None:
            self._bind(variables)
        if len(grads) != len(variables) or len(variables) != len(self._variables):
            raise ValueError(
                f"Expected one gradient per variable, {len(self._variables)} of each (the "
                f"variables the optimizer was built for). Received: len(grads)={len(grads)}, "
                f"len(variables)={len(variables)}"
            )
        for i, (g, v) in enumerate(zip(grads, variables, strict=True)):
            if g is not None and g.shape != v.shape:
                raise ValueError(
                    f"Expected the gradient of variable {i} to have shape {v.shape}. "
                    f"Received: grads[{i}].shape={g.shape}"
                )
        grads = self._clip(grads)
        lr = self._step_learning_rate()
        for i, (g, v) in enumerate(zip(grads, variables, strict=True)):
            if g is None:
                continue
            if self.weight_decay:
                v.data *= 1.0 - lr * self.weight_decay
            self.update_step(i, g, v.data, lr)
        self.iterations += 1

    def update_step(self, i, g, w, lr):
        """Update the array ``w`` of variable ``i`` in place from gradient ``g``."""
        raise NotImplementedError

    def _clip(self, grads):
        # NOTE: a norm is rescaled as g * c / max(norm, c), so an all-zero gradient stays zero.
        if self.clipnorm is not None:
            c = self.clipnorm
            return [
                None if g is None else g * (c / max(float(np.linalg.norm(g)), c)) for g in grads
            ]
        if self.global_clipnorm is not None:
            c = self.global_clipnorm
            norm = math.sqrt(sum(float(np.sum(np.square(g))) for g in grads if g is not None))
            scale = c / max(norm, c)
            return [None if g is None else g * scale for g in grads]
        if self.clipvalue is not None:
            c = self.clipvalue
            return [None if g is None else np.clip(g, -c, c) for g in grads]
        return grads

    # ----- config and state

    def get_config(self):
        """JSON-only hyper-parameters; ``from_config`` rebuilds an equal optimizer."""
        lr = self._learning_rate
        return {
            "name": self.name,
            "learning_rate": registry.serialize(lr) if isinstance(lr, LearningRateSchedule) else lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
            "global_clipnorm": self.global_clipnorm,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = registry.get("schedule", config["learning_rate"])
        return cls(**config)

    def get_state(self):
        """The step count and a copy of every slot array, by flat name.

        Returns:
            ``{"iterations": int64 array, "<slot>/<position>": array, ...}``.
        """
        state = {"iterations": np.asarray(self.iterations, dtype=np.int64)}
        for name, arrays in self._slots.items():
            state.update({f"{name}/{i}": a.copy() for i, a in enumerate(arrays)})
        return state

    def set_state(self, state):
        """Restore what :meth:`get_state` returned; the next ``apply`` continues from it.

        Raises:
            ValueError: if ``state`` lacks ``iterations``, names a slot this optimizer does
                not keep, or holds a slot for some positions but not others.
        """
        state = dict(state)
        if "iterations" not in state:
            raise ValueError(f"Expected an `iterations` entry. Received keys: {sorted(state)}")
        iterations = int(state.pop("iterations"))
        slots = {}
        for key, array in state.items():
            name, _, position = key.rpartition("/")
            if name not in self._slots_spec() or not position.isdigit():
                raise ValueError(
                    f"Expected keys `iterations` and `<slot>/<position>` with slots "
                    f"{sorted(self._slots_spec())}. Received: key={key!r}"
                )
            slots.setdefault(name, {})[int(position)] = np.array(array)
        if slots:
            counts = {name: len(arrays) for name, arrays in slots.items()}
            n = max(counts.values())
            complete = set(counts) == set(self._slots_spec()) and all(
                sorted(arrays) == list(range(n)) for arrays in slots.values()
            )
            if not complete:
                raise ValueError(
                    f"Expected every slot of {sorted(self._slots_spec())} for positions "
                    f"0..n-1. Received keys: {sorted(state)}"
                )
        self.iterations = iterations
        self._slots = {
            name: [arrays[i] for i in range(len(arrays))] for name, arrays in slots.items()
        }
        self._variables = None


@registry.register("optimizer")
class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and decay.

    Update (Keras's convention; the velocity ``v`` holds the learning rate)::

        v = momentum * v - lr_t * g
        w += v                                  # plain momentum
        w += momentum * v - lr_t * g            # nesterov=True

    with ``momentum=0`` simply ``w -= lr_t * g``. ``lr_t = learning_rate / (1 + decay *
    iterations)`` is Keras 1/2's inverse-time decay (``iterations`` counted before the step).

    # NOTE: PyTorch keeps the velocity without the learning rate (``b = m*b + g;
    # w -= lr*b``); the two agree while the learning rate stays constant.

    Args:
        learning_rate: float or schedule, default 0.01.
        momentum: in [0, 1], default 0.
        nesterov: use Nesterov momentum.
        decay: inverse-time decay of the learning rate per step, >= 0.
        **kwargs: the base :class:`Optimizer` arguments.

    Example:
        >>> w = Tensor(np.array([1.0, 2.0]))
        >>> SGD(0.1, momentum=0.9).apply([np.array([1.0, -1.0])], [w])
        >>> w.data
        array([0.9, 2.1])
    """

    def __init__(self, learning_rate=0.01, *, momentum=0.0, nesterov=False, decay=0.0, **kwargs):
        _check_range("momentum", momentum, 0, 1)
        _check_range("decay", decay, 0)
        super().__init__(learning_rate, **kwargs)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.decay = float(decay)

    def _slots_spec(self):
        return {"momentum": 0.0} if self.momentum else {}

    def _step_learning_rate(self):
        return self.learning_rate / (1.0 + self.decay * self.iterations)

    def update_step(self, i, g, w, lr):
        if not self.momentum:
            w -= lr * g
            return
        v = self._slots["momentum"][i]
        step = np.multiply(g, lr, dtype=w.dtype)  # the one temporary, reused below
        v *= self.momentum
        v -= step
        if not self.nesterov:
            w += v
            return
        w -= step  # w += momentum * v - lr * g
        np.multiply(v, self.momentum, out=step)
        w += step

    def get_config(self):
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "decay": self.decay,
        }


@registry.register("optimizer")
class Adagrad(Optimizer):
    """Adagrad: per-coordinate rates shrinking with the sum of squared gradients.

    Update (Keras)::

        a += g**2                       # a starts at initial_accumulator_value
        w -= lr * g / sqrt(a + epsilon)

    # NOTE: PyTorch adds epsilon outside the root (``sqrt(a) + eps``) and starts ``a`` at 0.

    Args:
        learning_rate: default 0.001.
        initial_accumulator_value: starting value of ``a``, >= 0, default 0.1.
        epsilon: >= 0, default 1e-7.
        **kwargs: the base :class:`Optimizer` arguments.
    """

    def __init__(
        self, learning_rate=0.001, *, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs
    ):
        _check_range("initial_accumulator_value", initial_accumulator_value, 0)
        _check_range("epsilon", epsilon, 0)
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def _slots_spec(self):
        return {"accumulator": self.initial_accumulator_value}

    def update_step(self, i, g, w, lr):
        a = self._slots["accumulator"][i]
        a += g * g
        w -= lr * g / np.sqrt(a + self.epsilon)

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


@registry.register("optimizer")
class Adadelta(Optimizer):
    """Adadelta: steps scaled by the ratio of running RMS of updates and of gradients.

    Update (Keras, the same as PyTorch's)::

        a = rho * a + (1 - rho) * g**2
        d = -sqrt(b + epsilon) / sqrt(a + epsilon) * g
        b = rho * b + (1 - rho) * d**2
        w += lr * d

    Args:
        learning_rate: default 0.001.
        rho: decay of the running averages, in [0, 1], default 0.95.
        epsilon: >= 0, default 1e-7.
        **kwargs: the base :class:`Optimizer` arguments.
    """

    def __init__(self, learning_rate=0.001, *, rho=0.95, epsilon=1e-7, **kwargs):
        _check_range("rho", rho, 0, 1)
        _check_range("epsilon", epsilon, 0)
        super().__init__(learning_rate, **kwargs)
        self.rho = float(rho)
        self.epsilon = float(epsilon)

    def _slots_spec(self):
        return {"accumulated_grad": 0.0, "accumulated_delta_var": 0.0}

    def update_step(self, i, g, w, lr):
        a = self._slots["accumulated_grad"][i]
        b = self._slots["accumulated_delta_var"][i]
        rho, eps = self.rho, self.epsilon
        a *= rho
        a += (1.0 - rho) * g * g
        d = -np.sqrt(b + eps) / np.sqrt(a + eps) * g
        b *= rho
        b += (1.0 - rho) * d * d
        w += lr * d

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


@registry.register("optimizer")
class RMSprop(Optimizer):
    """RMSprop: steps divided by a running RMS of the gradients.

    Update (Keras)::

        v = rho * v + (1 - rho) * g**2
        c = rho * c + (1 - rho) * g                     # centered=True only
        s = lr * g / sqrt(v - c**2 + epsilon)           # sqrt(v + epsilon) if not centered
        m = momentum * m + s;  w -= m                   # w -= s when momentum == 0

    # NOTE: PyTorch adds epsilon outside the root and keeps the momentum buffer without the
    # learning rate; with epsilon = 0 and a constant learning rate the two coincide.

    Args:
        learning_rate: default 0.001.
        rho: decay of the running average, in [0, 1], default 0.9.
        momentum: in [0, 1], default 0.
        epsilon: >= 0, default 1e-7.
        centered: divide by the running variance instead of the raw second moment.
        **kwargs: the base :class:`Optimizer` arguments.
    """

    def __init__(
        self, learning_rate=0.001, *, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs
    ):
        _check_range("rho", rho, 0, 1)
        _check_range("momentum", momentum, 0, 1)
        _check_range("epsilon", epsilon, 0)
        super().__init__(learning_rate, **kwargs)
        self.rho = float(rho)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def _slots_spec(self):
        spec = {"velocity": 0.0}
        if self.momentum:
            spec["momentum"] = 0.0
        if self.centered:
            spec["average_gradient"] = 0.0
        return spec

    def update_step(self, i, g, w, lr):
        rho = self.rho
        v = self._slots["velocity"][i]
        v *= rho
        v += (1.0 - rho) * g * g
        denominator = v + self.epsilon
        if self.centered:
            c = self._slots["average_gradient"][i]
            c *= rho
            c += (1.0 - rho) * g
            denominator -= c * c
        step = lr * g / np.sqrt(denominator)
        if self.momentum:
            m = self._slots["momentum"][i]
            m *= self.momentum
            m += step
            step = m
        w -= step

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


@registry.register("optimizer")
class Adam(Optimizer):
    """Adam: steps from bias-corrected running first and second moments.

    Update (Keras; ``t = iterations + 1``)::

        m += (1 - beta_1) * (g - m)
        v += (1 - beta_2) * (g**2 - v)
        v_hat = max(v_hat, v)                           # amsgrad=True: use v_hat for v
        w -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)

    # NOTE: this is PyTorch's Adam with its eps multiplied by sqrt(1 - beta_2**t) (Keras's
    # "epsilon hat"); with epsilon = 0 the two coincide.

    Args:
        learning_rate: default 0.001.
        beta_1: decay of the first moment, in [0, 1), default 0.9.
        beta_2: decay of the second moment, in [0, 1), default 0.999.
        epsilon: >= 0, default 1e-7.
        amsgrad: divide by the running maximum of the second moment.
        **kwargs: the base :class:`Optimizer` arguments (``weight_decay`` gives AdamW).
    """

    def __init__(
        self,
        learning_rate=0.001,
        *,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        **kwargs,
    ):
        _check_range("beta_1", beta_1, 0, 1, closed="left")
        _check_range("beta_2", beta_2, 0, 1, closed="left")
        _check_range("epsilon", epsilon, 0)
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.amsgrad = bool(amsgrad)

    def _slots_spec(self):
        spec = {"momentum": 0.0, "velocity": 0.0}
        if self.amsgrad:
            spec["velocity_hat"] = 0.0
        return spec

    def update_step(self, i, g, w, lr):
        t = self.iterations + 1
        alpha = lr * math.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)
        m = self._slots["momentum"][i]
        v = self._slots["velocity"][i]
        m += (1.0 - self.beta_1) * (g - m)
        v += (1.0 - self.beta_2) * (g * g - v)
        if self.amsgrad:
            v = np.maximum(self._slots["velocity_hat"][i], v, out=self._slots["velocity_hat"][i])
        w -= alpha * m / (np.sqrt(v) + self.epsilon)

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


@registry.register("optimizer")
class AdamW(Adam):
    """Adam with decoupled weight decay: ``w -= lr * weight_decay * w`` before each step.

    Takes :class:`Adam`'s arguments; ``weight_decay`` defaults to 0.004 (Keras 3). This is
    PyTorch's AdamW apart from where epsilon enters (see :class:`Adam`).
    """

    def __init__(self, learning_rate=0.001, *, weight_decay=0.004, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)


def get(identifier):
    """An optimizer from a name (``"adam"``), a ``{"class_name", "config"}`` dict or itself.

    Raises:
        ValueError: on an unknown name.
        TypeError: if ``identifier`` is none of these.
    """
    optimizer = registry.get("optimizer", identifier)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            "Expected an optimizer name, config dict or Optimizer instance. "
            f"Received: optimizer={identifier!r}"
        )
    return optimizer
