"""Training MVSNet on synthetic scenes, with progress, checkpoints and resume.

A run folder holds ``args.json`` (the options), ``history.csv`` (step, loss, elapsed
seconds), ``checkpoint.juanji`` (weights, optimizer state and the step, written every
``checkpoint_seconds`` and at the end) and, when done, ``model.juanji`` (weights only).
The batches of step ``k`` are drawn from a generator seeded by ``(seed, k)``, so a resumed
run sees the same data as an uninterrupted one. The learning rate follows a cosine from
``learning_rate`` down to 5% of it, over the steps or the minutes given.
"""

import csv
import json
import math
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from juanji import backend, optimizers, saving
from juanji.mvs.mvsnet import FEATURE_STRIDE, MVSNet
from juanji.mvs.synthetic import make_scene

__all__ = ["SceneBatch", "TrainingOptions", "optimizer_step", "scene_batch", "train"]

TRAINING_SEED_BASE = 0  # training scenes: seeds 0 .. scenes - 1
HELD_OUT_SEED_BASE = 1_000_000  # evaluation scenes never overlap them


class SceneBatch(NamedTuple):
    """Scenes stacked for the network: images ``(B, V, H, W, 3)``, B lists of V cameras,
    planes ``(B, D)``, the reference depth at 1/4 resolution ``(B, h, w)``, its valid mask,
    each reference's plane spacing ``(B,)``, and the weak-texture mask ``(B, h, w)``."""

    images: np.ndarray
    cameras: list
    depths: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    interval: np.ndarray
    weak: np.ndarray


def scene_batch(scenes, num_views=None, num_depths=None):
    """Stack :class:`~juanji.mvs.synthetic.Scene`\\ s (their first ``num_views`` views).

    The target is the reference depth at the pixels the 1/4-resolution output stands for,
    ``depth[::4, ::4]`` (pixels as points); it is valid inside the depth range.
    """
    V = num_views or len(scenes[0].images)
    planes = np.stack([s.depth_range.planes(num_depths) for s in scenes])
    target = np.stack([s.depths[0][::FEATURE_STRIDE, ::FEATURE_STRIDE] for s in scenes])
    low, high = planes[:, :1, None], planes[:, -1:, None]
    mask = np.isfinite(target) & (target >= low) & (target <= high)
    return SceneBatch(
        images=np.stack([s.images[:V] for s in scenes]),
        cameras=[s.cameras[:V] for s in scenes],
        depths=planes,
        target=target,
        mask=mask,
        interval=planes[:, 1] - planes[:, 0],
        weak=np.stack([s.weak[0][::FEATURE_STRIDE, ::FEATURE_STRIDE] for s in scenes]),
    )


def optimizer_step(optimizer, loss, params):
    """Backpropagate the scalar ``loss`` into ``params`` and update them; returns the loss."""
    for p in params:
        p.grad = None
    loss.backward()
    optimizer.apply([p.grad for p in params], params)
    return float(loss.data)


class TrainingOptions(NamedTuple):
    """The options of a training run (stored in ``args.json``)."""

    scenes: int = 300
    views: int = 3
    num_depths: int = 32
    steps: int | None = None
    minutes: float | None = None
    batch_size: int = 1
    learning_rate: float = 0.002
    seed: int = 0
    height: int = 64
    width: int = 96
    feature_channels: tuple = (8, 16, 32)
    regularizer_channels: tuple = (8, 16, 32, 64)
    refine: bool = False

    def to_json(self):
        """The options as JSON values (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self._asdict().items()}

    @classmethod
    def from_json(cls, values):
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**{k: v for k, v in fields.items() if k in cls._fields})


class _ScenePool:
    """The training scenes, rendered the first time each is drawn."""

    def __init__(self, options):
        self.options = options
        self.cache = {}

    def get(self, index):
        if index not in self.cache:
            o = self.options
            self.cache[index] = make_scene(
                TRAINING_SEED_BASE + index,
                num_views=o.views,
                height=o.height,
                width=o.width,
                num_depths=o.num_depths,
            )
        return self.cache[index]


def _progress(step, options, elapsed):
    """The fraction of the run done, by steps or by minutes (whichever is further)."""
    fractions = []
    if options.steps:
        fractions.append(step / options.steps)
    if options.minutes:
        fractions.append(elapsed / (60 * options.minutes))
    return min(max(fractions), 1.0)


def _learning_rate(options, progress):
    floor = 0.05
    return options.learning_rate * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def _open_history(path, resume_step):
    """``history.csv`` for appending: fresh with its header, or, to resume, cut back to the
    rows up to the checkpoint's step (later rows belong to steps that will be run again)."""
    if resume_step is None:
        history = path.open("w", newline="")
        csv.writer(history).writerow(["step", "loss", "seconds", "learning_rate"])
        return history
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    kept = rows[:1] + [row for row in rows[1:] if int(row[0]) <= resume_step]
    history = path.open("w", newline="")
    csv.writer(history).writerows(kept)
    return history


