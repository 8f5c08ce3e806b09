"""Train and run inference for the same models in juanji, PyTorch and Keras 3, side by side.

All frameworks run in one process, on the same synthetic batches, with the same batch size,
the same thread count (PyTorch's intra-op pool and NumPy's BLAS pool pinned to ``--threads``)
and the same starting weights (juanji's initial weights are copied into the peers; the
forward passes are checked to agree before and after one training step). A training step is
a full optimizer step: forward, cross-entropy, backward and the text's SGD update (learning
rate 0.05 with inverse-time decay 1e-6, momentum 0.9, Nesterov). Inference is a forward pass
in inference mode without a graph. Each measurement is repeated, the frameworks interleaved
so that machine noise hits all of them, and the median is reported. Importing juanji tunes
glibc's malloc (``juanji.backend.tune_malloc``: freed memory is kept for reuse rather than
faulted in again every step); the setting is process-wide, so every framework is timed under
it, and the notes under the table say whether it was on (``JUANJI_MALLOC_TUNING=0`` turns it
off for a run).

Peak memory is measured per framework and model in a fresh subprocess: the growth of the
peak resident set size over the resident size after imports and data creation, while
building the model, training and predicting (Linux: the kernel's peak, ``VmHWM``, reset at
that point; elsewhere ``ru_maxrss``). A throwaway instance runs first, so that the
libraries' lazy initialisation is not counted, and glibc's mmap threshold is fixed (juanji's
malloc tuning off), so that freed large blocks leave the resident set at once. For juanji
the peak of NumPy's allocations during one training step (``tracemalloc``) is shown too.

PyTorch and Keras are skipped, with a note, when they are not installed.

Usage:
    python benchmarks/compare.py [--quick] [--models seed_cnn,mlp] [--threads N] [--markdown]
"""

import juanji  # first: before NumPy loads OpenBLAS, it sets OpenBLAS's thread timeout

# isort: split
import argparse
import dataclasses
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc

import _peers
import numpy as np
from threadpoolctl import threadpool_limits

from juanji import backend, optimizers, zoo

# name -> (juanji builder, input shape (H, W, C), batch size)
MODELS = {
    "seed_cnn": (zoo.seed_cnn, (28, 28, 1), 100),
    "lenet5": (zoo.lenet5, (32, 32, 1), 100),
    "mlp": (zoo.mlp, (28, 28, 1), 100),
    "vgg_small": (zoo.vgg_small, (32, 32, 3), 100),
}
FRAMEWORKS = ("juanji", "pytorch", "keras")
N_BATCHES = 4  # distinct batches cycled through, so no step reuses the previous one's data
N_CLASSES = 10


@dataclasses.dataclass
class Settings:
    """What to run and how long.

    Attributes:
        models: model names, keys of ``MODELS``.
        frameworks: frameworks to run; those not installed are skipped.
        threads: threads for every framework.
        repeats: timed repeats per measurement (the median is reported).
        block_s: target seconds per timed repeat; the step count is calibrated to it.
        steps: a fixed number of steps per repeat instead of calibrating.
        memory: run the peak-memory subprocesses.
        memory_steps: training and inference steps in each memory subprocess.
    """

    models: tuple = tuple(MODELS)
    frameworks: tuple = FRAMEWORKS
    threads: int = os.cpu_count() or 1
    repeats: int = 7
    block_s: float = 1.0
    steps: int | None = None
    memory: bool = True
    memory_steps: int = 3


QUICK = {"repeats": 3, "block_s": 0.2, "memory_steps": 1}


# --------------------------------------------------------------------------- data and threads


def make_data(name, seed=0):
    """Synthetic batches for model ``name``: images ``(B, N, H, W, C)`` in [0, 1), integer
    labels ``(B, N)`` and the same labels one-hot ``(B, N, 10)``, B = ``N_BATCHES``."""
    _, shape, batch = MODELS[name]
    rng = np.random.default_rng(seed)
    x = rng.random((N_BATCHES, batch, *shape), dtype=np.float32)
    labels = rng.integers(0, N_CLASSES, (N_BATCHES, batch))
    return x, labels, np.eye(N_CLASSES, dtype=np.float32)[labels]


