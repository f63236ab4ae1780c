"""How many threads the toolkit's own parallel loops use (walk times, isochrones, PBF blocks).

All the cores this process may run on, unless ``OMP_NUM_THREADS`` says fewer: the variable
numpy's BLAS, numba and OpenMP code already follow, and the one Dask sets to 1 in every worker
process it starts (``distributed.nanny.pre-spawn-environ``). A worker then runs each tile on
one core, as many tiles side by side as it has threads, instead of every tile spreading over
all cores and the tiles of two workers fighting over them.
"""

from __future__ import annotations

import os


def thread_count(cap: int | None = None) -> int:
    """Threads for a parallel loop: ``OMP_NUM_THREADS`` when set to a positive whole number,
    else the cores available to this process; at most ``cap`` when given; at least 1."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        n = os.cpu_count() or 1
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        n = int(value)
    return max(1, min(n, cap) if cap is not None else n)
