"""Running an op's independent parts (groups of images, ranges of rows) on several threads.

juanji uses as many threads as NumPy's BLAS is set to use (``OPENBLAS_NUM_THREADS``, or
threadpoolctl's ``threadpool_limits``, set both). Much of a convolution's time is NumPy
copying and many small GEMMs, which one multi-threaded BLAS call at a time cannot spread over
the cores; so a large convolution hands its groups of images to a pool of that many threads
instead (:func:`map_tasks`), each running single-threaded BLAS (NumPy releases the GIL in its
copies and GEMMs), and large elementwise passes split their rows the same way
(:func:`batchwise`).
The pool is only used when OpenBLAS's idle threads spin for a bounded time
(``juanji._blas_threads``); otherwise they would take the cores from it for ~0.1 s after
every multi-threaded BLAS call.
"""

import concurrent.futures
import contextlib
import os
import threading

import threadpoolctl

from juanji import _blas_threads

# An elementwise pass over fewer elements than this runs on the calling thread alone: waking
# the others would cost more than they gain.
_BATCHWISE_MIN_ELEMENTS = 1 << 18

_lock = threading.Lock()
_controller = None
_executor, _executor_size = None, 0
_blas_limit, _blas_limit_users = None, 0


def _blas():
    """threadpoolctl's handle on the BLAS libraries loaded in the process (found once)."""
    global _controller
    with _lock:
        if _controller is None:
            _controller = threadpoolctl.ThreadpoolController().select(user_api="blas")
        return _controller


def workers():
    """The number of threads juanji's ops use: NumPy's BLAS thread count (at least 1), or 1
    when OpenBLAS's idle threads may spin unbounded."""
    if not _blas_threads.SPIN_BOUNDED:
        return 1
    return max([1, *(lib.num_threads for lib in _blas().lib_controllers)])


def map_tasks(fn, tasks, n_workers):
    """``[fn(*task) for task in tasks]``, on ``n_workers`` threads when that is over 1.

    The calling thread is one of them: it takes tasks too, so that waking the pool's threads
    overlaps with work. Meanwhile BLAS runs single-threaded, so that the threads do not
    compete with BLAS's own. ``fn`` must only write to memory no other task touches.
    """
    tasks = list(tasks)
    if n_workers <= 1 or len(tasks) <= 1:
        return [fn(*task) for task in tasks]
    results = [None] * len(tasks)
    queue = iter(enumerate(tasks))  # shared: next() on it is atomic under the GIL

    def work():
        for i, task in queue:
            results[i] = fn(*task)

    with _single_threaded_blas():
        helpers = [_pool(n_workers - 1).submit(work) for _ in range(min(n_workers, len(tasks)) - 1)]
        try:
            work()
        finally:
            concurrent.futures.wait(helpers)
        for helper in helpers:
            helper.result()  # raises what a helper raised
    return results


@contextlib.contextmanager
def _single_threaded_blas():
    """BLAS at one thread meanwhile; the first caller in sets it, the last one out restores
    it, so that calls from several threads at once leave BLAS as it was."""
    global _blas_limit, _blas_limit_users
    blas = _blas()
    with _lock:
        if _blas_limit_users == 0:
            _blas_limit = blas.limit(limits=1)
        _blas_limit_users += 1
    try:
        yield
    finally:
        with _lock:
            _blas_limit_users -= 1
            if _blas_limit_users == 0:
                _blas_limit.restore_original_limits()


def batchwise(fn, out, *arrays):
    """``fn(*arrays, out)`` computed by ranges of the leading (batch) axis, one per worker
    thread: ``fn(*(a[start:stop] for a in arrays), out[start:stop])``.

    ``fn`` writes its result into its last argument, and each of its results depends on the
    same rows of ``arrays`` only (elementwise, or per sample). Small passes, and arrays
    whose leading axis is not ``out``'s, run in one call on the calling thread.
    """
    n = len(out) if out.ndim else 0
    n_workers = workers() if out.size >= _BATCHWISE_MIN_ELEMENTS else 1
    if n_workers == 1 or any(a.shape[:1] != (n,) for a in arrays):
        fn(*arrays, out)
        return out
    tasks = [(slice(start, stop),) for start, stop in worker_spans(n, n_workers)]
    map_tasks(lambda rows: fn(*(a[rows] for a in arrays), out[rows]), tasks, n_workers)
    return out


def spans(n, size):
    """``(start, stop)`` of consecutive runs of ``size`` items covering ``range(n)``."""
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def worker_spans(n, n_workers, most=None):
    """``(start, stop)`` of runs covering ``range(n)``, of sizes differing by at most one: one
    per worker thread, or a multiple of that many (so that each thread gets as much work) of
    at most ``most`` items."""
    count = n_workers if most is None else -(-n // (n_workers * most)) * n_workers
    bounds = [n * i // count for i in range(count + 1)]
    return [(start, stop) for start, stop in zip(bounds, bounds[1:]) if stop > start]


def _forget_threads_after_fork():
    """A forked child has none of its parent's threads: start from a fresh pool and lock."""
    global _lock, _executor, _executor_size, _blas_limit, _blas_limit_users
    _lock = threading.Lock()
    _executor, _executor_size = None, 0
    _blas_limit, _blas_limit_users = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads_after_fork)


def _pool(n_workers):
    """A pool of ``n_workers`` helper threads, kept until another size is asked for."""
    global _executor, _executor_size
    with _lock:
        if _executor_size != n_workers:
            if _executor is not None:
                _executor.shutdown(wait=False)
            _executor = concurrent.futures.ThreadPoolExecutor(n_workers, "juanji")
            _executor_size = n_workers
        return _executor