def pin_threads(n, frameworks):
    """Limit NumPy's BLAS, PyTorch and TensorFlow to ``n`` threads for the rest of the run."""
    threadpool_limits(limits=n)
    keras_backend = os.environ.get("KERAS_BACKEND", "tensorflow") if "keras" in frameworks else None
    if "pytorch" in frameworks or keras_backend == "torch":
        import torch

        torch.set_num_threads(n)
    if keras_backend == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # TensorFlow was initialised already; keep its pools
            pass


# --------------------------------------------------------------------------- runners


class JuanjiRunner:
    """A juanji model compiled with the text's SGD recipe, stepping through the batches."""

    framework = "juanji"

    def __init__(self, name, data):
        build, shape, _ = MODELS[name]
        juanji.set_seed(0)
        self.model = build(input_shape=shape, compile=False)
        self.model.build((None, *shape))
        self.model.compile(
            optimizer=optimizers.SGD(**_peers.SGD_RECIPE), loss="categorical_crossentropy"
        )
        self.x, _, self.y = data

    def trainable_count(self):
        return sum(w.size for w in self.model.trainable_weights)

    def prepare(self, kind):
        """Nothing to switch: the training flag is an argument of every call."""

    def train_step(self, i):
        self.model.train_on_batch(self.x[i], self.y[i])

    def infer_step(self, i):
        return self.model.predict_on_batch(self.x[i])


class TorchRunner:
    """The PyTorch net (NCHW) starting from a juanji model's weights."""

    framework = "pytorch"

    def __init__(self, name, data, model):
        import torch

        self.torch = torch
        self.net = _peers.torch_net(name)
        _peers.copy_to_torch(model, self.net)
        self.optimizer = _peers.torch_sgd(self.net)
        self.iterations = 0
        x, labels, _ = data
        x = np.ascontiguousarray(x.transpose(0, 1, 4, 2, 3))  # (B, N, C, H, W)
        self.x = torch.from_numpy(x)
        self.labels = torch.from_numpy(labels)

    def trainable_count(self):
        return _peers.count_trainable("pytorch", self.net)

    def prepare(self, kind):
        self.net.train(kind == "train")

    def train_step(self, i):
        for group in self.optimizer.param_groups:
            group["lr"] = _peers.decayed_rate(self.iterations)
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.torch.nn.functional.cross_entropy(self.net(self.x[i]), self.labels[i])
        loss.backward()
        self.optimizer.step()
        self.iterations += 1

    def infer_step(self, i):
        with self.torch.no_grad():
            return self.torch.softmax(self.net(self.x[i]), dim=1).numpy()


class KerasRunner:
    """The Keras 3 model (NHWC) starting from a juanji model's weights."""

    framework = "keras"

    def __init__(self, name, data, model):
        self.net = _peers.keras_model(name)
        _peers.copy_to_keras(model, self.net)
        self.x, _, self.y = data

    def trainable_count(self):
        return _peers.count_trainable("keras", self.net)

    def prepare(self, kind):
        """Nothing to switch: ``train_on_batch`` and ``predict_on_batch`` set the mode."""

    def train_step(self, i):
        self.net.train_on_batch(self.x[i], self.y[i])

    def infer_step(self, i):
        return np.asarray(self.net.predict_on_batch(self.x[i]))


def make_runners(name, data, frameworks):
    """A runner per framework, all starting from the juanji model's initial weights."""
    ours = JuanjiRunner(name, data)
    peers = {"pytorch": TorchRunner, "keras": KerasRunner}
    return [ours] + [peers[f](name, data, ours.model) for f in frameworks if f != "juanji"]


