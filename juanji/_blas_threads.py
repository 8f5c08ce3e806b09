"""Tell OpenBLAS's idle worker threads to sleep at once instead of spinning.

After a multi-threaded BLAS call, OpenBLAS's workers busy-wait for the next one, by default
for 2**28 cycles (about 0.1 s). A training step runs NumPy code between its GEMMs, and a
worker spinning beside it on a 2-core machine slowed whole steps by up to 2x (the VGG-style
net in ``benchmarks/compare.py``: ~505 ms instead of ~230 ms at two threads, in half the
runs). OpenBLAS reads ``OPENBLAS_THREAD_TIMEOUT`` (spin for 2**n cycles, n from 4 to 30) once,
when NumPy loads it; so ``juanji/__init__`` imports this module before anything imports
NumPy, and it sets n = 10 unless the variable is set already. When NumPy was imported first it
comes too late and changes nothing (import juanji first, or set the variable yourself); then
:data:`SPIN_BOUNDED` is False and juanji's own thread pool stays unused (``juanji.parallel``),
since spinning BLAS workers would take the cores from it.
"""

import os
import sys

SPIN_CYCLES_LOG2 = 10

#: Whether OpenBLAS's idle threads spin for a set time: the variable was set before NumPy
#: (and so OpenBLAS) was loaded.
SPIN_BOUNDED = "numpy" not in sys.modules or "OPENBLAS_THREAD_TIMEOUT" in os.environ

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", str(SPIN_CYCLES_LOG2))
