"""The loaders of untrusted files, fuzzed (tests/fuzz_loaders.py) in subprocesses capped in
memory: only the documented exception types, within a time bound, never a process started.

``JUANJI_FUZZ_EXAMPLES=N`` runs N cases per target instead of the defaults below.
"""

import os
import pathlib
import resource
import subprocess
import sys

import pytest

RUNNER = pathlib.Path(__file__).with_name("fuzz_loaders.py")
MEMORY_CAP = 3 * 2**30  # address space of each fuzzing process
# Cases per target in a normal run (a few thousand in all, about half a minute on 2 cores).
EXAMPLES = {"model": 600, "json": 300, "idx": 800, "image": 800}


def _cap_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


@pytest.mark.parametrize("target", list(EXAMPLES))
def test_fuzzed_files_fail_only_with_documented_errors(target):
    examples = int(os.environ.get("JUANJI_FUZZ_EXAMPLES", EXAMPLES[target]))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(RUNNER), target, str(examples)],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=_cap_memory,
        timeout=max(600, examples),
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-8000:]
    assert f"fuzz {target}: {examples} cases held" in done.stdout