def check_same_models(name, runners):
    """Raise unless every runner has juanji's trainable-parameter count and the same
    predictions, before and after one training step on the same batch."""
    counts = {r.framework: r.trainable_count() for r in runners}
    if len(set(counts.values())) != 1:
        raise RuntimeError(f"{name}: trainable parameter counts differ: {counts}")
    for stage, tolerance in (("initial", 1e-4), ("after one step", 1e-3)):
        if stage != "initial":
            for r in runners:
                r.prepare("train")
                r.train_step(0)
        for r in runners:
            r.prepare("infer")
        outputs = [r.infer_step(0) for r in runners]
        for r, out in zip(runners[1:], outputs[1:]):
            error = float(np.max(np.abs(out - outputs[0])))
            if error > tolerance:
                raise RuntimeError(
                    f"{name}: {r.framework} predictions differ from juanji's ({stage}) by "
                    f"{error:.2e} > {tolerance:.0e}"
                )


# --------------------------------------------------------------------------- timing


def _run_block(runner, kind, steps, batch):
    """Samples per second of ``steps`` consecutive steps of ``kind``."""
    runner.prepare(kind)
    step = runner.train_step if kind == "train" else runner.infer_step
    start = time.perf_counter()
    for i in range(steps):
        step(i % N_BATCHES)
    return steps * batch / (time.perf_counter() - start)


def _warm_up(runner, kind, settings, batch):
    """Run one untimed repeat; returns the steps per repeat: ``settings.steps``, or enough
    to last about ``block_s`` at the warm-up's rate."""
    rate = _run_block(runner, kind, settings.steps or N_BATCHES, batch)
    if settings.steps is not None:
        return settings.steps
    return int(np.clip(round(settings.block_s * rate / batch), 1, 1000))


