"""Data-parallel training on Ray: one model replica per worker, gradients averaged each step.

Each step the driver splits the global batch into one shard per worker. Every worker computes
the mean loss's gradient on its shard; the driver averages them, weighted by shard size (so
the result is the global batch's mean gradient, as one process would compute it), puts the
average once into Ray's object store, and every worker applies it with its own copy of the
optimizer. The replicas therefore stay identical; the driver checks that every
``check_every`` steps by hashing their weights.

NOTE: the gradients travel through the object store, not a collective all-reduce: Ray's CPU
collective backend is torch.distributed's gloo, and PyTorch is no dependency of juanji. With
N workers and P parameters a step moves N * P floats to the driver and P back to each worker
(through shared memory on one machine).

Layers whose training output depends on the whole batch (BatchNormalization's batch
statistics) see only their shard, as in every data-parallel framework without synchronised
batch norm; dropout masks are drawn per worker.
"""

import hashlib
import time

import numpy as np

from juanji import callbacks as callbacks_module
from juanji import registry


class WorkerFailedError(RuntimeError):
    """A data-parallel worker died or failed; fit stops with this error. The driver's model
    keeps the weights of the last hash check (see ``check_every``)."""


def _flatten(arrays):
    return np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0, np.float32)


def _unflatten(flat, like):
    out, start = [], 0
    for a in like:
        out.append(flat[start : start + a.size].reshape(a.shape))
        start += a.size
    return out


def weights_digest(model):
    """SHA-256 of every weight of ``model`` (trainable and not), in order."""
    digest = hashlib.sha256()
    for w in model.get_weights():
        digest.update(np.ascontiguousarray(w).tobytes())
    return digest.hexdigest()


class _Replica:
    """One worker's copy of the model, rebuilt from its config, weights and compile settings,
    and a read-only view of the training data in the object store."""

    def __init__(self, model_config, input_shape, weights, compile_config, x, y, seed):
        from juanji import backend
        from juanji.models import Model

        backend.set_seed(seed)
        self.model = registry.get("model", model_config)
        self.model.build(tuple(input_shape))
        self.model.set_weights(weights)
        self.model.compile(**Model.compile_from_config(compile_config))
        self.x, self.y = x, y

    def gradients(self, index):
        """``(mean loss, flat mean gradient)`` on the samples ``index`` of the training data."""
        loss, grads = self.model.compute_gradients(self.x[index], self.y[index])
        return loss, _flatten(grads)

    def apply(self, flat_gradient):
        """One optimizer step with the averaged gradient."""
        params = self.model.trainable_weights
        self.model.optimizer.apply(_unflatten(flat_gradient, [p.data for p in params]), params)

    def digest(self):
        return weights_digest(self.model)

    def weights(self):
        return self.model.get_weights()


