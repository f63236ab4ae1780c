"""The thread budget of the toolkit's parallel loops (threads.thread_count)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import shapely

from eldercare_coverage import access
from eldercare_coverage.network import network_from_arrays
from eldercare_coverage.threads import thread_count


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def test_all_cores_unless_omp_num_threads_says_fewer(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert thread_count() == cores() and thread_count(1) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert thread_count() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    assert thread_count() == 7 and thread_count(3) == 3
    for junk in ("0", "-2", "two", ""):
        monkeypatch.setenv("OMP_NUM_THREADS", junk)
        assert thread_count() == cores()


@pytest.mark.parametrize("omp, pools", [("1", 0), ("2", 1)])
def test_walk_times_use_the_thread_budget(monkeypatch, omp, pools):
    """With OMP_NUM_THREADS=1 (a Dask worker) the walk-time batches run on this thread alone,
    with the same matrix."""
    made = []
    real = access.ThreadPoolExecutor

    def counting(n):
        made.append(n)
        return real(n)

    monkeypatch.setattr(access, "ThreadPoolExecutor", counting)
    x = np.arange(40, dtype=float) * 50.0
    net = network_from_arrays(x, np.zeros(40), np.arange(39), np.arange(1, 40), "EPSG:3857")
    pts = access.snap_points(net, shapely.points(x[::3] + 5.0, np.full(14, 8.0)), 250.0)
    monkeypatch.setenv("OMP_NUM_THREADS", omp)
    mat = access.coverage_matrix(net, pts, pts, 1.0, 15.0, batch_size=2)
    monkeypatch.delenv("OMP_NUM_THREADS")
    ref = access.coverage_matrix(net, pts, pts, 1.0, 15.0, batch_size=2, n_threads=1)
    assert len(made) == pools and (mat != ref).nnz == 0 and mat.nnz > 14
