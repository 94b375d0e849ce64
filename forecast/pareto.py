"""Pareto tails of draws: how far a mean or an importance reweighting can be trusted.

ArviZ's Pareto-smoothing diagnostic, as the outputs use it: the smoothed importance weights
that leave observations out (:func:`forecast.attribution.attribution`), the k̂ of a
forecast's upper tail (the ``mean_pareto_k`` of :meth:`forecast.ForecastResult.hedging`,
docs/decisions/0027), and the threshold above which either is unreliable. No compiled
graph: numpy, scipy and ``arviz_stats`` only.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

__all__ = ["K_THRESHOLD", "K_FINITE_VARIANCE", "K_NO_MEAN", "MIN_PSIS_DRAWS", "psis_weights",
           "tail_k"]

#: above this Pareto k̂ a reweighted estimate or a mean rests on a few draws: unreliable
K_THRESHOLD = 0.7

#: above this Pareto k̂ the draws' (or the weights') variance is infinite: a mean still
#: converges, but more slowly than its Monte Carlo standard error says
K_FINITE_VARIANCE = 0.5

#: from this Pareto k̂ on the fitted tail has no finite mean: an average of the draws is
#: whatever its largest draw makes it (e.g. an approximate fit's forecast means of 10⁴–10⁵)
K_NO_MEAN = 1.0

#: the fewest draws whose largest weights PSIS fits a Pareto to (arviz_stats: below 25 it
#: refuses, and from 25 to 29 its tail of 5 gives no k̂)
MIN_PSIS_DRAWS = 30


def psis_weights(loglik: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalised PSIS weights that remove observations with per-draw log-likelihood
    ``loglik``, and the Pareto ``k̂`` of the reweighting.

    With fewer than :data:`MIN_PSIS_DRAWS` draws the tail holds too few to fit a Pareto
    (PSIS smooths the largest ``min(n/5, 3√n)`` weights): the weights are then the plain
    importance weights, and ``k̂`` is inf, which marks them unreliable (as it does a tail
    whose fit gives no ``k̂``).

    Examples
    --------
    >>> import numpy as np
    >>> w, k = psis_weights(np.zeros(100))
    >>> round(float(w.sum()), 6), bool(np.allclose(w, 0.01))
    (1.0, True)
    >>> w, k = psis_weights(np.array([0.0, 1.0]))  # two draws: plain weights, unreliable
    >>> [round(float(x), 3) for x in w], k
    ([0.731, 0.269], inf)
    """
    from arviz_stats.base import array_stats

    loglik = np.asarray(loglik, float)
    if np.ptp(loglik) < 1e-12:  # the observations do not discriminate between draws
        return np.full(loglik.shape, 1.0 / loglik.size), 0.0
    if loglik.size < MIN_PSIS_DRAWS:
        log_w = -loglik - special.logsumexp(-loglik)
        return np.exp(log_w), math.inf
    log_w, khat = array_stats.psislw(loglik, r_eff=1.0, axis=-1)
    log_w = log_w - special.logsumexp(log_w)
    return np.exp(log_w), float(khat) if np.isfinite(khat) else math.inf


def tail_k(draws: np.ndarray) -> np.ndarray:
    """The Pareto k̂ of the upper tail of ``draws`` along the first axis, per other index.

    How heavy the tail of a sample is, as ArviZ's Pareto-smoothing diagnostic measures it: below
    0.5 the draws have a finite variance and their mean converges as usual; above 0.5 it
    converges slowly, and above 0.7 (:data:`K_THRESHOLD`) no practical
    number of draws makes it reliable: a few draws decide it. NaN where there is no tail to
    judge: fewer than :data:`MIN_PSIS_DRAWS` (30) draws, or a tail of
    equal values. The draws are taken as independent (``r_eff = 1``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> draws = np.stack([rng.gamma(2.0, size=4000), 1 + rng.pareto(1.0, size=4000)], axis=1)
    >>> [bool(k > 0.7) for k in tail_k(draws)]
    [False, True]
    >>> bool(np.isnan(tail_k(draws[:29])).all())
    True
    """
    from arviz_stats.base import array_stats

    x = np.asarray(draws, dtype=float)
    out = np.full(x.shape[1:], np.nan)
    if x.shape[0] < MIN_PSIS_DRAWS:  # a tail of under 5 draws: ArviZ fits nothing
        return out
    flat, k = x.reshape(x.shape[0], -1), out.reshape(-1)
    for j in range(flat.shape[1]):
        try:
            k[j] = array_stats.pareto_khat(flat[None, :, j], chain_axis=-2, draw_axis=-1,
                                           tail="right", r_eff=1.0)
        except ValueError:  # a tail of equal values
            pass
    return out