class RayDataParallel:
    """Train a compiled model on ``num_workers`` Ray workers, as
    ``model.fit(x, y, distribute=RayDataParallel(2))``.

    Args:
        num_workers: model replicas, one Ray actor each.
        cpus_per_worker: Ray CPUs per actor (its BLAS threads follow Ray's limit).
        check_every: steps between the weight-hash checks of the replicas.
        address: a Ray cluster's address; None starts (or joins) a local Ray.

    Attributes:
        step_seconds: after ``fit``, the mean seconds per step (the first excluded) of the
            workers' gradients with their transfer (``compute``), the driver's average
            (``reduce``) and the workers' update (``apply``).
        first_step_seconds: the first step, which includes starting the workers.

    The same global batches and seed give the weights that single-process training gives,
    to float32 rounding (the per-shard means are summed in another order).
    """

    def __init__(self, num_workers=2, *, cpus_per_worker=1, check_every=50, address=None):
        if int(num_workers) < 1:
            raise ValueError(f"num_workers must be at least 1. Received: {num_workers!r}")
        if int(check_every) < 1:
            raise ValueError(f"check_every must be at least 1. Received: {check_every!r}")
        self.num_workers = int(num_workers)
        self.cpus_per_worker = cpus_per_worker
        self.check_every = int(check_every)
        self.address = address
        self.workers = []
        self.step_seconds = {}
        self.first_step_seconds = None

    def _start(self, model, x, y):
        import ray

        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        actor = ray.remote(num_cpus=self.cpus_per_worker)(_Replica)
        x_ref, y_ref = ray.put(x), ray.put(y)
        config = registry.serialize(model)
        weights = model.get_weights()
        self.workers = [
            actor.remote(
                config, model.build_input_shape, weights, model.compile_config(), x_ref, y_ref, i
            )
            for i in range(self.num_workers)
        ]

    def _call(self, refs, step):
        import ray

        try:
            return ray.get(refs)
        except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as error:
            raise WorkerFailedError(
                f"a data-parallel worker failed at step {step}: {type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''} The model keeps the "
                f"weights of step {step - step % self.check_every}."
            ) from None

    def _check(self, model, step):
        digests = self._call([w.digest.remote() for w in self.workers], step)
        if len(set(digests)) != 1:
            raise WorkerFailedError(
                f"the replicas' weights differ at step {step}: digests {sorted(set(digests))}"
            )
        model.set_weights(self._call(self.workers[0].weights.remote(), step))

    def fit(
        self,
        model,
        x,
        y,
        *,
        batch_size=32,
        epochs=1,
        shuffle=True,
        validation_data=None,
        callbacks=None,
        verbose=0,
    ):
        """Train ``model`` in place; returns its History (``loss`` per epoch, and the
        validation results when ``validation_data`` is given).

        Args:
            x, y: training arrays, ``(N, ...)``.
            batch_size: the global batch, split over the workers.
            shuffle: draw each epoch's order from juanji's seeded generator.
            callbacks: Callback instances (batch and epoch hooks run on the driver).
        Raises:
            WorkerFailedError: a worker died or the replicas diverged.
        """
        import ray

        from juanji import backend

        model._require_compiled("fit")
        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(
                f"x and y must hold the same positive number of samples. Received: "
                f"len(x)={len(x)}, len(y)={len(y)}"
            )
        if int(batch_size) < self.num_workers:
            raise ValueError(
                f"batch_size must be at least num_workers={self.num_workers}. "
                f"Received: batch_size={batch_size}"
            )
        history = callbacks_module.History()
        steps = -(-len(x) // batch_size)
        cbs = callbacks_module.CallbackList(
            [*(callbacks or []), history],
            model=model,
            params={"epochs": epochs, "steps": steps, "verbose": verbose},
        )
        self._start(model, x, y)
        timings = {"compute": 0.0, "reduce": 0.0, "apply": 0.0}
        step = 0
        cbs.on_train_begin({})
        try:
            for epoch in range(epochs):
                cbs.on_epoch_begin(epoch, {})
                order = backend.rng().permutation(len(x)) if shuffle else np.arange(len(x))
                total = 0.0
                for batch in range(steps):
                    cbs.on_train_batch_begin(batch, {})
                    index = order[batch * batch_size : (batch + 1) * batch_size]
                    shards = np.array_split(index, self.num_workers)
                    t0 = time.perf_counter()
                    results = self._call(
                        [w.gradients.remote(s) for w, s in zip(self.workers, shards)], step
                    )
                    t1 = time.perf_counter()
                    sizes = np.array([len(s) for s in shards], np.float64) / len(index)
                    loss = float(sum(f * r[0] for f, r in zip(sizes, results)))
                    mean = sum(f * r[1] for f, r in zip(sizes, results)).astype(np.float32)
                    mean_ref = ray.put(mean)
                    t2 = time.perf_counter()
                    self._call([w.apply.remote(mean_ref) for w in self.workers], step)
                    t3 = time.perf_counter()
                    if step == 0:  # the workers' start: a process, imports, the model's build
                        self.first_step_seconds = t3 - t0
                    else:
                        for key, seconds in zip(timings, (t1 - t0, t2 - t1, t3 - t2)):
                            timings[key] += seconds
                    step += 1
                    if step % self.check_every == 0:
                        self._check(model, step)
                    total += loss * len(index)
                    cbs.on_train_batch_end(batch, {"loss": loss})
                self._check(model, step)
                logs = {"loss": total / len(x)}
                if validation_data is not None:
                    results = model.evaluate(*validation_data, return_dict=True)
                    logs.update({f"val_{k}": v for k, v in results.items()})
                cbs.on_epoch_end(epoch, logs)
                if getattr(model, "stop_training", False):
                    break
        finally:
            self.step_seconds = {k: v / max(step - 1, 1) for k, v in timings.items()}
            for worker in self.workers:
                ray.kill(worker)
            self.workers = []
        cbs.on_train_end({})
        return history
