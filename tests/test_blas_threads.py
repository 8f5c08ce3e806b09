"""Importing juanji sets OpenBLAS's thread timeout before NumPy loads OpenBLAS."""

import os
import subprocess
import sys

from juanji import _blas_threads

PRINT_SETTING_AND_ORDER = (
    "import sys, os, juanji; modules = list(sys.modules); "
    "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'), "
    "modules.index('juanji._blas_threads') < modules.index('numpy'), "
    "juanji._blas_threads.SPIN_BOUNDED)"
)


def _run(env_value, code=PRINT_SETTING_AND_ORDER):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if env_value is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = env_value
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def test_import_sets_the_timeout_before_numpy_is_loaded():
    assert _run(None) == [str(_blas_threads.SPIN_CYCLES_LOG2), "True", "True"]


def test_a_value_already_set_is_kept():
    assert _run("22") == ["22", "True", "True"]


def test_after_numpy_the_setting_comes_too_late_and_says_so():
    assert _run(None, "import numpy; " + PRINT_SETTING_AND_ORDER) == ["10", "False", "False"]
    assert _run("12", "import numpy; " + PRINT_SETTING_AND_ORDER) == ["12", "False", "True"]
