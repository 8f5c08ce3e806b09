"""juanji.parallel: tasks run on as many threads as BLAS uses, BLAS single-threaded meanwhile."""

import multiprocessing
import os
import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from juanji import _blas_threads, parallel


def _blas_thread_count():
    return max(lib.num_threads for lib in parallel._blas().lib_controllers)


def test_workers_follow_the_blas_thread_count(monkeypatch):
    monkeypatch.setattr(_blas_threads, "SPIN_BOUNDED", True)
    with threadpool_limits(1, user_api="blas"):
        assert parallel.workers() == 1
    with threadpool_limits(2, user_api="blas"):
        assert parallel.workers() == 2


def test_one_worker_while_blas_threads_may_spin_unbounded(monkeypatch):
    monkeypatch.setattr(_blas_threads, "SPIN_BOUNDED", False)
    with threadpool_limits(2, user_api="blas"):
        assert parallel.workers() == 1


@pytest.mark.parametrize("n_workers", [1, 2, 3])
def test_results_come_in_task_order_and_blas_is_restored(n_workers):
    seen = []

    def task(i, a):
        seen.append((threading.current_thread().name, _blas_thread_count()))
        time.sleep(0.01)  # long enough for every thread to take a task
        return i, a @ a

    with threadpool_limits(n_workers, user_api="blas"):
        a = np.eye(3)
        results = parallel.map_tasks(task, [(i, a * i) for i in range(7)], n_workers)
        assert _blas_thread_count() == n_workers
    assert [i for i, _ in results] == list(range(7))
    np.testing.assert_allclose(results[3][1], 9 * np.eye(3))
    names = {name for name, _ in seen}
    main = threading.current_thread().name
    if n_workers > 1:
        assert len(names) == n_workers and all(n == main or n.startswith("juanji") for n in names)
        assert {blas for _, blas in seen} == {1}
    else:
        assert names == {main}


def test_an_exception_in_a_task_reaches_the_caller():
    def task(i):
        if i == 2:
            raise ValueError("task 2 failed")
        return i

    with threadpool_limits(2, user_api="blas"), pytest.raises(ValueError, match="task 2"):
        parallel.map_tasks(task, [(i,) for i in range(4)], 2)


def test_calls_from_several_threads_at_once_leave_blas_as_it_was():
    """Overlapping callers (the main thread and two others) must not restore each other's
    limit too early nor leave BLAS limited, and each gets its own results."""
    results = {}

    def task(i):
        time.sleep(0.01)
        return i * i

    def caller(name):
        results[name] = parallel.map_tasks(task, [(i,) for i in range(4)], 2)

    with threadpool_limits(2, user_api="blas"):
        others = [threading.Thread(target=caller, args=(name,)) for name in ("a", "b")]
        for t in others:
            t.start()
        caller("main")
        for t in others:
            t.join()
        assert _blas_thread_count() == 2
    assert results == {name: [0, 1, 4, 9] for name in ("a", "b", "main")}


def _tasks_in_a_child(queue):
    queue.put(parallel.map_tasks(lambda i: i + 1, [(i,) for i in range(4)], 2))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_threads():
    """The pool's threads do not survive a fork: a child that used the parent's pool object
    would wait for them forever."""
    with threadpool_limits(2, user_api="blas"):
        parallel.map_tasks(lambda i: i, [(i,) for i in range(4)], 2)  # the parent's pool exists
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_tasks_in_a_child, args=(queue,))
        child.start()
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
        assert child.exitcode == 0
        assert queue.get(timeout=5) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "n, n_workers, most, sizes",
    [
        (100, 2, None, [50, 50]),
        (100, 1, 29, [25] * 4),  # not 29, 29, 29, 13
        (100, 2, 29, [25] * 4),  # two each
        (100, 2, 40, [25] * 4),  # 3 spans of 40 would leave one thread idle a third of the time
        (7, 3, None, [2, 2, 3]),
        (5, 1, 2, [1, 2, 2]),
        (1, 2, None, [1]),
    ],
)
def test_worker_spans_cover_the_range_in_near_equal_parts(n, n_workers, most, sizes):
    spans = parallel.worker_spans(n, n_workers, most)
    assert [stop - start for start, stop in spans] == sizes
    assert spans[0][0] == 0 and spans[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
