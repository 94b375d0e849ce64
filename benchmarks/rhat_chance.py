"""How high a fit's max R-hat goes by chance alone, at the ESS its draws achieved.

    python benchmarks/rhat_chance.py FIT.nc [FIT.nc ...] [--replicates 20] [--seed 0]

A fit's max R-hat is the largest of thousands of noisy statistics (4 600 quantities on the
default data), and the noise of each grows as its ESS falls. For each saved fit (``fit.save``
or a run's ``posterior.nc``) this script reads every quantity's bulk ESS and its *scale* ESS
(the bulk ESS of ``|x − median x|``, which the folded half of the rank-normalised R-hat sees),
then draws, for each quantity, two stationary Gaussian AR(1) chains whose ESS are those two
values (``rho = (N − ESS)/(N + ESS)`` with ``N`` draws in all: negative for antithetic draws)
with the fit's chains and draws, computes their R-hat with the package's statistics
(:func:`forecast.convergence.convergence_statistics`) and keeps the larger. Chains that all
sample one stationary law have, by construction, nothing to converge: what their max R-hat
reaches is chance. Printed per fit: the observed max R-hat, the ESS, and the chance
distribution of the max over ``--replicates`` simulated fits (median, 90th percentile, share
above 1.01). Each simulated quantity also enters the max through the other half of its R-hat,
so the chance figures lean a little high. The ESS are estimated from the draws being judged,
so a real disagreement between chains lowers them and raises the chance figures too: read a
fit's max R-hat well inside the chance distribution as chance, one beyond it as worth a look
(docs/decisions/0012-hedging-loading-spread-and-rhat-chance.md).
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

import forecast
from forecast.convergence import convergence_statistics, fold, quantity_draws

from arguments import at_least  # beside this script

GATE = 1.01


def fit_draws(path: str) -> np.ndarray:
    """Every finite-R-hat quantity of a saved fit's posterior, ``(quantity, chain, draw)``."""
    post = forecast.load_fit(path).idata["posterior"].to_dataset()
    x = np.concatenate([quantity_draws(da) for da in post.data_vars.values()])
    keep = x.reshape(x.shape[0], -1).std(axis=1) > 0  # constants have no R-hat
    return x[keep]


def ar1(ess: np.ndarray, chains: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Stationary unit AR(1) chains, one per entry of ``ess``, whose ESS is about ``ess``."""
    n = chains * draws
    rho = np.clip((n - ess) / (n + ess), -0.95, 0.995)[:, None]
    e = rng.standard_normal((ess.size, chains, draws))
    x = np.empty_like(e)
    x[..., 0] = e[..., 0]
    scale = np.sqrt(1.0 - rho**2)
    for t in range(1, draws):
        x[..., t] = rho * x[..., t - 1] + scale * e[..., t]
    return x


def chance_max_rhat(bulk: np.ndarray, scale: np.ndarray, chains: int, draws: int,
                    rng: np.random.Generator) -> float:
    """Max R-hat of one simulated fit whose quantities have the given bulk and scale ESS."""
    r_bulk = convergence_statistics(ar1(bulk, chains, draws, rng))[0]
    r_scale = convergence_statistics(ar1(scale, chains, draws, rng))[0]
    return float(np.nanmax(np.maximum(r_bulk, r_scale)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fits", nargs="+", help="saved fits (netCDF)")
    parser.add_argument("--replicates", type=at_least(1), default=20)
    parser.add_argument("--seed", type=at_least(0), default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    for path in args.fits:
        try:
            x = fit_draws(path)
        except forecast.InputError as err:  # not a saved fit: say so, without a traceback
            parser.exit(2, f"rhat_chance.py: error: {err}\n")
        q, chains, draws = x.shape
        rhat, bulk, _ = convergence_statistics(x)
        scale = convergence_statistics(fold(x))[1]
        maxima = [chance_max_rhat(bulk, scale, chains, draws, rng)
                  for _ in range(args.replicates)]
        share = np.mean(np.asarray(maxima) > GATE)
        print(f"{path}: {q} quantities, {chains} x {draws} draws")
        print(f"  observed max R-hat {np.nanmax(rhat):.4f}; quantities above {GATE}: "
              f"{int(np.sum(rhat > GATE))}")
        print(f"  bulk ESS median {np.median(bulk):.0f} (1% {np.quantile(bulk, 0.01):.0f}); "
              f"scale ESS median {np.median(scale):.0f} (1% {np.quantile(scale, 0.01):.0f})")
        print(f"  chance max R-hat over {args.replicates} simulated fits: median "
              f"{statistics.median(maxima):.4f}, 90% {np.quantile(maxima, 0.9):.4f}, "
              f"max {max(maxima):.4f}; share above {GATE}: {share:.2f}")


if __name__ == "__main__":
    main()
