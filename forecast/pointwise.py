"""Per-draw log-likelihoods of observations, written out from a fit's posterior quantities.

The model's likelihood again, in numpy and scipy: no compiled graph, so it holds for every
kind of fit (an oracle's too) and costs no compilation in a backtest's worker.
``tests/test_attribution.py`` checks it against the model's own log-density.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    from forecast.results import Fit

__all__ = ["flat_draws", "count_loglik", "outcome_loglik", "outcome_replicates",
           "OUTCOME_QUANTITIES"]

#: the posterior's quantities :func:`outcome_loglik` reads, by the outcome's family
OUTCOME_QUANTITIES = {
    "negbin": ("credibility", "outcome_intercept", "outcome_loading", "outcome_overdispersion"),
    "poisson": ("credibility", "outcome_intercept", "outcome_loading"),
}


def flat_draws(post, name: str) -> np.ndarray:
    """The draws of ``post[name]`` with chain and draw as one leading axis."""
    da = post[name]
    rest = [d for d in da.dims if d not in ("chain", "draw")]
    arr = da.transpose("chain", "draw", *rest).values
    return arr.reshape((-1,) + arr.shape[2:])


def count_loglik(family: str, y: np.ndarray, eta: np.ndarray, alpha: np.ndarray | None,
                 sigma: np.ndarray | None) -> np.ndarray:
    """Log-likelihood of ``y`` under a catalog family with linear predictor ``eta``
    (``alpha``: the negative binomial's dispersion; ``sigma``: the normal's sd)."""
    if family == "poisson":
        return stats.poisson.logpmf(y, np.exp(eta))
    if family == "negbin":
        mu = np.exp(eta)
        return stats.nbinom.logpmf(y, alpha, alpha / (alpha + mu))
    if family == "bernoulli":
        return np.where(y > 0, -np.logaddexp(0, -eta), -np.logaddexp(0, eta))
    return stats.norm.logpdf(y, eta, sigma)


def outcome_loglik(fit: "Fit", which: np.ndarray | None = None,
                   at: np.ndarray | None = None) -> np.ndarray:
    """Log-likelihood of observed hedging counts, one row per draw (chains one after another)
    and one column per count: those of the fit's design that ``which`` selects (a boolean
    mask or indices over ``design.outcome_value``), all by default; with ``at``, of those
    values in their place, one per selected count or one for all (e.g. ``[0]``: each
    month's log-probability of no hedging act).

    Examples
    --------
    >>> import forecast
    >>> from forecast.forecasting import oracle_fit
    >>> fit = oracle_fit(forecast.simulate(n_allies=2, n_months=12, seed=1), n_draws=3)
    >>> outcome_loglik(fit).shape, bool((outcome_loglik(fit) <= 0).all())
    ((3, 22), True)
    """
    d = fit.design
    which = slice(None) if which is None else which
    eta, alpha = _outcome_predictor(fit, which)
    y = d.outcome_value[which] if at is None else np.broadcast_to(at, eta.shape[1:])
    return count_loglik(d.outcome_family, y[None, :], eta, alpha, None)


def outcome_replicates(fit: "Fit", rng: np.random.Generator) -> np.ndarray:
    """One replicate of every observed hedging count per draw (rows as
    :func:`outcome_loglik`'s), from the model's own distribution at that draw: the posterior
    predictive of the counts.

    Examples
    --------
    >>> import numpy as np, forecast
    >>> from forecast.forecasting import oracle_fit
    >>> fit = oracle_fit(forecast.simulate(n_allies=2, n_months=12, seed=1), n_draws=3)
    >>> outcome_replicates(fit, np.random.default_rng(1)).shape
    (3, 22)
    """
    eta, alpha = _outcome_predictor(fit, slice(None))
    mu = np.exp(eta)
    if alpha is None:
        return rng.poisson(mu).astype(float)
    # the negative binomial as a gamma mixture of Poissons: exact for every dispersion
    # (numpy's negative_binomial(alpha, p) rounds p to 1 for alpha above about 1e14)
    return rng.poisson(rng.gamma(alpha, mu / alpha)).astype(float)


def _outcome_predictor(fit: "Fit", which) -> tuple[np.ndarray, np.ndarray | None]:
    """Each draw's log mean of the selected counts (the hedging intercept plus the loading
    times last month's credibility, plus hedging's level in the count's year where the spec
    walks it) and, for a negative binomial, its dispersion."""
    d, post = fit.design, fit.posterior
    a, t = d.outcome_ally[which], d.outcome_t[which]
    theta = flat_draws(post, "credibility")
    eta = (flat_draws(post, "outcome_intercept")[:, a]
           + flat_draws(post, "outcome_loading")[:, a] * theta[:, a, t - 1])
    if fit.spec.outcome_drift:
        eta = eta + flat_draws(post, "outcome_drift")[:, d.month_year[t]]
    alpha = (1.0 / flat_draws(post, "outcome_overdispersion")[:, None] ** 2
             if d.outcome_family == "negbin" else None)
    return eta, alpha
