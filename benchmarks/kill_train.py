"""SIGKILL `juanji train --out` at random moments, resume it, and check nothing was lost.

Runs (digits, ``--epochs`` epochs) are started until ``--kills`` of them were SIGKILLed,
each after a random delay drawn from the length of the shortest uninterrupted run seen; a
killed run is then resumed with ``--resume``. Every run must end
as one of: resumed to the uninterrupted run's weights bit for bit, finished before the kill
(same weights), or stopped before its first epoch ended (no backup and no model: nothing to
resume). Anything else is "lost". Slow (about one uninterrupted run per kill)::

    python benchmarks/kill_train.py --kills 30 --epochs 3

Exits 1 if any run was lost or resumed to different weights.
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from juanji.models import load_model  # noqa: E402


def _train(out, *options):
    return subprocess.Popen(
        [sys.executable, "-m", "juanji", "train", "--out", str(out), "--verbose", "0", *options],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _same_weights(a, b):
    return all(
        np.array_equal(x, y)
        for x, y in zip(load_model(a).get_weights(), load_model(b).get_weights(), strict=True)
    )


def _outcome(out, reference, killed):
    """How the killed run in ``out`` ends after ``juanji train --resume``."""
    if not killed:
        return (
            "finished before the kill"
            if _same_weights(out / "model.juanji", reference)
            else "DIFFERENT"
        )
    resumed = _train(out, "--resume") if (out / "args.json").exists() else None
    if resumed is None:
        return "not past epoch 1 (killed before args.json)"
    _, err = resumed.communicate()
    if resumed.returncode == 0:
        same = _same_weights(out / "model.juanji", reference)
        return "resumed, same weights" if same else "DIFFERENT after resume"
    if "nothing to resume" in err and not any(
        (out / name).exists() for name in ("backup/backup.juanji", "model.juanji")
    ):
        return "not past epoch 1"
    if "finished" in err and (out / "model.juanji").exists():
        same = _same_weights(out / "model.juanji", reference)
        return "finished before the kill" if same else "DIFFERENT"
    return f"LOST ({err.strip()[-200:]})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    parser.add_argument("--work", help="folder for the runs (default: a temporary one)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="juanji-kill-"))
    options = ["--epochs", str(args.epochs)]

    start = time.perf_counter()
    reference = _train(work / "reference", *options)
    _, err = reference.communicate()
    length = time.perf_counter() - start
    if reference.returncode != 0:
        sys.exit(f"the uninterrupted run failed: {err}")
    print(f"uninterrupted run: {length:.1f} s; killing {args.kills} runs at random moments")

    rng = random.Random(args.seed)
    counts, kills, attempts = {}, 0, 0
    # Runs that finish before their kill are not kills: draw again (from the shortest run
    # seen, as the machine's load changes) until --kills runs were killed.
    while kills < args.kills and attempts < 3 * args.kills:
        out = work / f"run{attempts:02d}"
        attempts += 1
        delay = rng.uniform(0, length)
        began = time.perf_counter()
        process = _train(out, *options)
        try:
            process.wait(timeout=delay)
            killed = False
            length = min(length, time.perf_counter() - began)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            killed = True
            kills += 1
        result = _outcome(out, work / "reference" / "model.juanji", killed)
        kind = result.split(" (")[0]
        counts[kind] = counts.get(kind, 0) + 1
        when = f"killed at {delay:5.1f} s" if killed else f"not killed ({delay:5.1f} s)"
        print(f"run {attempts:2d}, {when}: {result}", flush=True)
    print("\n".join(f"{n:3d}  {kind}" for kind, n in sorted(counts.items())))
    bad = sum(n for kind, n in counts.items() if kind.startswith(("LOST", "DIFFERENT")))
    print(f"{kills} runs killed; {bad} of {attempts} runs lost or different")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
