"""Attribution of the month's change in credibility: structure, and agreement of the fast
PSIS method with an exact refit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import forecast
from forecast.attribution import attribution, psis_weights, removal_loglik
from forecast.forecasting import oracle_fit
from forecast.panel import Panel

# Agreement required between the PSIS estimate of a signal's contribution and an exact refit
# without the signal's newest observation, in units of the latent (unit stationary sd). Both
# sides carry Monte Carlo error (two fits of 2 × 500 draws: about 0.03 each on a posterior-mean
# difference), so 0.1 leaves room for that and still fails an estimate that is off by a third.
TOLERANCE = 0.1


@pytest.fixture(scope="module")
def oracle():
    return oracle_fit(forecast.simulate(n_allies=3, n_months=36, seed=41), n_draws=100)


def test_rows_sum_to_change_and_columns(oracle):
    tab = attribution(oracle)
    assert list(tab.columns) == ["ally", "month", "change", "signal", "role", "channel",
                                 "contribution", "n_obs", "pareto_k", "mcse"]
    assert (tab["month"] == oracle.design.periods[-1]).all()
    sums = tab.groupby("ally")["contribution"].sum()
    change = tab.groupby("ally")["change"].first()
    assert np.allclose(sums, change)
    signals = set(tab["signal"])
    assert {"consultation_lapse", "exercise_tempo", "hedging", "other"} <= signals
    assert set(tab.loc[tab["signal"] == "consultation_lapse", "channel"]) == {"state"}
    # the oracle's draws are identical: no observation can move its posterior
    data = tab[tab["channel"] == "data"]
    assert np.allclose(data["contribution"], 0.0)
    # nor can more of them: no Monte Carlo error anywhere
    assert (tab["mcse"] == 0.0).all()


@pytest.mark.parametrize("update", [{}, {"outcome_drift": False}])
def test_removal_loglik_is_the_models_own(drifting_model_at, update):
    """``removal_loglik`` writes each observation's log-likelihood out again, from the draws,
    for PSIS: checked against the model's own pointwise log-likelihood at draws that differ
    (an oracle's are all alike), for every family, a quarter's and a year's average, a
    drifting signal and the outcome (last month's latent, and the hedging level's walk where
    the spec has one): a slip there moved attribution without failing any other test."""
    from forecast.pointwise import outcome_loglik
    from forecast.results import Fit

    sim, spec, design, model, names, points = drifting_model_at(seed=list(range(5)),
                                                                update=update)
    observed = [f"{fam}_indicators" for fam in design.families] + ["outcome"]
    dims = {n: model.named_vars_to_dims.get(n, ()) for n in names}
    post = xr.Dataset({n: (("chain", "draw", *dims[n]), np.stack([p[i] for p in points])[None])
                       for i, n in enumerate(names)},
                      coords={k: list(v) for k, v in model.coords.items()})
    fit = Fit(idata=xr.DataTree.from_dict({"posterior": post}), panel=sim.panel, spec=spec,
              design=design)
    pointwise = dict(zip(observed, zip(*(p[len(names):] for p in points))))
    t = design.n_periods - 2  # a month inside the last quarter and the last year
    checked = set()
    for a in range(len(design.allies)):
        for k, signal in enumerate(design.indicators):
            fam = design.families_of[k]
            b = design.families[fam]
            sel = (b.ally == a) & (b.signal == k) & (b.start <= t) & (t < b.stop)
            got, n_obs = removal_loglik(fit, a, signal, t)
            assert n_obs == sel.sum()
            want = np.array(pointwise[f"{fam}_indicators"])[:, sel].sum(axis=1)
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=signal)
            if sel.any():
                checked.add((signal, bool((b.stop[sel] - b.start[sel] > 1).any())))
        sel = (design.outcome_ally == a) & (design.outcome_t == t)
        got, n_obs = removal_loglik(fit, a, design.outcome_name, t)
        assert n_obs == sel.sum() == 1
        np.testing.assert_allclose(got, np.array(pointwise["outcome"])[:, sel].sum(axis=1),
                                   rtol=1e-9, atol=1e-9)
    # every observed count at once, as PSIS-LOO reads them (forecast.comparison)
    np.testing.assert_allclose(outcome_loglik(fit), np.array(pointwise["outcome"]), rtol=1e-9,
                               atol=1e-9)
    # each family, the drifting quarterly count and the annual series among what was compared
    assert {("exercise_tempo", False), ("joint_statement", False), ("meetings", True),
            ("defense_spending", True)} <= checked, checked


def test_driver_contribution_is_effect_times_last_month(oracle):
    tab = attribution(oracle).set_index(["ally", "signal"])
    d = oracle.design
    beta = oracle.posterior["driver_effect_ally"].mean(("chain", "draw")).values
    for a, ally in enumerate(d.allies):
        expected = beta[a, 0] * d.driver_values[a, 0, -2]
        assert np.isclose(tab.loc[(ally, "consultation_lapse"), "contribution"], expected)


def test_a_driver_row_counts_last_months_value_only_where_it_was_observed():
    """The late ally of a ragged panel has no driver value before it enters: its driver row
    still pushes with the value the fit filled in, but says 0 observations (it said 1)."""
    sim = forecast.simulate(n_allies=3, n_months=60, seed=2, ragged=True)
    fit = oracle_fit(sim, end=str(sim.panel.months[20]), n_draws=20)
    imputed = fit.design.driver_imputed[:, 0, -2]
    assert imputed.tolist() == [False, False, True]
    rows = attribution(fit).set_index("ally")
    rows = rows[rows["signal"] == "consultation_lapse"]
    assert rows["n_obs"].tolist() == [1, 1, 0]


def test_month_argument_and_errors(oracle):
    month = oracle.design.periods[-5]
    assert (attribution(oracle, month=month)["month"] == month).all()
    with pytest.raises(forecast.InputError, match="previous month"):
        attribution(oracle, month=oracle.design.periods[0])
    with pytest.raises(forecast.InputError, match="not in the fit"):
        attribution(oracle, month="1999-01")
    with pytest.raises(forecast.InputError, match="malformed month"):  # was the last month
        attribution(oracle, month="")
    with pytest.raises(forecast.InputError, match="month out of range: year 9999 is outside "
                       "1000 to 2999"):  # a month in form, not "malformed"
        attribution(oracle, month="9999-01")
    # a pd.Period, or text with spaces, is the month it names (both were "not in the fit")
    import pandas as pd

    pd.testing.assert_frame_equal(attribution(oracle, month=pd.Period(month, "M")),
                                  attribution(oracle, month=f" {month}"))
    assert (attribution(oracle, month=pd.Period(month, "M"))["month"] == month).all()
    with pytest.raises(forecast.InputError, match="malformed month"):
        attribution(oracle, month=month.replace("-", "/"))


# the oracle's draws are all the truth, so ArviZ's Monte Carlo error of an sd divides 0 by 0
@pytest.mark.filterwarnings("ignore:invalid value encountered in scalar divide:RuntimeWarning")
def test_summary_names_a_quantity_the_posterior_lacks(oracle):
    """``summary(var_names=["nope"])`` raised ArviZ's KeyError."""
    table = oracle.summary(var_names="persistence")  # one name, not its letters
    assert len(table) == oracle.panel.n_allies and "r_hat" in table.columns
    # the 90% interval credibility() and every table of the package give, not ArviZ's 89%
    assert {"eti90_lb", "eti90_ub"} <= set(table.columns), table.columns.tolist()
    rest = oracle.summary(var_names=["~persistence"]).index  # ArviZ's "all but"
    assert len(rest) and not any(i.startswith("persistence[") for i in rest)
    with pytest.raises(forecast.InputError, match="did you mean 'persistence'") as err:
        oracle.summary(var_names=["persistance"])
    assert err.value.parameter == "var_names"


def test_psis_weights_recover_a_known_reweighting():
    """Removing y ~ N(x, 1) from draws of the posterior x | y recovers the prior's mean."""
    rng = np.random.default_rng(0)
    y = 1.0  # prior x ~ N(0, 1), one observation y: posterior N(y/2, 1/2)
    x = y / 2 + np.sqrt(0.5) * rng.standard_normal(4000)
    w, k = psis_weights(-0.5 * (y - x) ** 2)
    assert k < 0.7
    assert abs(float(w @ x)) < 0.05


def test_too_few_draws_for_psis_give_plain_weights_marked_unreliable():
    """A run of fewer than 25 draws in all (``--chains 2 --draws 10``) sampled, then died in
    the attribution with arviz's "n_draws_tail must be at least 5"; with 25 to 29, k̂ was NaN,
    which the report read as a reliable reweighting."""
    rng = np.random.default_rng(1)
    ll = rng.normal(size=24)
    w, k = psis_weights(ll)
    assert k == np.inf
    np.testing.assert_allclose(w, np.exp(-ll) / np.exp(-ll).sum())
    assert psis_weights(rng.normal(size=29))[1] == np.inf
    assert np.isfinite(psis_weights(rng.normal(size=30))[1])
    sim = forecast.simulate(n_allies=3, n_months=36, seed=1)
    fit = oracle_fit(sim, n_draws=10)  # the truth in every draw: made to differ
    post = fit.idata["posterior"].to_dataset()
    post["credibility"] = post["credibility"] + 0.1 * rng.normal(size=post["credibility"].shape)
    fit = dataclasses.replace(fit, idata=xr.DataTree.from_dict({"posterior": post}))
    table = attribution(fit)
    data = table[(table["channel"] == "data") & (table["n_obs"] > 0)]
    assert len(data) and (data["pareto_k"] == np.inf).all()
    assert np.allclose(table.groupby("ally")["contribution"].sum(),
                       table.groupby("ally")["change"].first())


def _ar1_draws(rho: float, chains: int, n: int, rng) -> np.ndarray:
    """``chains`` stationary AR(1) chains of ``n`` standard normal draws, autocorrelation
    ``rho`` (a sampler's chains whose effective size is ``(1 - rho) / (1 + rho)`` of ``n``)."""
    from scipy import signal

    e = rng.standard_normal((chains, n))
    e[:, 0] /= np.sqrt(1 - rho ** 2)  # start in the stationary distribution
    return signal.lfilter([np.sqrt(1 - rho ** 2)], [1, -rho], e, axis=1)


# the Monte Carlo standard error must match the spread of the estimate over repeated sets of
# draws to within this factor: 200 repeats give that spread to about ±5% (one sd), and the
# error's own estimate from each set of 4 × 1000 autocorrelated draws is biased low by a few %
MCSE_FACTOR = 1.25


@pytest.mark.parametrize("sigma, y, rho, heavy", [
    (2.0, 2.0, 0.0, False), (2.0, 2.0, 0.8, False),
    # a more informative observation: weights whose k̂ is above 0.5 (their variance is
    # infinite), where the error understates the spread by about a third (decision 0029)
    (1.15, 1.5, 0.8, True)])
def test_a_left_out_contribution_says_its_monte_carlo_error(sigma, y, rho, heavy):
    """A contribution is a mean over draws: as many draws again would move it by about its
    ``mcse``. Known truth: draws of ``x | y`` for ``x ~ N(0, 1)`` and one ``y ~ N(x, sigma²)``;
    leaving ``y`` out moves the mean by the posterior's mean. Over 200 sets of draws the
    estimates spread as their median ``mcse`` says, with draws as autocorrelated as a
    sampler's (the error of independent draws, ``sd / √n``, would be half the spread at
    ``rho`` 0.8), or where k̂ is above 0.5 as the error times
    :data:`forecast.report.HEAVY_TAIL_WIDENING` says, by which the report widens it there."""
    from forecast.attribution import _left_out, _mcse
    from forecast.report import HEAVY_TAIL_WIDENING

    var = 1 / (1 + 1 / sigma ** 2)
    mean = var * y / sigma ** 2
    rng = np.random.default_rng(7)
    moved, errors, ks = [], [], []
    for _ in range(200):
        x = (mean + np.sqrt(var) * _ar1_draws(rho, 4, 1000, rng)).ravel()
        m, k, influence = _left_out(x, -0.5 * ((y - x) / sigma) ** 2)
        moved.append(m)
        errors.append(_mcse(influence, chains=4))
        ks.append(k)
    assert (0.5 < np.median(ks) < 0.7) if heavy else np.median(ks) < 0.4
    spread = np.std(moved)
    assert abs(np.mean(moved) - mean) < 3 * spread / np.sqrt(len(moved)) + 0.01 + 0.02 * heavy
    widened = np.median(errors) * (HEAVY_TAIL_WIDENING if heavy else 1.0)
    assert 1 / MCSE_FACTOR < spread / widened < MCSE_FACTOR


def test_each_row_says_its_monte_carlo_error():
    """With draws that differ (2 chains), every row has a finite error: a driver's is the
    error of ``E[β]`` times last month's value; a signal with nothing to leave out has none; a
    left-out signal's is that of its delta-method influence; the remainder's is that of what
    the other rows' influences leave of the change's (each worked out here by hand, each
    chain's draws apart)."""
    from arviz_stats.base import array_stats

    from forecast.pareto import psis_weights

    rng = np.random.default_rng(3)
    fit = oracle_fit(forecast.simulate(n_allies=3, n_months=36, seed=41), n_draws=200)
    post = xr.concat([fit.idata["posterior"].to_dataset()] * 2, dim="chain")
    for name in ("credibility", "driver_effect_ally"):
        post[name] = post[name] + 0.1 * rng.normal(size=post[name].shape)
    fit = dataclasses.replace(fit, idata=xr.DataTree.from_dict({"posterior": post}))
    tab = attribution(fit)
    assert np.isfinite(tab["mcse"]).all() and (tab["mcse"] >= 0).all()
    data = tab[tab["channel"] == "data"]
    assert (data.loc[data["n_obs"] == 0, "mcse"] == 0).all()
    assert (data.loc[data["n_obs"] > 0, "mcse"] > 0).all()

    def mcse(per_draw):  # (chain, draw)
        return float(array_stats.mcse(per_draw, method="mean"))

    design, T = fit.design, fit.design.n_periods - 1
    theta = post["credibility"].transpose("chain", "draw", "ally", "period").values
    beta = post["driver_effect_ally"].transpose("chain", "draw", ...).values
    checked = 0
    for a, ally in enumerate(design.allies):
        mine = tab[tab["ally"] == ally].set_index("signal")["mcse"]
        x = theta[:, :, a, T] - theta[:, :, a, T - 1]
        rest = x - x.mean()
        push = beta[:, :, a, 0] * design.driver_values[a, 0, T - 1]
        assert np.isclose(mine["consultation_lapse"], mcse(push))
        rest = rest - (push - push.mean())
        for s in [*design.indicators, design.outcome_name]:
            ll, n_obs = removal_loglik(fit, a, s, T)
            if not n_obs:
                continue
            w = psis_weights(ll)[0].reshape(x.shape)
            influence = (x - x.mean()) - x.size * w * (x - (w * x).sum())
            assert np.isclose(mine[s], mcse(influence))
            rest = rest - influence
            checked += 1
        assert np.isclose(mine["other"], mcse(rest)) and mine["other"] > 0
    assert checked >= 3


def _drop(panel: Panel, ally: str, signal: str, period: str) -> Panel:
    frame = panel.to_frame()
    keep = ~((frame["ally"] == ally) & (frame["signal"] == signal) & (frame["period"] == period))
    assert (~keep).sum() == 1
    return Panel.from_frame(frame[keep], panel.catalog, start=str(panel.months[0]),
                            end=str(panel.months[-1]))


@pytest.mark.slow
def test_psis_agrees_with_exact_refit():
    """Issue 5 acceptance: the fast method (PSIS reweighting) and an exact refit without the
    signal's newest observation agree within TOLERANCE. The observation checked is the one the
    fast method finds most influential among those it can reweight reliably (Pareto k < 0.7).

    Both fits at the default 4 x 1000 draws. At 500 x 2 the check passed or failed by chance:
    the exact refit's own Monte Carlo error and PSIS's with 1 000 draws put the difference for
    exercise_tempo, A02, at 0.063, 0.13 and 0.105 over seeds 43-45, and at 0.18, 0.14 and 0.08
    with the intercept offsets of docs/decisions/0035 (the same posterior). At 4 x 1000
    (2026-12-06): PSIS -0.118 vs exact -0.119 (exercise_tempo, A01); with the non-centred
    offsets 0.160 vs 0.122 (A00)."""
    params = forecast.SimulationParameters(count_intercept=1.5)  # informative counts
    sim = forecast.simulate(n_allies=3, n_months=36, missing=0.0, params=params, seed=43)
    kw = dict(draws=1000, tune=1000, chains=4, seed=43, warn=False)
    full = forecast.fit(sim.panel, **kw)
    last = full.design.periods[-1]
    tab = attribution(full)
    data = tab[(tab["channel"] == "data") & (tab["n_obs"] == 1) & (tab["pareto_k"] < 0.7)
               & (tab["signal"] != "hedging")]
    row = data.loc[data["contribution"].abs().idxmax()]
    refit = forecast.fit(_drop(sim.panel, row["ally"], row["signal"], last), **kw)

    def change(f):
        c = f.posterior["credibility"].sel(ally=row["ally"]).mean(("chain", "draw")).values
        return c[-1] - c[-2]

    exact = change(full) - change(refit)
    print(tab.round(3).to_string())
    print(f"{row['signal']} {row['ally']}: PSIS {row['contribution']:.3f}, exact {exact:.3f}, "
          f"k {row['pareto_k']:.2f}")
    assert abs(row["contribution"] - exact) <= TOLERANCE
    # teeth: the observation matters, and the fast method gets its direction right (an
    # estimate of 0 would pass the tolerance alone)
    assert abs(exact) > TOLERANCE / 2
    assert np.sign(row["contribution"]) == np.sign(exact)
    ll, n = removal_loglik(full, 0, "exercise_tempo", full.design.n_periods - 1)
    assert n == 1 and ll.shape == (4000,) and np.isfinite(ll).all()
