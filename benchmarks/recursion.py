"""The AR(1) recursion: one operation against the log-depth prefix sum it replaced.

    python benchmarks/recursion.py [--allies 4] [--months 315] [--repeat 5]

Both compute ``x[a, t] = φ[a]·x[a, t-1] + u[a, t]`` and the gradient of ``Σ w·x`` with
respect to ``u`` and ``φ``, compiled with numba, in the same run. Printed per implementation:
graph nodes, compile time and evaluation time (medians over repeats) and the ratios of the
prefix sum to the operation (docs/decisions/0005-recursion-operation.md).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

from forecast.recursion import ar1_filter

from arguments import at_least  # beside this script


def prefix_sum(u, phi, n: int):
    """The former formulation: ⌈log2 n⌉ vectorised shift-and-add steps."""
    x, d = u, 1
    while d < n:
        x = pt.inc_subtensor(x[:, d:], (phi[:, None] ** d) * x[:, :-d])
        d *= 2
    return x


def measure(build, u, phi, w, repeat: int) -> dict:
    u_t, phi_t = pt.matrix("u"), pt.vector("phi")
    x = build(u_t, phi_t)
    loss = (x * w).sum()
    outs = [loss, *pt.grad(loss, [u_t, phi_t])]
    t0 = time.perf_counter()
    f = pytensor.function([u_t, phi_t], outs, mode="NUMBA")
    f(u, phi)  # the first call compiles
    compile_s = time.perf_counter() - t0
    per_call = []
    for _ in range(repeat):
        n = 2000
        t0 = time.perf_counter()
        for _ in range(n):
            f(u, phi)
        per_call.append((time.perf_counter() - t0) / n)
    return {"nodes": len(f.maker.fgraph.apply_nodes), "compile_s": compile_s,
            "eval_us": statistics.median(per_call) * 1e6, "value": f(u, phi)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--allies", type=at_least(1), default=4)
    ap.add_argument("--months", type=at_least(2), default=315)
    ap.add_argument("--repeat", type=at_least(1), default=5)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    u = rng.normal(size=(args.allies, args.months))
    phi = rng.uniform(0.5, 0.95, size=args.allies)
    w = rng.normal(size=u.shape)
    op = measure(ar1_filter, u, phi, w, args.repeat)
    old = measure(lambda a, b: prefix_sum(a, b, args.months), u, phi, w, args.repeat)
    for got, want in zip(op["value"], old["value"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9)  # same function, same gradient
    print(f"AR(1) recursion and its gradient, {args.allies} series × {args.months} months, "
          f"numba, median of {args.repeat}")
    print(f"{'implementation':<16}{'nodes':>8}{'compile s':>12}{'eval µs':>10}")
    for name, r in (("operation", op), ("prefix sum", old)):
        print(f"{name:<16}{r['nodes']:>8}{r['compile_s']:>12.2f}{r['eval_us']:>10.1f}")
    print(f"ratio prefix sum / operation: nodes {old['nodes'] / op['nodes']:.1f}×, "
          f"eval {old['eval_us'] / op['eval_us']:.1f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
