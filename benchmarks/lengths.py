"""A panel of another length: compile time and evaluation speed, frozen graph against a graph
of any length.

    python benchmarks/lengths.py [--cuts 2026-01,2025-10,2025-07] [--evals 600] [--repeat 7]

``forecast.fit`` compiles the frozen model (the panel's sizes and values are constants), the
reusable fitter ``forecast.compiled.CompiledFitter`` a graph that reads the number of months
from its inputs (``forecast.model.fix_lengths``; docs/decisions/0021-shape-generic-graph.md).
The script first compiles both for the embedded data, so that every operation is cached, then
compiles each for the data cut at each of ``--cuts``, every compile in a process of its own,
as a new month or a backtest origin would be. It prints the median compile time of the cuts
per kind, whether numba read the log-density's callback from its cache, and the ratio. Then,
in one process, the median speed of the two log-densities on the embedded data (gradient
evaluations per second, through nutpie's C entry point, interleaved), and the ratio.

A cut compiled once is cached: run the script again with other ``--cuts`` to time new lengths
for the frozen graph too (the hits column says which were read back).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

from arguments import at_least  # beside this script

KINDS = ("frozen", "any length")


def _model(kind: str, end: str | None):
    from pymc.model.transform.optimization import freeze_dims_and_data

    import forecast
    from forecast.design import make_design
    from forecast.model import build_model, fix_lengths

    panel = forecast.load_default()
    if end:
        panel = panel.truncate(end)
    spec = forecast.load_spec("default")
    model = build_model(make_design(panel, spec), spec)
    return freeze_dims_and_data(model) if kind == "frozen" else fix_lengths(model)


def child(kind: str, end: str | None) -> None:
    """Compile one model in this process and print its compile time as JSON."""
    from forecast.backend import compile_nutpie

    model = _model(kind, end)
    t0 = time.perf_counter()
    compiled = compile_nutpie(model)
    print(json.dumps({"compile_s": time.perf_counter() - t0,
                      "logp_cached": compiled.compiled_logp_func.cache_hits == 1}))


def compile_in_new_process(kind: str, end: str | None) -> dict:
    args = [sys.executable, __file__, "--child", kind] + ([end] if end else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def speeds(evals: int, repeat: int) -> dict[str, list[float]]:
    from forecast.backend import compile_nutpie, logp_caller

    calls = {}
    for kind in KINDS:
        compiled = compile_nutpie(_model(kind, None))
        x = np.random.default_rng(0).normal(size=compiled.n_dim) * 0.1
        calls[kind] = logp_caller(compiled, x)
        calls[kind]()
    result: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(repeat):
        for kind, call in calls.items():
            t0 = time.perf_counter()
            for _ in range(evals):
                call()
            result[kind].append(evals / (time.perf_counter() - t0))
    return result


DEFAULT_CUTS = "2026-01,2025-10,2025-07"


def _months(text: str) -> list[str]:
    """An argparse type: a comma list of months, each YYYY-MM and within the default data."""
    import re

    from forecast.datasets import load_default

    cuts = [c.strip() for c in text.split(",") if c.strip()]
    last = str(load_default().months[-1])
    for cut in cuts:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", cut):
            raise argparse.ArgumentTypeError(f"expected months YYYY-MM, not {cut!r}")
        if cut >= last:
            raise argparse.ArgumentTypeError(f"{cut} cuts nothing: the data end in {last}")
    if not cuts:
        raise argparse.ArgumentTypeError("expected at least one month")
    return cuts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # no default here: argparse would check a default text in every child process too
    parser.add_argument("--cuts", type=_months, default=None,
                        help="comma list of months YYYY-MM, each within the default data, to "
                             f"cut the panel at (default {DEFAULT_CUTS})")
    parser.add_argument("--evals", type=at_least(1), default=600)
    parser.add_argument("--repeat", type=at_least(1), default=7)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1] if len(args.child) > 1 else None)
        return
    cuts = args.cuts or _months(DEFAULT_CUTS)
    for kind in KINDS:  # every operation of the full data cached first
        compile_in_new_process(kind, None)
    rows = {kind: [compile_in_new_process(kind, cut) for cut in cuts] for kind in KINDS}
    print(f"compile of a new length, default data cut at {', '.join(cuts)} "
          "(a new process each; the full data compiled first)")
    print(f"{'graph':<12} {'median s':>9} {'each s':>24} {'callback from cache':>20}")
    median = {}
    for kind, runs in rows.items():
        median[kind] = statistics.median(r["compile_s"] for r in runs)
        each = ", ".join(f"{r['compile_s']:.1f}" for r in runs)
        hits = sum(r["logp_cached"] for r in runs)
        print(f"{kind:<12} {median[kind]:>9.1f} {each:>24} {f'{hits} of {len(runs)}':>20}")
    print(f"frozen / any length: {median['frozen'] / median['any length']:.2f}")
    rates = speeds(args.evals, args.repeat)
    ratios = [f / a for f, a in zip(rates["frozen"], rates["any length"], strict=True)]
    print(f"\ngradient evaluations per second, embedded data, median of {args.repeat} x "
          f"{args.evals}:")
    for kind in KINDS:
        print(f"{kind:<12} {statistics.median(rates[kind]):>9.0f}")
    print(f"frozen / any length: {statistics.median(ratios):.2f} (median of the paired ratios)")


if __name__ == "__main__":
    main()
