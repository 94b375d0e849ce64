"""The negative-binomial observation block, written so its gradient is cheap.

Every count the model observes through a negative binomial (NegBin indicators and the hedging
outcome) has a log-link predictor ``eta`` and one dispersion ``alpha`` per signal. PyMC's
``NegativeBinomial`` takes ``alpha`` per observation: its log-mass and gradient then evaluate
``gammaln(alpha)`` and ``digamma(alpha)`` once per observation although there are only a
handful of distinct values, and its ``p = alpha / (mu + alpha)`` form costs two softplus and
two sigmoid evaluations per count. On workload M those special functions took about half of
the gradient's time (docs/decisions/0011-negbin-likelihood.md).

:func:`negbin_observed` keeps PyMC's distribution for random draws (prior and posterior
predictive) and replaces only its log-mass: the terms of a dispersion alone are computed per
dispersion and gathered, and ``log(mu + alpha)`` is one log-sum-exp of ``eta`` and
``log alpha``. The value is the same log-mass.
"""

from __future__ import annotations

import pymc as pm
import pytensor.tensor as pt

__all__ = ["negbin_logp", "negbin_observed"]


def _negbin_dist(eta, log_alpha, index, size):
    return pm.NegativeBinomial.dist(mu=pt.exp(eta), alpha=pt.exp(log_alpha)[index], size=size)


def negbin_logp(value, eta, log_alpha, index):
    """Log-mass of ``NegativeBinomial(mu=exp(eta), alpha=exp(log_alpha)[index])`` at ``value``.

    Parameters
    ----------
    value
        Observed counts, one per observation.
    eta
        Log of the mean, one per observation.
    log_alpha
        Log of each dispersion ``alpha`` (variance ``mu + mu²/alpha``), one per signal.
    index
        Which dispersion each observation uses.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> y, eta, la, idx = np.array([0, 3]), np.array([0.5, 1.0]), np.array([0.2]), np.array([0, 0])
    >>> got = negbin_logp(y, eta, la, idx).eval()
    >>> a, mu = np.exp(0.2), np.exp(eta)
    >>> bool(np.allclose(got, stats.nbinom.logpmf(y, a, a / (a + mu))))
    True
    """
    alpha = pt.exp(log_alpha)
    a, log_a = alpha[index], log_alpha[index]
    # log(alpha / (mu + alpha)) = -softplus(d) and log(mu / (mu + alpha)) = d - softplus(d),
    # with d = eta - log alpha: no term of size alpha·log(alpha) that would have to cancel
    d = eta - log_a
    sp = pt.softplus(d)
    # gammaln(value + alpha) - gammaln(alpha) falls below their shared rounding error once
    # alpha is large: there it is value·log(alpha), the Poisson limit (as PyMC does)
    rising = pt.switch(a > 1e10, value * log_a,
                       pt.gammaln(value + a) - pt.gammaln(alpha)[index])
    return rising - pt.gammaln(value + 1.0) - a * sp + value * (d - sp)


def negbin_observed(name: str, eta, log_alpha, index, observed) -> pt.TensorVariable:
    """An observed negative-binomial block: log-link ``eta``, dispersion
    ``exp(log_alpha)[index]``, log-mass :func:`negbin_logp`, PyMC's random draws.

    Examples
    --------
    >>> import numpy as np, pymc as pm
    >>> with pm.Model() as m:
    ...     _ = negbin_observed("y", np.zeros(3), np.zeros(1), np.zeros(3, int), [0, 1, 2])
    >>> sorted(m.named_vars)
    ['y']
    """
    return pm.CustomDist(name, eta, log_alpha, index, dist=_negbin_dist, logp=negbin_logp,
                         observed=observed)
