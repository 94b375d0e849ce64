"""Leave-one-out checks of fits by PSIS: which spec predicts the hedging counts best
(:func:`compare_fits`), and whether a fit's predictive distributions are calibrated
(:func:`loo_pit`, :func:`loo_p_any`).

Leave-one-out predicts each month's count from every other month, later ones included: it
measures how well a spec explains the panel, not how well it forecasts from an origin (a
backtest measures that). Both are needed to choose a spec; this module gives the first.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from forecast.diagnostics import ConvergenceWarning
from forecast.errors import PACKAGE_FRAMES, InputError, check_seed, expected_one_of
from forecast.pointwise import OUTCOME_QUANTITIES, outcome_loglik, outcome_replicates
from forecast.results import Fit, check_fit

__all__ = ["compare_fits", "log_likelihood", "loo_data", "loo_pit", "loo_p_any"]


def compare_fits(fits: Mapping[str, Fit], *, reference: str | None = None) -> pd.DataFrame:
    """Rank fits by the expected log predictive density of the same hedging counts.

    Each fit's pointwise log-likelihood (:func:`log_likelihood`) is computed and compared
    by Pareto-smoothed importance-sampling leave-one-out cross-validation (ArviZ's ``loo``
    and ``compare``). Where a count's Pareto k̂ says its estimate is unreliable, one warning
    names each fit concerned and how many of its counts; a
    :class:`~forecast.diagnostics.ConvergenceWarning` names each fit that did not converge.

    Parameters
    ----------
    fits
        Name → :class:`~forecast.results.Fit`, at least two, all of the same hedging counts,
        each by MCMC (an ADVI preview's draws are not the posterior's): one panel fitted with
        several specs (say ``default``, ``static`` and ``unpooled``), or with and without a
        signal (``panel.without(name)``: does it help explain hedging?).
    reference
        The name the differences are taken against; default the best fit.

    Returns
    -------
    pandas.DataFrame
        One row per fit, best first, raw (not rounded): ``rank``; ``elpd``, the sum over the
        counts of each one's log predictive density when it is left out, and its standard
        error ``se``; ``elpd_diff`` against the reference and its standard error ``dse``;
        ``p_worse``, the probability that the fit predicts worse than the best one, or,
        where ``reference`` is given (even the best fit), ``p_better``, the probability
        that it predicts better than the reference; ``diag_diff``, ArviZ's note
        where a difference is too small (under 4) or too uncertain to read; ``diag_elpd``,
        its note of counts with a high k̂; ``p``, the effective number of parameters;
        ``weight``, the stacking weight.

    Notes
    -----
    For a spec with ``intercept_reference = "average"`` the hedging intercepts are set at
    each ally's average latent over its observed months, which leaving one out would move
    (docs/decisions/0009): its leave-one-out is then approximate beyond PSIS's own error.
    The default (``"zero"``) and ``"panel"`` are exact.

    Examples
    --------
    >>> import forecast
    >>> sim = forecast.simulate(n_allies=2, n_months=24, seed=1)
    >>> fits = {s: forecast.fit(sim.panel, spec=s, draws=50, tune=100, chains=2, seed=1,
    ...                         warn=False) for s in ("default", "static")}  # doctest: +SKIP
    >>> forecast.compare_fits(fits)[["rank", "elpd_diff", "dse"]]  # doctest: +SKIP
    """
    import arviz as az

    if not isinstance(fits, Mapping):
        raise InputError("expected a mapping of names to fits, e.g. {'default': fit_a, "
                         "'static': fit_b}", parameter="fits", value=type(fits).__name__)
    if len(fits) < 2:
        raise InputError("a comparison needs at least two fits", parameter="fits",
                         value=list(fits))
    names = list(fits)
    for name in names:
        if not isinstance(name, str):
            raise InputError("a fit's name must be a string", parameter="fits", value=name)
    if reference is not None and (not isinstance(reference, str) or reference not in names):
        raise InputError("not a name of the fits compared"
                         + expected_one_of(str(reference), names),
                         parameter="reference", value=reference)
    first = None
    for name, fit in fits.items():
        check_fit(fit, f"fits[{name!r}]")
        _refuse_approximate(fit, f"fits[{name!r}]", "fits", name)
        counts = _counts(fit)
        if first is None:
            first = (name, counts)
        elif not counts.equals(first[1]):
            raise InputError(f"fits[{name!r}] is of other hedging counts than "
                             f"fits[{first[0]!r}] ({_first_difference(first[1], counts)}): "
                             "leave-one-out compares fits of the same observations",
                             parameter="fits", value=name)
    # leave-one-out first: a fit it cannot score is refused before any warning of the others
    loos = {name: _psis(loo_data(fit)) for name, fit in fits.items()}
    unsettled = {name: fit.diagnostics().failures for name, fit in fits.items()
                 if not fit.diagnostics().converged}
    if unsettled:
        # a check's own text may hold commas: checks apart by '; ', fits by ' | '
        said = " | ".join(f"{name}: {'; '.join(failed)}" for name, failed in unsettled.items())
        warnings.warn(f"compared fits that did not converge ({said}): their elpd is of draws "
                      "that may not follow the posterior, and the ranking may change with "
                      "another seed or more draws", ConvergenceWarning,
                      skip_file_prefixes=PACKAGE_FRAMES)
    _warn_unreliable({name: loo for name, loo in loos.items()},
                     "Their fits' elpd is more uncertain than its se says; refitting without "
                     "those counts would check it")
    return az.compare(loos, reference=reference, round_to="none")


def loo_pit(fit: Fit, seed: int | None = None) -> pd.DataFrame:
    """Leave-one-out probability integral transform of each observed hedging count.

    For each count, the probability that a count drawn from the fit's predictive with that
    count left out falls below it (ties split at random, the counts being discrete):
    ``arviz.loo_pit`` on the posterior predictive replicates
    (:func:`forecast.pointwise.outcome_replicates`), reweighted by PSIS. Where the model's
    predictive distributions are calibrated the values are uniform on [0, 1]; too many near
    0 and 1 say the predictive is too narrow, a hump in the middle too wide. A check of how
    the fit explains each month given the others; a backtest's PIT checks the forecasts.

    Parameters
    ----------
    fit
        A fit by MCMC (an ADVI preview's draws are not the posterior's).
    seed
        For the replicates and the ties.

    Returns
    -------
    pandas.DataFrame
        ``ally, period, count, pit, pareto_k``, one row per observed count; a count whose
        ``pareto_k`` is above ArviZ's threshold (0.7 from about 2 200 draws, lower with
        fewer) has a value PSIS cannot vouch for, and a warning says how many there are.

    Notes
    -----
    As :func:`compare_fits` notes, with ``intercept_reference = "average"`` leaving a count
    out would move the hedging intercepts, which PSIS does not: approximate beyond its error.

    Examples
    --------
    >>> import forecast
    >>> sim = forecast.simulate(n_allies=2, n_months=24, seed=1)
    >>> fit = forecast.fit(sim.panel, draws=100, tune=200, chains=2, seed=1,
    ...                    warn=False)  # doctest: +SKIP
    >>> loo_pit(fit, seed=1).head()  # doctest: +SKIP
    """
    import arviz as az

    check_fit(fit)
    check_seed(seed)
    _refuse_approximate(fit, "the fit", "fit", fit.sampler)
    tree = loo_data(fit)
    loo = _psis(tree)
    _warn_unreliable({"the fit": loo}, "The pareto_k column marks them")
    rng = np.random.default_rng(seed)
    ll = tree["log_likelihood"].to_dataset()
    replicates = outcome_replicates(fit, rng).reshape(ll["outcome"].shape)
    tree["posterior_predictive"] = xr.DataTree(xr.Dataset(
        {"outcome": (("chain", "draw", "observation"), replicates)}, coords=ll.coords))
    counts = np.asarray(fit.design.outcome_value, dtype=float)
    tree["observed_data"] = xr.DataTree(xr.Dataset({"outcome": ("observation", counts)}))
    pit = az.loo_pit(tree, var_names="outcome", random_state=rng,
                     log_weights=xr.Dataset({"outcome": loo.log_weights}),
                     pareto_k=xr.Dataset({"outcome": loo.pareto_k}))
    values = np.asarray(pit["outcome"] if isinstance(pit, (xr.Dataset, xr.DataTree)) else pit)
    return pd.DataFrame({"ally": ll["ally"].values, "period": ll["period"].values,
                         "count": counts, "pit": values.ravel(),
                         "pareto_k": np.asarray(loo.pareto_k)})


def loo_p_any(fit: Fit) -> pd.DataFrame:
    """Each month's leave-one-out probability of at least one hedging act, beside what
    happened: the reliability of the headline ``p_any`` within the panel.

    For each observed count, one minus the probability of none, averaged over the draws with
    the PSIS weights that leave that count out. Grouped by predicted probability, the share
    of months with an act should match the mean prediction (a reliability table; the Brier
    score is the mean of ``(p_any - any)²``). With most counts 0 this is a sharper check
    than :func:`loo_pit`.

    Returns
    -------
    pandas.DataFrame
        ``ally, period, count, any, p_any, pareto_k``, one row per observed count (``pareto_k``
        as in :func:`loo_pit`; the same note on ``intercept_reference = "average"``).

    Examples
    --------
    >>> import forecast
    >>> fit = forecast.load_fit("runs/2026-03/posterior.nc")  # doctest: +SKIP
    >>> table = loo_p_any(fit)  # doctest: +SKIP
    >>> table.groupby(pd.cut(table["p_any"], [0, .05, .1, .2, 1]))[["p_any", "any"]].mean()  # doctest: +SKIP
    """
    import arviz as az

    check_fit(fit)
    _refuse_approximate(fit, "the fit", "fit", fit.sampler)
    loo = _psis(loo_data(fit))
    _warn_unreliable({"the fit": loo}, "The pareto_k column marks them")
    counts = _counts(fit)
    log_w = np.asarray(loo.log_weights.transpose("observation", "chain", "draw"))
    log_w = log_w.reshape(len(counts), -1)
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    p_none = np.exp(outcome_loglik(fit, at=np.zeros(1)))  # draws × counts
    counts["count"] = counts.pop("value")
    counts["any"] = (counts["count"] > 0).astype(float)
    counts["p_any"] = 1.0 - (w * p_none.T).sum(axis=1)
    counts["pareto_k"] = np.asarray(loo.pareto_k)
    return counts


def _psis(tree: xr.DataTree):
    """ArviZ's PSIS-LOO, pointwise, of a fit's :func:`loo_data`. Its own warning of a high
    Pareto k̂ names no fit and is held back: :func:`_warn_unreliable` says it."""
    import arviz as az

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto",
                                category=UserWarning)
        return az.loo(tree, pointwise=True)


def _warn_unreliable(loos: dict, consequence: str) -> None:
    """One warning naming each fit with counts whose Pareto k̂ is too high for PSIS, and how
    many."""
    found = []
    for name, loo in loos.items():
        k = np.asarray(loo.pareto_k)
        if (bad := int((k > loo.good_k).sum())) > 0:
            found.append(f"{name}: {bad} of {k.size} counts (k̂ > {loo.good_k:.2f})")
    if found:
        warnings.warn("PSIS-LOO is unreliable for some counts, whose left-out posterior the "
                      f"draws do not represent: {'; '.join(found)}. {consequence}",
                      UserWarning, skip_file_prefixes=PACKAGE_FRAMES)


def _refuse_approximate(fit: Fit, who: str, parameter: str, value: object) -> None:
    """An InputError for a fit whose draws are not a sampler's (ADVI, the oracle), or too
    few for PSIS to smooth their weights."""
    from forecast.pareto import MIN_PSIS_DRAWS
    from forecast.inference import MCMC_SAMPLERS

    if fit.sampler not in MCMC_SAMPLERS:
        raise InputError(f"{who} is a fit by {fit.sampler}: leave-one-out reweights "
                         f"posterior draws, which needs a sampler's ({', '.join(MCMC_SAMPLERS)})",
                         parameter=parameter, value=value)
    post = fit.idata["posterior"]
    if (n := post.sizes.get("chain", 1) * post.sizes.get("draw", 1)) < MIN_PSIS_DRAWS:
        raise InputError(f"{who} has {n} draws: leave-one-out smooths the largest weights of "
                         f"at least {MIN_PSIS_DRAWS}", parameter=parameter, value=value)


def loo_data(fit: Fit) -> xr.DataTree:
    """The fit's posterior and its :func:`log_likelihood` as one tree: what ``arviz.loo``
    and ``arviz.compare`` read, e.g. ``arviz.loo(loo_data(fit))``."""
    return xr.DataTree.from_dict({"posterior": fit.posterior,
                                  "log_likelihood": log_likelihood(fit)})


def log_likelihood(fit: Fit) -> xr.Dataset:
    """Log-likelihood of each observed hedging count under each posterior draw.

    What PSIS-LOO needs (:func:`compare_fits`; ``arviz.loo(loo_data(fit))``). Computed from
    the posterior's quantities (:func:`forecast.pointwise.outcome_loglik`), not stored with
    the fit: one value per draw and count (40 MB for the embedded data's 4 000 draws). Any
    fit's draws are read as they are, an ADVI preview's too, though those are not the
    posterior's (:func:`compare_fits` refuses them).

    Returns
    -------
    xarray.Dataset
        ``outcome`` with dims ``(chain, draw, observation)``; the coordinates ``ally`` and
        ``period`` name each observation's ally and month, ally by ally, month by month.

    Examples
    --------
    >>> import forecast
    >>> from forecast.forecasting import oracle_fit
    >>> fit = oracle_fit(forecast.simulate(n_allies=2, n_months=12, seed=1), n_draws=3)
    >>> ll = log_likelihood(fit)
    >>> ll["outcome"].dims, ll["period"].values[:2].tolist()
    (('chain', 'draw', 'observation'), ['2014-02', '2014-03'])
    """
    check_fit(fit)
    d, post = fit.design, fit.posterior
    needed = [*OUTCOME_QUANTITIES[d.outcome_family],
              *(["outcome_drift"] if fit.spec.outcome_drift else [])]
    lacking = [q for q in needed if q not in post.data_vars]
    if lacking:
        raise InputError(f"the fit's posterior lacks {', '.join(lacking)}, which the hedging "
                         "counts' likelihood is written from", parameter="fit",
                         value=fit.sampler)
    shape = (post.sizes["chain"], post.sizes["draw"], len(d.outcome_value))
    counts = _counts(fit)
    return xr.Dataset(
        {"outcome": (("chain", "draw", "observation"), outcome_loglik(fit).reshape(shape))},
        coords={"chain": post["chain"].values, "draw": post["draw"].values,
                "ally": ("observation", counts["ally"].to_numpy()),
                "period": ("observation", counts["period"].to_numpy())})


def _counts(fit: Fit) -> pd.DataFrame:
    """The observed hedging counts a fit's likelihood holds, one row per ally-month."""
    d = fit.design
    return pd.DataFrame({"ally": np.asarray(d.allies)[d.outcome_ally],
                         "period": np.asarray(d.periods)[d.outcome_t],
                         "value": np.asarray(d.outcome_value, dtype=float)})


def _first_difference(a: pd.DataFrame, b: pd.DataFrame) -> str:
    if len(a) != len(b):
        return f"{len(b)} observed counts against {len(a)}"
    row = int(np.flatnonzero((a != b).any(axis=1))[0])
    x, y = a.iloc[row], b.iloc[row]
    if (x["ally"], x["period"]) != (y["ally"], y["period"]):
        return f"observation {row + 1} is {y['ally']} {y['period']} against {x['ally']} " \
               f"{x['period']}"
    return f"{y['ally']} {y['period']} is {y['value']:g} against {x['value']:g}"