def measure(runners, kind, settings, batch):
    """Median samples/s of each runner for ``kind`` ("train" or "infer"), after a warm-up,
    with the runners interleaved (in a rotating order) within every repeat.

    Each timed block follows an untimed lead-in of a quarter of its steps: the previous
    framework's worker threads keep spinning for a while after its last call (OpenMP and
    OpenBLAS both busy-wait), and would otherwise steal the cores from the next one.
    """
    steps = [_warm_up(r, kind, settings, batch) for r in runners]
    rates = [[] for _ in runners]
    for repeat in range(settings.repeats):
        shift = repeat % len(runners)
        for j in list(range(shift, len(runners))) + list(range(shift)):
            _run_block(runners[j], kind, max(1, steps[j] // 4), batch)
            rates[j].append(_run_block(runners[j], kind, steps[j], batch))
    return {r.framework: statistics.median(rs) for r, rs in zip(runners, rates)}


# --------------------------------------------------------------------------- peak memory


def _peak_rss_since_now():
    """Start measuring: returns a function giving the peak RSS growth in MB from now on.

    On Linux the kernel's peak (``VmHWM``) is reset, so that memory touched and freed by the
    imports does not hide what follows; elsewhere the growth of ``ru_maxrss`` is used.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError:
        start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return lambda: (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start) / 1024
    start = _status_kb("VmRSS")
    return lambda: (_status_kb("VmHWM") - start) / 1024


def _status_kb(field):
    with open("/proc/self/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith(field + ":")))


def probe_memory(framework, name, threads, steps):
    """Run in a fresh process: peak RSS growth in MB while building the model, training and
    predicting, and for juanji the tracemalloc peak in MB of one training step.

    A throwaway instance trains and predicts once before the baseline is taken, so that
    libraries' lazy initialisation (code pages, thread pools) is not counted.
    """
    data = make_data(name)
    pin_threads(threads, (framework,))
    model = None if framework == "juanji" else JuanjiRunner(name, data).model

    def new_runner():
        if framework == "juanji":
            return JuanjiRunner(name, data)
        return {"pytorch": TorchRunner, "keras": KerasRunner}[framework](name, data, model)

    for kind in ("train", "infer"):
        _run_block(new_runner(), kind, 1, 1)
    gc.collect()
    peak = _peak_rss_since_now()
    runner = new_runner()
    for kind in ("train", "infer"):
        _run_block(runner, kind, steps + 1, 1)
    result = {"rss_mb": peak()}
    if framework == "juanji":
        tracemalloc.start()
        _run_block(runner, "train", 1, 1)
        result["traced_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result


def memory_in_subprocess(framework, name, settings):
    """:func:`probe_memory` in a fresh Python process."""
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--memory-probe",
        framework,
        name,
        "--threads",
        str(settings.threads),
        "--memory-steps",
        str(settings.memory_steps),
    ]
    # NOTE: a fixed mmap threshold makes glibc return large freed blocks to the system at
    # once, so that the resident size follows the live memory in every framework alike.
    env = {
        **os.environ,
        "MALLOC_MMAP_THRESHOLD_": "131072",
        "MALLOC_TRIM_THRESHOLD_": "131072",
        "JUANJI_MALLOC_TUNING": "0",
    }
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"The memory run of {framework} {name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- the table


def run(settings, log=print):
    """Benchmark every model in ``settings``; returns one row per model and framework:
    ``{"model", "framework", "params", "train", "infer", "rss_mb", "traced_mb"}``."""
    frameworks = [f for f in settings.frameworks if f == "juanji" or _peers.available(f)]
    pin_threads(settings.threads, frameworks)
    rows = []
    for name in settings.models:
        batch = MODELS[name][2]
        runners = make_runners(name, make_data(name), frameworks)
        check_same_models(name, runners)
        train = measure(runners, "train", settings, batch)
        infer = measure(runners, "infer", settings, batch)
        for r in runners:
            memory = memory_in_subprocess(r.framework, name, settings) if settings.memory else {}
            rows.append(
                {
                    "model": name,
                    "framework": r.framework,
                    "params": r.trainable_count(),
                    "train": train[r.framework],
                    "infer": infer[r.framework],
                    "rss_mb": memory.get("rss_mb"),
                    "traced_mb": memory.get("traced_mb"),
                }
            )
            log(
                f"  {name:<10} {r.framework:<8} train {train[r.framework]:>9,.0f}/s  "
                f"infer {infer[r.framework]:>9,.0f}/s"
            )
    return rows


def _ratio(a, b):
    return "" if a is None or not b else f"{a / b:.2f}x"


def _mb(value):
    return "" if value is None else f"{value:.1f}"


def format_table(rows, markdown=False):
    """The results as text (or a Markdown table): throughput, memory and juanji/peer ratios."""
    header = [
        "model",
        "params",
        "framework",
        "train samples/s",
        "infer samples/s",
        "peak MB",
        "juanji train / peer",
        "juanji infer / peer",
        "juanji MB / peer",
    ]
    ours = {row["model"]: row for row in rows if row["framework"] == "juanji"}
    table = []
    for row in rows:
        mine = ours.get(row["model"]) if row["framework"] != "juanji" else None
        memory = _mb(row["rss_mb"])
        if row["traced_mb"] is not None:
            memory += f" (step {row['traced_mb']:.1f})"
        table.append(
            [
                row["model"],
                f"{row['params']:,}",
                row["framework"],
                f"{row['train']:,.0f}",
                f"{row['infer']:,.0f}",
                memory,
                _ratio(mine and mine["train"], row["train"]),
                _ratio(mine and mine["infer"], row["infer"]),
                _ratio(mine and mine["rss_mb"], row["rss_mb"]),
            ]
        )
    if markdown:
        lines = [
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---"] * 3 + ["---:"] * (len(header) - 3)) + "|",
        ]
        return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in table])
    widths = [max(len(str(c)) for c in column) for column in zip(header, *table)]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))
        ).rstrip()
        for r in [header, *table]
    )


def describe(settings, load=0.0):
    """The conditions of the run, as notes printed under the table; ``load`` is the load
    average before the run."""
    versions = [f"numpy {np.__version__}"]
    warnings = []
    for framework, module in (("pytorch", "torch"), ("keras", "keras")):
        if framework not in settings.frameworks:
            continue
        if _peers.available(framework):
            version = f"{framework} {__import__(module).__version__}"
            if framework == "keras":
                version += f" ({__import__(module).backend.backend()} backend)"
            versions.append(version)
        else:
            warnings.append(f"{framework} is not installed: skipped.")
    memory = (
        "peak MB: growth of the peak RSS over the RSS after imports, data creation and "
        "one warm-up run of a throwaway instance (Linux VmHWM, reset at that point), in a "
        "fresh process per framework and model (glibc mmap threshold fixed at 128 KiB), "
        "while building the model, training and predicting; (step N) for "
        "juanji: tracemalloc peak of NumPy allocations during one training step."
        if settings.memory
        else "peak memory not measured (--no-memory)."
    )
    # NOTE: tune_malloc is idempotent: this only asks whether the import could apply it.
    malloc = (
        "timed with glibc's malloc tuned by juanji at import (freed memory kept for reuse), "
        "process-wide, so for every framework alike"
        if backend.tune_malloc()
        else "timed with the C library's default malloc settings (juanji's tuning off or not glibc)"
    )
    if settings.memory:
        malloc += "; the memory runs use the default"
    blas = (
        f"OpenBLAS's idle threads spin for 2**{os.environ.get('OPENBLAS_THREAD_TIMEOUT')} "
        "cycles (OPENBLAS_THREAD_TIMEOUT, set by importing juanji before NumPy)"
    )
    block = f"{settings.steps} steps" if settings.steps else f"~{settings.block_s:g} s"
    cpus = os.cpu_count() or 1
    if settings.threads > 1 and load + settings.threads > cpus + 0.5:
        warnings.append(
            f"load average {load:.1f} on {cpus} CPUs before the run: other processes compete "
            "for the cores, and thread pools that wait for each other slow down erratically "
            "(figures and ratios alike); rerun on a quiet machine or with fewer --threads."
        )
    return [
        f"{settings.threads} threads, median of {settings.repeats} repeats ({block} each), "
        "frameworks interleaved, each timed block after an untimed lead-in; "
        + ", ".join(versions)
        + ".",
        "train: full optimizer steps (forward, loss, backward, SGD 0.05 momentum 0.9 nesterov, "
        "decay 1e-6); infer: forward passes without a graph; batch 100, synthetic data.",
        memory,
        malloc + ".",
        blas + ".",
        "ratios: juanji / peer (above 1 means juanji is faster, or uses more memory).",
        *warnings,
    ]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter repeats")
    parser.add_argument(
        "--models", default=",".join(MODELS), help=f"comma-separated, from {', '.join(MODELS)}"
    )
    parser.add_argument(
        "--frameworks",
        default=",".join(FRAMEWORKS),
        help="comma-separated, from juanji, pytorch, keras",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, help="timed repeats (default 7, quick 3)")
    parser.add_argument("--steps", type=int, help="fixed steps per repeat (default: calibrated)")
    parser.add_argument("--no-memory", action="store_true", help="skip peak-memory runs")
    parser.add_argument("--memory-steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "--memory-probe", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    options = dict(QUICK) if args.quick else {}
    models = tuple(m for m in args.models.split(",") if m)
    frameworks = tuple(f for f in args.frameworks.split(",") if f)
    for value, known, flag in ((models, MODELS, "models"), (frameworks, FRAMEWORKS, "frameworks")):
        unknown = [v for v in value if v not in known]
        if unknown or not value:
            parser.error(f"expected --{flag} from {', '.join(known)}. Received: {unknown}")
    if "juanji" not in frameworks:
        parser.error(f"--frameworks must include juanji. Received: {args.frameworks}")
    for key in ("repeats", "steps", "memory_steps"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    settings = Settings(
        models=models,
        frameworks=frameworks,
        threads=args.threads,
        memory=not args.no_memory,
        **options,
    )
    return args, settings


def main(argv=None):
    args, settings = parse_args(argv)
    if args.memory_probe:
        framework, name = args.memory_probe
        print(json.dumps(probe_memory(framework, name, settings.threads, settings.memory_steps)))
        return None
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"Benchmarking {', '.join(settings.models)} on {settings.threads} threads ...")
    rows = run(settings)
    print()
    print(format_table(rows, markdown=args.markdown))
    print()
    print("\n".join(("- " if args.markdown else "") + line for line in describe(settings, load)))
    return rows


if __name__ == "__main__":
    main()
