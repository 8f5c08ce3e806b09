"""The Keras 3 programs of examples/keras3 on juanji and on Keras 3, seed by seed, side by side.

Each program runs in its own process on real MNIST, once per framework and seed, with the
same ``KERAS3_SAMPLES`` and ``KERAS3_EPOCHS``; the figures it prints ("Test accuracy: ...")
are collected and the table gives, per figure, the mean and standard deviation over the
seeds on each framework and their difference. Accuracies are shown in points (percent).

Both frameworks read the same IDX files: Keras's ``mnist.load_data`` (which would download
``mnist.npz``) is replaced in the Keras runs by juanji's reader of those files, which gives
Keras's arrays (uint8 ``(N, 28, 28)`` images, uint8 labels). Before a program starts, the
process is seeded with ``utils.set_random_seed(seed)`` of its framework and
``torch.manual_seed(seed)`` (the intro's ``DataLoader`` shuffles with PyTorch), and
``KERAS3_SEED`` is set for the programs that seed themselves. Keras runs on its PyTorch
backend. Each run holds the machine's CPU lock (``--lock``) and its load average is noted.

Usage:
    python benchmarks/keras3_parity.py [--mnist DIR] [--programs mnist_mlp ...]
        [--seeds 1 2 3] [--frameworks juanji keras] [--json results.json]
"""

import argparse
import fcntl
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "keras3"

# program: (KERAS3_SAMPLES, KERAS3_EPOCHS, the figures it prints, by the start of their line)
SETTINGS = {
    "mnist_convnet": (20000, 3, ["Test accuracy"]),
    "mnist_mlp": (30000, 3, ["Test accuracy"]),
    "intro_to_keras_for_engineers": (
        12000,
        3,
        [
            "Test accuracy",
            "Reloaded model's test accuracy",
            "Subclassed model's test accuracy",
            "DataLoader-trained test accuracy",
        ],
    ),
    "training_and_evaluation": (
        30000,
        2,
        ["Test accuracy", "Sample-weighted model's test accuracy"],
    ),
    "writing_your_own_callbacks": (1000, 0, ["Test loss", "Test mean absolute error"]),
    "functional_api": (30000, 2, ["Test accuracy", "Toy ResNet test accuracy"]),
    "making_new_layers_and_models_via_subclassing": (
        20000,
        2,
        ["Final training loss", "Test loss"],
    ),
}

# What runs in the child process: seed, point Keras's MNIST at the IDX files, run the program.
BOOT = """
import os, runpy, sys
seed = int(os.environ["KERAS3_SEED"])
if os.environ.get("KERAS3_WITH_KERAS"):
    import keras
    from juanji.datasets import mnist as idx_mnist
    keras.datasets.mnist.load_data = lambda path=None: idx_mnist.load_data(sys.argv[2])
else:
    import juanji as keras
keras.utils.set_random_seed(seed)
import torch
torch.manual_seed(seed)
runpy.run_path(sys.argv[1], run_name="__main__")
"""


def load_average():
    return os.getloadavg()[0]


def run_once(program, framework, seed, mnist_dir, lock):
    """One run of ``program``: its figures by name, its wall time and the load at its start."""
    samples, epochs, names = SETTINGS[program]
    env = dict(os.environ, PYTHONPATH=str(ROOT), KERAS_BACKEND="torch", KERAS3_SEED=str(seed))
    env["JUANJI_DATA_DIR"] = str(pathlib.Path(mnist_dir).parent)
    env["KERAS3_SAMPLES"] = str(samples)
    env["KERAS3_EPOCHS"] = str(epochs)
    env.pop("KERAS3_WITH_KERAS", None)
    if framework == "keras":
        env["KERAS3_WITH_KERAS"] = "1"
    command = [sys.executable, "-c", BOOT, str(EXAMPLES / f"{program}.py"), str(mnist_dir)]
    with open(lock, "a") as held, tempfile.TemporaryDirectory() as cwd:
        fcntl.flock(held, fcntl.LOCK_EX)
        load = load_average()
        start = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{program} on {framework}, seed {seed} failed:\n{done.stderr[-3000:]}")
    figures = {}
    for name in names:
        found = re.findall(rf"^{re.escape(name)}: (\S+)$", done.stdout, flags=re.MULTILINE)
        if not found:
            raise RuntimeError(f"{program} on {framework} printed no {name!r}")
        figures[name] = float(found[-1])
    return {"figures": figures, "seconds": seconds, "load": load}


def scaled(name, value):
    """Accuracies in points; losses and errors as they are."""
    return 100 * value if "accuracy" in name else value


def summary(values):
    mean = statistics.mean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def table(results):
    """The markdown table of ``results`` (program -> framework -> runs), both frameworks run."""
    lines = [
        "| program (samples, epochs) | figure | juanji | Keras 3 | juanji - Keras | s per run |",
        "|---|---|---|---|---|---|",
    ]
    for program, entry in results.items():
        runs = entry["runs"]
        if not (runs["juanji"] and runs["keras"]):
            continue
        samples, epochs, names = SETTINGS[program]
        seconds = " / ".join(
            f"{statistics.mean(r['seconds'] for r in runs[f]):.0f}" for f in ("juanji", "keras")
        )
        for name in names:
            digits = 2 if "accuracy" in name else 4
            cells = [summary([scaled(name, r["figures"][name]) for r in runs[f]]) for f in runs]
            lines.append(
                f"| {program} ({samples}, {epochs or 'default'}) | {name} | "
                + " | ".join(f"{mean:.{digits}f} ± {std:.{digits}f}" for mean, std in cells)
                + f" | {cells[0][0] - cells[1][0]:+.{digits}f} | {seconds} |"
            )
    return "\n".join(lines)


def load_results(path):
    """Earlier runs kept in ``path`` (JSON), those made with the present settings only."""
    if not path or not pathlib.Path(path).is_file():
        return {}
    kept = json.loads(pathlib.Path(path).read_text())
    current = {program: list(setting[:2]) for program, setting in SETTINGS.items()}
    return {p: e for p, e in kept.items() if e["settings"] == current.get(p)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default="/work/shared/data/mnist", help="MNIST IDX folder")
    parser.add_argument("--programs", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--frameworks", nargs="+", default=["juanji", "keras"])
    parser.add_argument("--lock", default="/work/cpu.lock", help="file locked around each run")
    parser.add_argument(
        "--json",
        help="keep every run here; runs of other programs or frameworks kept there "
        "(with the same settings) join the table",
    )
    parser.add_argument("--table-only", action="store_true", help="print the --json table")
    args = parser.parse_args(argv)

    results = load_results(args.json)
    for program in [] if args.table_only else args.programs:
        entry = results.setdefault(program, {"settings": list(SETTINGS[program][:2]), "runs": {}})
        for seed in args.seeds:
            for framework in args.frameworks:
                run = run_once(program, framework, seed, args.mnist, args.lock)
                run["seed"] = seed
                runs = entry["runs"].setdefault(framework, [])
                runs[:] = [r for r in runs if r["seed"] != seed] + [run]
                print(
                    f"{program} {framework} seed {seed}: {run['figures']} "
                    f"({run['seconds']:.0f} s, load {run['load']:.2f})",
                    flush=True,
                )
                if args.json:
                    pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
    for entry in results.values():
        entry["runs"] = {f: entry["runs"].get(f, []) for f in ("juanji", "keras")}
    print(table(results))


if __name__ == "__main__":
    main()
