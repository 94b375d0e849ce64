"""The naive baseline of issue 7: the straightforward centred PyMC model, sampled by default.

What an analyst would write first, and what DESIGN §3 measured (min ESS 14 in 260 s on an
8 × 144 panel): each ally's credibility a *centred* Gaussian random walk whose step size is
free, loadings free in sign and scale, ally intercepts unpooled, no drivers, no common factor,
and ``pm.sample()`` with its defaults (PyMC's NUTS, 4 chains × 1000 tuning + 1000 draws).
Its latent's location, scale and sign are not identified, which is why it mixes badly.

The measurement equations are the package's (same families, same period averaging, same
long-form observation arrays from :func:`forecast.design.make_design`), so both models see
exactly the same data.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from forecast.design import Design

__all__ = ["build_naive_model"]


def build_naive_model(design: Design) -> pm.Model:
    """Centred random-walk credibility with free loadings, for ``design``'s observations."""
    A, T = design.n_allies, design.n_periods
    S = len(design.indicators)
    coords = {"ally": list(design.allies), "period": list(design.periods),
              "signal": list(design.indicators)}
    with pm.Model(coords=coords) as model:
        sigma = pm.HalfNormal("state_sd", 1.0, dims="ally")
        theta = pm.GaussianRandomWalk(
            "credibility", sigma=sigma, init_dist=pm.Normal.dist(0.0, 1.0),
            dims=("ally", "period"))
        lam = pm.Normal("loading", 0.0, 1.0, dims="signal")
        alpha = pm.Normal("intercept", mu=np.asarray(design.centers)[None, :], sigma=1.5,
                          dims=("ally", "signal"))
        cum = pt.concatenate([pt.zeros((A, 1)), pt.cumsum(theta, axis=1)], axis=1)
        fams = design.families_of
        nb = [k for k, f in enumerate(fams) if f == "negbin"]
        nm = [k for k, f in enumerate(fams) if f == "normal"]
        alpha_nb = pt.ones(S)
        if nb:
            od = pm.HalfNormal("overdispersion", 1.0, shape=len(nb))
            alpha_nb = pt.set_subtensor(alpha_nb[nb], 1.0 / od**2)
        omega = pt.ones(S)
        if nm:
            omega = pt.set_subtensor(omega[nm], pm.HalfNormal("noise", 1.0, shape=len(nm)))
        for fam, b in design.families.items():
            if b.single_month:
                lat = theta[b.ally, b.start]
            else:
                lat = (cum[b.ally, b.stop] - cum[b.ally, b.start]) / (b.stop - b.start)
            eta = alpha[b.ally, b.signal] + lam[b.signal] * lat
            name = f"{fam}_indicators"
            if fam == "poisson":
                pm.Poisson(name, mu=pt.exp(eta), observed=b.value)
            elif fam == "negbin":
                pm.NegativeBinomial(name, mu=pt.exp(eta), alpha=alpha_nb[b.signal],
                                    observed=b.value)
            elif fam == "normal":
                pm.Normal(name, mu=eta, sigma=omega[b.signal], observed=b.value)
            else:
                pm.Bernoulli(name, logit_p=eta, observed=b.value)
        h = pm.Normal("outcome_intercept", design.outcome_center, 1.5, dims="ally")
        kappa = pm.Normal("outcome_loading", 0.0, 1.0, dims="ally")
        oa, ot = design.outcome_ally, design.outcome_t
        eta_h = h[oa] + kappa[oa] * theta[oa, ot - 1]
        if design.outcome_family == "negbin":
            h_od = pm.HalfNormal("outcome_overdispersion", 1.0)
            pm.NegativeBinomial("outcome", mu=pt.exp(eta_h), alpha=1.0 / h_od**2,
                                observed=design.outcome_value)
        else:
            pm.Poisson("outcome", mu=pt.exp(eta_h), observed=design.outcome_value)
    return model