def _checkpoint(model, run_dir, step, elapsed):
    saving.save_model(
        model, run_dir / "checkpoint.juanji", extra={"step": step, "seconds": elapsed}
    )


def train(run_dir, options=None, *, resume=False, checkpoint_seconds=60.0, log=print):
    """Train an MVSNet on synthetic scenes into ``run_dir``.

    Args:
        run_dir: the run folder (created).
        options: :class:`TrainingOptions`; with ``resume``, those in ``args.json``.
        resume: continue from ``run_dir/checkpoint.juanji``.
        checkpoint_seconds: how often to write the checkpoint.
        log: called with one line of progress at a time.

    Returns:
        The trained :class:`~juanji.mvs.mvsnet.MVSNet` (also saved as ``model.juanji``).

    Raises:
        ValueError: options without ``steps`` or ``minutes``, or nothing to resume.
    """
    run_dir = Path(run_dir)
    if resume:
        options = TrainingOptions.from_json(json.loads((run_dir / "args.json").read_text()))
    options = options or TrainingOptions(steps=100)
    if not options.steps and not options.minutes:
        raise ValueError("Give the length of the run: steps or minutes. Received: neither")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "args.json").write_text(json.dumps(options.to_json(), indent=1))
    backend.set_seed(options.seed)
    model = MVSNet(options.feature_channels, options.regularizer_channels, options.refine)
    model.build((None, options.views, options.height, options.width, 3))
    model.optimizer = optimizers.Adam(options.learning_rate)
    step, spent = 0, 0.0
    if resume:
        extra = saving.restore_state(model, run_dir / "checkpoint.juanji")
        step, spent = int(extra["step"]), float(extra["seconds"])
        log(f"resuming at step {step} ({spent:.0f} s spent)")
    history = _open_history(run_dir / "history.csv", step if resume else None)
    writer = csv.writer(history)
    pool = _ScenePool(options)
    start, last_save, running = time.monotonic() - spent, time.monotonic(), None
    params = model.trainable_weights
    try:
        while _progress(step, options, time.monotonic() - start) < 1.0:
            rng = np.random.default_rng([options.seed, step])
            picks = rng.integers(0, options.scenes, size=options.batch_size)
            batch = scene_batch([pool.get(int(k)) for k in picks], num_depths=options.num_depths)
            lr = _learning_rate(options, _progress(step, options, time.monotonic() - start))
            model.optimizer.learning_rate = lr
            prediction = model(batch.images, batch.cameras, batch.depths, training=True)
            loss = model.training_loss(prediction, batch.target, batch.mask, batch.interval)
            value = optimizer_step(model.optimizer, loss, params)
            step += 1
            if not math.isfinite(value):
                raise ValueError(f"the loss became {value} at step {step}: lower the learning rate")
            running = value if running is None else 0.98 * running + 0.02 * value
            elapsed = time.monotonic() - start
            writer.writerow([step, f"{value:.5f}", f"{elapsed:.1f}", f"{lr:.6f}"])
            if step % 25 == 0:
                history.flush()
                done = _progress(step, options, elapsed)
                log(
                    f"step {step}  loss {running:.3f} intervals  lr {lr:.5f}  "
                    f"{elapsed / 60:.1f} min  ({100 * done:.0f}%)"
                )
            if time.monotonic() - last_save > checkpoint_seconds:
                _checkpoint(model, run_dir, step, elapsed)
                last_save = time.monotonic()
    except KeyboardInterrupt:
        _checkpoint(model, run_dir, step, time.monotonic() - start)
        log(f"interrupted at step {step}; the checkpoint is saved: resume with --resume")
        raise
    finally:
        history.close()
    elapsed = time.monotonic() - start
    _checkpoint(model, run_dir, step, elapsed)
    saving.save_model(
        model,
        run_dir / "model.juanji",
        extra={"steps": step, "seconds": round(elapsed, 1), "training": options.to_json()},
        include_optimizer=False,
    )
    log(f"done: {step} steps in {elapsed / 60:.1f} min; model in {run_dir / 'model.juanji'}")
    return model
