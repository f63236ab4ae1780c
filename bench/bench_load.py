"""Benchmark: loading and validating the embedded sample (target: under 5 s).

    python bench/bench_load.py [--repeat 5]

Prints the time of `load_study` on the sample (every check of the loaders included) against
a baseline measured in the same run: plain geopandas/pandas reads of the same files with no
validation, so the ratio is the cost of the checks.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd

from eldercare_coverage.config import load_config
from eldercare_coverage.io import load_study

DATA = Path(__file__).resolve().parents[1] / "data"


def _baseline() -> None:
    gpd.read_file(DATA / "communities.geojson")
    pd.read_csv(DATA / "population.csv", encoding="utf-8-sig")
    pd.read_csv(DATA / "facilities.csv", encoding="utf-8-sig")
    gpd.read_file(DATA / "candidates.geojson")


def _ours() -> None:
    load_study(load_config(DATA / "sample.toml"))


def _time(func, repeat: int) -> float:
    func()  # warm-up: imports and file cache
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    base = _time(_baseline, args.repeat)
    ours = _time(_ours, args.repeat)
    print(f"{'what':<44}{'median s':>10}{'ratio':>8}")
    print(f"{'baseline: plain reads, no checks':<44}{base:>10.3f}{1.0:>8.2f}")
    print(f"{'load_study on the sample (all checks)':<44}{ours:>10.3f}{ours / base:>8.2f}")
    print(f"target: under 5 s -> {'met' if ours < 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
