"""What strict floating point costs: the default model's log-density with and without fastmath.

    python benchmarks/fastmath.py [--repeat 7] [--evals 2000]

The package compiles with numba's ``fastmath`` off so that one seed gives one set of draws
whether the graph was compiled now or loaded from the on-disk cache
(docs/decisions/0006-reproducible-draws.md). This script compiles the default spec on the
embedded data both ways, in the same run, and prints per variant the median microseconds
of one log-density-and-gradient evaluation through nutpie's C entry point and the ratio of
strict to fastmath. (That the strict variant is the same compiled cold and loaded from the
cache is a test: ``tests/test_backend.py``.)
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from pymc.model.transform.optimization import freeze_dims_and_data

import forecast
from forecast.backend import compile_nutpie, logp_caller
from forecast.design import make_design
from forecast.model import build_model
from forecast.spec import load_spec

from arguments import at_least  # beside this script


def measure(model, fastmath: bool, repeat: int, evals: int) -> dict:
    t0 = time.perf_counter()
    compiled = compile_nutpie(model, fastmath=fastmath)
    compile_s = time.perf_counter() - t0
    x = np.random.default_rng(0).normal(size=compiled.n_dim) * 0.1
    call = logp_caller(compiled, x)
    call()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(evals):
            call()
        times.append((time.perf_counter() - t0) / evals * 1e6)
    return {"compile_s": compile_s, "eval_us": statistics.median(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=at_least(1), default=7)
    parser.add_argument("--evals", type=at_least(1), default=2000)
    args = parser.parse_args()
    spec = load_spec("default")
    model = freeze_dims_and_data(build_model(make_design(forecast.load_default(), spec), spec))
    rows = {name: measure(model, fm, args.repeat, args.evals)
            for name, fm in (("fastmath", True), ("strict", False))}
    print(f"{'variant':10} {'compile s':>10} {'eval µs':>9}")
    for name, r in rows.items():
        print(f"{name:10} {r['compile_s']:10.1f} {r['eval_us']:9.1f}")
    ratio = rows["strict"]["eval_us"] / rows["fastmath"]["eval_us"]
    print(f"strict / fastmath evaluation time: {ratio:.3f}")


if __name__ == "__main__":
    main()
