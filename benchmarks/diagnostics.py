"""Convergence statistics: the vectorised ones against ArviZ's per-quantity loop.

    python benchmarks/diagnostics.py [--quantities 4600] [--chains 4] [--draws 1000] [--repeat 3]
                                     [--no-arviz]

Both compute rank-normalised split R-hat, bulk ESS and tail ESS (5%/95%) for every
quantity of the same simulated draws (AR(1) chains of mixed persistence), in the same run.
The default size is that of the default model's fit. Printed: median seconds of each, their
ratio, and the largest relative difference between the two results
(docs/decisions/0007-vectorised-diagnostics.md). Then the vectorised statistics in blocks of
quantities (the default) against all quantities in one block: median seconds and peak traced
memory of each, and their ratios. ``--no-arviz`` skips the ArviZ loop (slow for large sizes).
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np
from arviz_stats.base import array_stats

from forecast.convergence import BLOCK_VALUES, convergence_statistics

from arguments import at_least  # beside this script


def simulate(quantities: int, chains: int, draws: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    phi = rng.uniform(-0.3, 0.95, size=(quantities, 1))
    e = rng.normal(size=(quantities, chains, draws))
    x = np.empty_like(e)
    x[..., 0] = e[..., 0]
    for t in range(1, draws):
        x[..., t] = phi * x[..., t - 1] + e[..., t]
    return x


def arviz_statistics(x: np.ndarray) -> tuple[np.ndarray, ...]:
    return (np.asarray(array_stats.rhat(x, method="rank")),
            np.asarray(array_stats.ess(x, method="bulk")),
            np.asarray(array_stats.ess(x, method="tail", prob=(0.05, 0.95))))


def timed(fn, x, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def peak_mib(fn, x) -> float:
    """Peak memory traced while ``fn(x)`` runs (numpy's allocations included), in MiB."""
    tracemalloc.start()
    try:
        fn(x)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quantities", type=at_least(1), default=4600)
    parser.add_argument("--chains", type=at_least(2), default=4)
    parser.add_argument("--draws", type=at_least(4), default=1000)
    parser.add_argument("--repeat", type=at_least(1), default=3)
    parser.add_argument("--no-arviz", action="store_true", help="skip the ArviZ loop")
    args = parser.parse_args()
    x = simulate(args.quantities, args.chains, args.draws)
    print(f"{args.quantities} quantities × {args.chains} chains × {args.draws} draws, "
          f"median of {args.repeat}")
    t_new, new = timed(convergence_statistics, x, args.repeat)
    if not args.no_arviz:
        t_ref, ref = timed(arviz_statistics, x, args.repeat)
        diff = max(float(np.nanmax(np.abs(a - b) / np.abs(b))) for a, b in zip(new, ref))
        print(f"arviz (per quantity)  {t_ref:8.2f} s")
        print(f"vectorised            {t_new:8.2f} s")
        print(f"ratio arviz / vectorised: {t_ref / t_new:.1f}×   "
              f"largest relative difference: {diff:.1e}")

    def one_block(a):
        return convergence_statistics(a, block=a.size)

    t_one, one = timed(one_block, x, args.repeat)
    same = all(np.array_equal(a, b, equal_nan=True) for a, b in zip(new, one))
    m_new, m_one = peak_mib(convergence_statistics, x), peak_mib(one_block, x)
    print(f"blocks of {BLOCK_VALUES} draws: {t_new:8.2f} s, peak {m_new:8.0f} MiB")
    print(f"one block:              {t_one:8.2f} s, peak {m_one:8.0f} MiB")
    print(f"ratio one block / blocks: time {t_one / t_new:.2f}×, memory {m_one / m_new:.1f}×; "
          f"results identical: {same}")


if __name__ == "__main__":
    main()
