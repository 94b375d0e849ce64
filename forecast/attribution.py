"""What moved each ally's credibility this month: drivers through the state, signals through
the data.

For month ``t`` (the fit's last by default) and ally ``a`` the change in posterior mean
credibility ``Δ[a] = E[θ[a,t] | y] - E[θ[a,t-1] | y]`` is split into

``state`` rows, one per driver ``d``
    ``E[β[a,d]]·D[a,d,t-1]``: the push the driver's value last month gave this month's state
    (``D`` standardised, so an average month of the whole panel pushes 0, and a month without
    a lapse pushes a driver that lowers credibility up). ``n_obs`` is 0 where last month's
    value was not observed and the fit used the ally's mean in its place.
``data`` rows, one per indicator and the outcome
    How much the signal's newest observations of the ally (those whose period covers month
    ``t``) moved ``Δ[a]``: ``Δ[a] - Δ[a]^{(-s)}``, where ``Δ^{(-s)}`` is the posterior mean
    change without those observations. It is computed without refitting, by Pareto-smoothed
    importance sampling (PSIS): each draw is reweighted by ``1 / p(y_new | draw)``
    (``arviz_stats`` log weights), the posterior with those observations left out. The Pareto
    ``k̂`` of each reweighting is reported; above 0.7 the estimate is unreliable and an exact
    refit should be preferred. For a normal indicator this leave-out is approximate even when
    ``k̂`` is small: with ally intercepts its values are centred on the ally's mean of its
    observations (``forecast.design``), and so is the model's mean of the series
    (docs/decisions/0004), so leaving a value out would also move the others' centre; PSIS
    drops only the value's own term. The error is of the order of one over the number of the
    ally's values of that series (26 years of an annual series in the embedded data). A spec
    with ``intercept_reference = "average"`` makes every count and hedging row approximate in
    the same way: its intercepts sit at the ally's mean latent over the observed months, which
    leaving a month out would move (docs/decisions/0009); the default (``"zero"``) and
    ``"panel"`` do not depend on which months are observed.
an ``other`` row
    The remainder: persistence (mean reversion), the common factor (including other allies'
    news), the month's own shock and interactions; the rows sum to ``Δ[a]``.

Each row's ``mcse`` is the Monte Carlo standard error of its contribution: the error that a
finite number of draws leaves, not the posterior's uncertainty. Every contribution is a
mean over draws (a reweighted one for ``data`` rows), so its error is the standard deviation
of the draws' influence on it over the square root of their effective sample size (ArviZ's
``mcse`` of a mean, which counts the autocorrelation within chains). For a ``data`` row the
influence is the delta method's for a self-normalised importance-sampling mean,
``(x - x̄) - n·w·(x - Σ w x)`` with ``x`` the draws' change and ``w`` the PSIS weights; where
``k̂`` is above 0.5 the weights' variance is infinite and that error understates the spread
by about a third, and above 0.7 it is as unreliable as the estimate (the ``other`` row's error
counts every data row's influence, unreliable ones too). A contribution within about twice
its ``mcse`` of zero is one that more draws could reverse (docs/decisions/0029).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecast.catalog import RESERVED_SIGNAL
from forecast.errors import InputError
from forecast.pareto import K_THRESHOLD, psis_weights
from forecast.pointwise import count_loglik, flat_draws, outcome_loglik
from forecast.tabular import month_text, not_a_month

if TYPE_CHECKING:
    from forecast.results import Fit

__all__ = ["attribution", "removal_loglik", "psis_weights", "K_THRESHOLD"]


def removal_loglik(fit: "Fit", ally: int, signal: str, t: int) -> tuple[np.ndarray, int]:
    """Per-draw log-likelihood of the observations of ``signal`` for ``ally`` covering month
    index ``t`` (indicators) or in month ``t`` (the outcome).

    Returns
    -------
    (loglik, n_obs)
        ``loglik`` has one value per flattened draw (summed over the observations);
        ``n_obs`` is how many observations were found (0: nothing to remove).
    """
    design = fit.design
    post = fit.posterior
    n = post.sizes["chain"] * post.sizes["draw"]
    if signal == design.outcome_name:
        sel = (design.outcome_ally == ally) & (design.outcome_t == t)
        if not sel.any():
            return np.zeros(n), 0
        return outcome_loglik(fit, sel).sum(axis=1), int(sel.sum())
    if signal not in design.indicators:
        raise InputError("not an indicator or the outcome of this fit", column="signal",
                         value=signal)
    k = design.indicators.index(signal)
    fam = design.families_of[k]
    block = design.families[fam]
    sel = (block.ally == ally) & (block.signal == k) & (block.start <= t) & (block.stop > t)
    if not sel.any():
        return np.zeros(n), 0
    start, stop, year, y = block.start[sel], block.stop[sel], block.year[sel], block.value[sel]
    theta = flat_draws(post, "credibility")
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(theta[:, ally, :], axis=1)], axis=1)
    lat = (cum[:, stop] - cum[:, start]) / (stop - start)[None, :]
    alpha = (flat_draws(post, "intercept")[:, ally, k] if "intercept" in post
             else flat_draws(post, "intercept_mu")[:, k])
    lam = (flat_draws(post, "loading_ally")[:, ally, k] if "loading_ally" in post
           else flat_draws(post, "loading")[:, k])
    eta = alpha[:, None] + lam[:, None] * lat
    if "intercept_drift" in post and signal in design.drift_signals:
        j = design.drift_signals.index(signal)
        eta = eta + flat_draws(post, "intercept_drift")[:, ally, j, :][:, year]
    a_nb = sigma = None
    if fam == "negbin":
        j = list(post["negbin_signal"].values).index(signal)
        a_nb = 1.0 / flat_draws(post, "overdispersion")[:, j][:, None] ** 2
    elif fam == "normal":
        j = list(post["normal_signal"].values).index(signal)
        sigma = flat_draws(post, "noise")[:, ally, j][:, None]
    ll = count_loglik(fam, y[None, :], eta, a_nb, sigma)
    return ll.sum(axis=1), int(sel.sum())


def _left_out(change: np.ndarray, loglik: np.ndarray) -> tuple[float, float, np.ndarray]:
    """How much observations with per-draw log-likelihood ``loglik`` moved the posterior mean
    of ``change`` (one value per draw), by PSIS: ``mean(change) - Σ w·change`` with ``w`` the
    weights that leave them out.

    Returns
    -------
    (contribution, pareto_k, influence)
        ``influence``: each draw's influence on ``contribution`` as a mean over draws, the
        delta method's for the self-normalised weights (its :func:`_mcse` is the
        contribution's Monte Carlo standard error).

    Examples
    --------
    Draws of ``x | y`` for ``x ~ N(0, 1)`` and ``y = 2 ~ N(x, 2²)`` (the posterior is
    N(0.4, 0.8)): the observation moved the mean from 0 to 0.4.

    >>> import numpy as np
    >>> x = 0.4 + np.sqrt(0.8) * np.random.default_rng(0).standard_normal(4000)
    >>> moved, k, influence = _left_out(x, -0.5 * ((2.0 - x) / 2.0) ** 2)
    >>> mcse = _mcse(influence, chains=1)
    >>> bool(abs(moved - 0.4) < 3 * mcse), bool(k < 0.7), round(mcse, 2)
    (True, True, 0.02)
    """
    change = np.asarray(change, float)
    w, k = psis_weights(loglik)
    without = float(w @ change)
    influence = (change - change.mean()) - change.size * w * (change - without)
    return float(change.mean()) - without, k, influence


def _mcse(influence: np.ndarray, chains: int) -> float:
    """Monte Carlo standard error of an estimate whose per-draw influence (as a mean over
    draws) is ``influence``, flattened chain by chain: 0 where every draw has the same."""
    from arviz_stats.base import array_stats

    z = np.asarray(influence, float).reshape(chains, -1)
    if np.ptp(z) <= 1e-12 * max(1.0, float(np.abs(z).max())):
        return 0.0
    return float(array_stats.mcse(z, method="mean"))


def attribution(fit: "Fit", month: "str | pd.Period | None" = None) -> pd.DataFrame:
    """Decompose each ally's change in posterior mean credibility in ``month``.

    Parameters
    ----------
    fit
        A fitted model.
    month
        ``YYYY-MM`` (default: the fit's last month); the change is from the month before.

    Returns
    -------
    pandas.DataFrame
        One row per ally × (driver, indicator, outcome, ``other``): ``ally, month, change,
        signal, role, channel, contribution, n_obs, pareto_k, mcse``. Per ally,
        ``contribution`` sums to ``change``. ``pareto_k`` is NaN for state and other rows,
        and for a signal with no observation in the month (``n_obs`` 0). ``mcse`` is each
        contribution's Monte Carlo standard error (0 for a signal with no observation in the
        month; NaN where the draws are too few to estimate it).

    Examples
    --------
    With a fit of a simulated panel (``forecast.fit(sim.panel)``; here ``oracle_fit``, whose
    draws are the simulation's truth, so that the example needs no sampling):

    >>> import forecast
    >>> sim = forecast.simulate(n_allies=3, n_months=36, seed=1)
    >>> table = attribution(forecast.oracle_fit(sim, n_draws=50))
    >>> table.columns.tolist()[:7]
    ['ally', 'month', 'change', 'signal', 'role', 'channel', 'contribution']
    >>> by_ally = table.groupby("ally")
    >>> bool((by_ally["contribution"].sum() - by_ally["change"].first()).abs().max() < 1e-9)
    True
    """
    from forecast.results import check_fit

    check_fit(fit)
    design = fit.design
    periods = list(design.periods)
    given = month
    month = periods[-1] if month is None else month_text(month)
    if month is None:
        raise InputError(not_a_month("month", given,
                                     "expected YYYY-MM (text) or a monthly pd.Period"),
                         parameter="month", value=given)
    if month not in periods:
        raise InputError(f"month not in the fit ({periods[0]} to {periods[-1]})",
                         parameter="month", value=given)
    t = periods.index(month)
    if t < 1:
        raise InputError("attribution needs a previous month in the fit", parameter="month",
                         value=month)
    post = fit.posterior
    chains = post.sizes["chain"]
    theta = flat_draws(post, "credibility")
    beta = flat_draws(post, "driver_effect_ally") if design.drivers and \
        "driver_effect_ally" in post else None
    catalog = fit.panel.catalog
    data_signals = [*design.indicators, design.outcome_name]
    rows: list[tuple] = []
    for a, ally in enumerate(design.allies):
        x = theta[:, a, t] - theta[:, a, t - 1]
        change = float(x.mean())
        mine: list[tuple] = []
        # each row's per-draw influence on its contribution; the remainder's is what is left
        rest = x - change
        for j, d in enumerate(design.drivers):
            push = beta[:, a, j] * design.driver_values[a, j, t - 1] if beta is not None \
                else np.zeros_like(x)
            # an unobserved month pushes with the value the fit filled in (the ally's mean)
            seen = 0 if design.driver_imputed[a, j, t - 1] else 1
            mine.append((d, "driver", "state", float(push.mean()), seen, np.nan,
                         _mcse(push, chains)))
            rest = rest - (push - push.mean())
        for s in data_signals:
            ll, n_obs = removal_loglik(fit, a, s, t)
            if n_obs == 0:
                mine.append((s, catalog.signals[s].role, "data", 0.0, 0, np.nan, 0.0))
                continue
            moved, k, influence = _left_out(x, ll)
            mine.append((s, catalog.signals[s].role, "data", moved, n_obs, k,
                         _mcse(influence, chains)))
            rest = rest - influence
        other = change - sum(r[3] for r in mine)
        mine.append((RESERVED_SIGNAL, "other", "other", other, 0, np.nan, _mcse(rest, chains)))
        rows.extend((ally, change, *r) for r in mine)
    frame = pd.DataFrame(rows, columns=["ally", "change", "signal", "role", "channel",
                                        "contribution", "n_obs", "pareto_k", "mcse"])
    frame.insert(1, "month", month)
    return frame
