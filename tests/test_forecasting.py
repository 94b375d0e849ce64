"""Forecasts: tables, exactness of the forward simulation, calibration on held-out months.

Fast tests use :func:`forecast.forecasting.oracle_fit` (a "posterior" equal to the simulation's
truth: no sampler, a second or so). The held-out calibration test fits the model for real and is
marked slow.
"""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.figure import Figure

import forecast
from forecast.forecasting import ForecastResult, forecast_fit, load_forecast, oracle_fit

HORIZON = 12
# A base rate of about e^2 ≈ 7 hedging acts a month: with the simulator's default (e^-1.2 ≈ 0.3)
# nearly every 80% and 90% central interval of a count is [0, 1] or [0, 2], so interval coverage
# measures the discreteness of small counts rather than calibration.
PARAMS = forecast.SimulationParameters(outcome_intercept_mu=2.0)


def _split(seed: int, n_allies: int = 8, n_months: int = 108):
    sim = forecast.simulate(n_allies=n_allies, n_months=n_months, params=PARAMS, seed=seed)
    end = str(sim.panel.months[n_months - HORIZON - 1])
    return sim, end


@pytest.fixture(scope="module")
def oracle_case():
    sim, end = _split(seed=101)
    fit = oracle_fit(sim, end=end, n_draws=400)
    return sim, fit, fit.forecast(horizon=HORIZON, seed=5)


# ------------------------------------------------------------------------------- tables
def test_hedging_table_shape_and_columns(oracle_case):
    sim, fit, fc = oracle_case
    tab = fc.hedging()
    assert list(tab.columns) == ["ally", "period", "horizon", "mean", "p_any", "q05", "q25",
                                 "q50", "q75", "q95", "mean_pareto_k"]
    assert len(tab) == sim.panel.n_allies * HORIZON
    first = tab[tab["ally"] == "A00"]
    assert first["horizon"].tolist() == list(range(1, HORIZON + 1))
    origin = pd.Period(fit.design.periods[-1], "M")
    assert first["period"].tolist() == [str(origin + h) for h in range(1, HORIZON + 1)]
    assert tab["p_any"].between(0, 1).all()
    q = tab[["q05", "q25", "q50", "q75", "q95"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all() and (q == np.round(q)).all()


def test_a_mean_that_a_few_draws_decide_is_marked(oracle_case):
    """The embedded data's forecast means at 6-12 months ahead rest on a few draws (one draw
    gave 45% of AUS's mean at 8 months; docs/decisions/0027): the table says so per row. Here
    one ally-month's conditional means get a tail with infinite variance, the others a light
    one, and only that row's ``mean_pareto_k`` is above 0.7."""
    _, _, fc = oracle_case
    rng = np.random.default_rng(11)
    rate = fc.draws["rate"]
    light = rng.gamma(4.0, 0.25, size=rate.shape)
    light[:, 1, 4] = 1.0 + rng.pareto(0.5, size=rate.sizes["sample"])
    heavy = dataclasses.replace(fc, draws=fc.draws.assign(rate=rate.copy(data=light)))
    ally = str(fc.draws["ally"].values[1])
    period = str(fc.draws["period"].values[4])
    # its tail (k 2) has no finite mean: the table's mean is its largest draw's, and says so
    with pytest.warns(UserWarning, match=rf"the mean of 1 forecast month \({ally} {period}; "
                      r"mean up to [0-9.e+]+\) is decided by its largest draws"):
        tab = heavy.hedging()
    assert tab.equals(heavy.hedging(warn=False))
    k = tab["mean_pareto_k"].to_numpy().reshape(rate.shape[1:])
    assert k[1, 4] > 0.7
    assert (np.delete(k.ravel(), np.ravel_multi_index((1, 4), k.shape)) < 0.5).all()
    np.testing.assert_allclose(tab["mean"].to_numpy().reshape(k.shape), light.mean(axis=0))
    # the fan chart's hedging mean stops at that month, and the panel says why (a user's
    # trial: the line stopped part-way with nothing on the figure to say so), not a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        panel = heavy.plot(allies=[ally]).axes[1]
    assert panel.get_title(loc="right") == \
        "mean not drawn in 1 month: a few draws decide it (tail k̂ > 0.7); read the bands"
    assert not fc.plot(allies=[ally]).axes[1].get_title(loc="right")
    [line] = [ln for ln in panel.get_lines() if ln.get_label() == "forecast mean"]
    drawn = np.asarray(line.get_ydata(), dtype=float)
    assert np.isnan(drawn[4]) and np.isfinite(np.delete(drawn, 4)).all()
    np.testing.assert_allclose(np.delete(drawn, 4), np.delete(light[:, 1].mean(axis=0), 4))


@pytest.mark.parametrize("n_draws", [2, 4, 25, 29])
def test_too_few_draws_for_a_tail_leave_the_mean_unjudged(n_draws):
    """Under 30 draws (``--chains 2 --draws 2``) the tail holds too few draws to fit: ArviZ
    raised IndexError under 5 and fitted nothing to the rest. k̂ is NaN and the mean kept."""
    from forecast.forecasting import reliable_mean

    sim = forecast.simulate(n_allies=2, n_months=24, seed=4)
    tab = oracle_fit(sim, n_draws=n_draws).forecast(horizon=3, seed=1).hedging()
    assert tab["mean_pareto_k"].isna().all()
    pd.testing.assert_series_equal(reliable_mean(tab), tab["mean"])


def test_a_count_quantile_is_zero_exactly_when_p_any_says_so(oracle_case):
    """Quantiles from the simulated share alone disagreed with p_any by the simulation's
    noise: P(no event) 0.751 beside a 75% quantile of 1 (the embedded data's run of 2026-03
    had 3 such rows in 48)."""
    _, _, fc = oracle_case
    ds = fc.draws.copy(deep=True)
    n = ds.sizes["sample"]
    zeros = int(0.749 * n)  # simulated: 74.9% zeros, exact P(0) 0.751
    counts = np.ones(ds["hedging"].shape, dtype=np.int64)
    counts[:zeros] = 0
    ds["hedging"] = (ds["hedging"].dims, counts)
    ds["p_zero"] = xr.full_like(ds["p_zero"], 0.751)
    tab = ForecastResult(ds).hedging()
    assert (tab["q75"] == 0).all() and (tab["q95"] == 1).all()
    ds["p_zero"] = xr.full_like(ds["p_zero"], 0.70)  # and the other way: P(0) below 0.75
    counts[: int(0.76 * n)] = 0
    ds["hedging"] = (ds["hedging"].dims, counts)
    assert (ForecastResult(ds).hedging()["q75"] == 1).all()
    # on a real forecast, every quantile is 0 exactly when 1 - p_any reaches its level
    tab = fc.hedging()
    for col, level in forecast.forecasting.QUANTILES.items():
        assert ((tab[col] == 0) == (1 - tab["p_any"] >= level)).all(), col


def test_p_zero_is_exact_for_a_nearly_poisson_count():
    """P(0) of a NegBin tends to the Poisson's as its overdispersion falls: within the
    limit's own second-order term, rate²/(2r), at r = 1e12, where a difference of logs was off
    by about 0.3% (the posterior of the overdispersion reaches 1e-5 on the embedded data)."""
    from scipy import stats

    from forecast.forecasting import outcome_zero_prob

    rate = np.array([[0.1, 1.0, 5.0]])
    od = np.array([1e-6])
    r = 1.0 / od[0] ** 2
    ratio = outcome_zero_prob(rate, od) / np.exp(-rate)
    np.testing.assert_array_less(np.abs(ratio - 1.0), rate**2 / r + 1e-15)
    # an overdispersed count: the NegBin's own P(0)
    od = np.array([0.5, 2.0])
    np.testing.assert_allclose(outcome_zero_prob(np.array([[1.0], [3.0]]), od)[:, 0],
                               stats.nbinom.pmf(0, 1 / od**2, (1 / od**2) / (1 / od**2
                                                                         + np.array([1.0, 3.0]))),
                               rtol=1e-12)


def test_cumulative_probability_grows_with_horizon(oracle_case):
    _, _, fc = oracle_case
    cum = fc.cumulative()
    assert list(cum.columns) == ["ally", "horizon", "p_any_within"]
    for _, g in cum.groupby("ally"):
        assert (np.diff(g["p_any_within"].to_numpy()) >= -1e-12).all()
    month = fc.hedging().set_index(["ally", "horizon"])["p_any"]
    joined = cum.set_index(["ally", "horizon"])["p_any_within"]
    assert (joined >= month - 1e-12).all()
    h1 = cum[cum["horizon"] == 1].set_index("ally")["p_any_within"]
    assert np.allclose(h1, month.xs(1, level="horizon"))


def test_credibility_table(oracle_case):
    _, _, fc = oracle_case
    tab = fc.credibility()
    assert list(tab.columns) == ["ally", "period", "horizon", "mean", "sd", "q05", "q25", "q50",
                                 "q75", "q95"]
    sd = tab.pivot(index="ally", columns="horizon", values="sd")
    # the state's uncertainty grows with the horizon (known origin state, AR(1) shocks)
    assert (sd[HORIZON] > sd[1]).all()


def test_first_month_rate_is_exact(oracle_case):
    """Hedging in month origin+1 responds to the (known) credibility at the origin."""
    sim, fit, fc = oracle_case
    t = fit.design.n_periods - 1
    truth = sim.truth
    expected = np.exp(truth["outcome_intercept"].values
                      + truth["outcome_loading"].values * truth["credibility"].values[:, t])
    got = fc.draws["rate"].isel(horizon=0).values
    assert np.allclose(got, expected[None, :])


def test_each_draws_predictive_distribution_is_in_the_forecast(oracle_case):
    """A log score or an exact PIT of an observed count needs each draw's NegBin: its mean
    ``rate`` and its overdispersion, the one ``p_zero`` and the counts were drawn with."""
    from scipy.stats import nbinom

    _, _, fc = oracle_case
    od = fc.draws["outcome_overdispersion"]
    assert od.dims == ("sample",)
    np.testing.assert_allclose(od.values, PARAMS.outcome_overdispersion)
    r = 1.0 / od.values[:, None, None] ** 2
    rate = fc.draws["rate"].values
    np.testing.assert_allclose(nbinom.pmf(0, r, r / (r + rate)), fc.draws["p_zero"].values,
                               rtol=1e-10)


def test_same_seed_same_draws_and_seed_recorded(oracle_case):
    _, fit, fc = oracle_case
    again = fit.forecast(horizon=HORIZON, seed=5)
    xr.testing.assert_identical(fc.draws, again.draws)
    other = fit.forecast(horizon=HORIZON, seed=6)
    assert not np.array_equal(other.draws["hedging"].values, fc.draws["hedging"].values)
    unseeded = fit.forecast(horizon=3)
    redo = fit.forecast(horizon=3, seed=int(unseeded.draws.attrs["seed"]))
    assert np.array_equal(unseeded.draws["hedging"].values, redo.draws["hedging"].values)
    # the seed as stored (text) is refused with the way to pass it: it said "must be an
    # integer" of a number
    stored = unseeded.draws.attrs["seed"]
    with pytest.raises(forecast.InputError, match=re.escape(f"not text: pass int({stored!r})")):
        fit.forecast(horizon=3, seed=stored)


def test_future_drivers_follow_recent_rate_not_zero(oracle_case):
    _, fit, fc = oracle_case
    assert fc.draws.attrs["driver_assumption"] == "recent"
    assert "last 12 observed months" in fc.draws.attrs["driver_assumption_text"]
    drv = fc.draws["drivers"].isel(driver=0, driver_period=slice(1, None)).values
    recent = np.nanmean(fit.design.driver_raw[:, 0, -12:], axis=1)
    sim_mean = drv.mean(axis=(0, 2))
    assert np.allclose(sim_mean, recent, atol=0.15)
    assert drv.sum() > 0
    # offset 0 is the observed origin month
    assert np.array_equal(fc.draws["drivers"].isel(driver=0, driver_period=0).values[0],
                          fit.design.driver_raw[:, 0, -1])
    held = fit.forecast(horizon=4, seed=1, driver_assumption="hold")
    h = held.draws["drivers"].isel(driver=0).values
    assert (h == fit.design.driver_raw[None, :, 0, -1, None]).all()


def test_uncertainty_decomposition(oracle_case):
    _, _, fc = oracle_case
    u = fc.uncertainty()
    assert list(u.columns) == ["ally", "period", "horizon", "variance", "parameter", "path",
                               "noise"]
    assert np.allclose(u[["parameter", "path", "noise"]].sum(axis=1), 1.0)
    # the oracle knows the parameters; month 1 depends only on the known origin state
    assert u["parameter"].max() < 0.02
    h1 = u[u["horizon"] == 1]
    assert h1["path"].max() < 1e-9 and np.allclose(h1["noise"], 1.0)
    late = u[u["horizon"] == HORIZON]
    assert (late["path"] > h1["path"].to_numpy()).all()
    # total variance roughly matches the simulated counts' variance
    sim_var = fc.draws["hedging"].var("sample").values.ravel()
    ratio = np.median(u["variance"].to_numpy() / sim_var)
    assert 0.7 < ratio < 1.4


def test_early_warning(oracle_case, tmp_path):
    _, fit, fc = oracle_case
    cum = fc.cumulative()
    p3 = cum[cum["horizon"] == 3].set_index("ally")["p_any_within"]
    thr = float(p3.median())
    ew = fc.early_warning(threshold=thr, within=3)
    assert list(ew.columns) == ["ally", "probability", "previous", "change"]
    assert set(ew["ally"]) == set(p3[p3 >= thr].index)
    assert (np.diff(ew["probability"].to_numpy()) <= 0).all()
    assert ew["change"].isna().all()
    prev = fit.forecast(horizon=6, seed=9)
    ew2 = fc.early_warning(threshold=thr, within=3, previous=prev)
    pp = prev.cumulative().query("horizon == 3").set_index("ally")["p_any_within"]
    assert np.allclose(ew2["change"], ew2["probability"] - ew2["ally"].map(pp))
    path = prev.save(tmp_path / "prev.nc")
    ew3 = fc.early_warning(threshold=thr, within=3, previous=path)
    assert np.allclose(ew3["change"], ew2["change"])
    ew4 = fc.early_warning(threshold=thr, within=3, previous=prev.cumulative())
    assert np.allclose(ew4["change"], ew2["change"])
    # a table: int-coded allies compare as text, a run's forecast.csv by path; duplicates,
    # a missing horizon and values that are no probabilities are refused (each had been a
    # pandas error, NaN, or a change of -4.35)
    table = prev.cumulative()
    table.to_csv(tmp_path / "forecast.csv", index=False)
    ew5 = fc.early_warning(threshold=thr, within=3, previous=tmp_path / "forecast.csv")
    assert np.allclose(ew5["change"], ew2["change"])
    with pytest.raises(forecast.InputError, match="cannot read the previous forecast's table"):
        fc.early_warning(threshold=thr, within=3, previous=tmp_path / "none.csv")
    # ally codes that a notebook's pandas read as numbers are compared as the text they were
    from forecast.forecasting import _previous_from_table

    codes = {a: str(i) for i, a in enumerate(fc.allies)}
    numbered = table.assign(ally=table["ally"].map(codes).astype(int))
    got = _previous_from_table(numbered, 3)
    at3 = table[table["horizon"] == 3]
    assert list(got.index) == [codes[a] for a in at3["ally"]]
    assert np.array_equal(got.to_numpy(), at3["p_any_within"].to_numpy())
    for broken, says in ((pd.concat([table, table]), "more than one row for an ally"),
                         (table[table["horizon"] != 3], "no row at horizon 3"),
                         (table.assign(p_any_within=5.0), "a probability from 0 to 1"),
                         (table.assign(p_any_within="x"), "a probability from 0 to 1")):
        with pytest.raises(forecast.InputError, match=says):
            fc.early_warning(threshold=thr, within=3, previous=broken)
    for threshold in (1.5, "0.5", None):  # a string raised TypeError from the comparison
        with pytest.raises(forecast.InputError, match="threshold"):
            fc.early_warning(threshold=threshold)
    # a previous forecast of other allies (another panel's) gave NaN everywhere, unsaid
    other = table.assign(ally=table["ally"].map(lambda a: f"X{a}"))
    with pytest.warns(UserWarning, match="the previous forecast holds none of this "
                      "forecast's allies"):
        quiet = fc.early_warning(threshold=0.0, within=3, previous=other)
    assert quiet["previous"].isna().all()
    one = other.assign(ally=other["ally"].where(other["ally"] != f"X{fc.allies[0]}",
                                                fc.allies[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one ally to compare: NaN for the others, as before
        some = fc.early_warning(threshold=0.0, within=3, previous=one)
    assert some["previous"].notna().sum() == 1


def test_a_notebooks_slips_are_input_errors(oracle_case, tmp_path):
    """Each of these was a TypeError or AttributeError from deep inside, or was accepted."""
    sim, fit, fc = oracle_case
    for call, says in (
            (lambda: forecast.load_spec(None), "expected a spec: a shipped name"),
            (lambda: forecast.fit(sim.panel, spec=None), "expected a spec: a shipped name"),
            (lambda: fit.summary([]), "no quantity named"),
            (lambda: forecast.simulate(n_allies=2, n_months=12, params={"intercep_tau": 1}),
             "did you mean 'intercept_tau'"),
            (lambda: forecast.simulate(n_allies=2, n_months=12, params=3),
             "expected SimulationParameters"),
            (lambda: oracle_fit(sim.panel), "expected a Simulation"),
            (lambda: oracle_fit(sim, n_draws=0), "n_draws"),
            (lambda: forecast.attribution(sim.panel), "expected a Fit"),
            # pandas read these as January 2020 and as 2020-01
            (lambda: forecast.simulate(n_allies=2, n_months=12, start="2020"), "malformed start"),
            (lambda: forecast.simulate(n_allies=2, n_months=12, start="2020-01-15"),
             "malformed start"),
            # these left AttributeErrors, TypeErrors and numpy's errors
            (lambda: forecast.forecast_fit(sim.panel), "parameter 'fit'.*expected a Fit"),
            (lambda: forecast.compare(fc, "x"), "parameter 'alt'.*expected a forecast"),
            (lambda: forecast.Scenario(rows=pd.DataFrame([{"ally": "A01"}])),
             "build it with one of those"),
            (lambda: forecast.simulate(n_months=12, catalog=3), "expected a Catalog"),
            (lambda: forecast.simulate(params={"factor_persistence": 1.5}),
             "strictly between -1 and 1"),
            (lambda: forecast.simulate(params={"noise": "x"}), "expected a finite number"),
            (lambda: forecast.simulate(params={"noise": -1.0}), "expected a positive number"),
            (lambda: forecast.simulate(params={"driver_rate": 1e30}), "at most 1e6"),
            (lambda: forecast.load_panel(None), "parameter 'observations_path'"),
            (lambda: fit.save(3), "parameter 'path'"),
            (lambda: forecast.synthetic_catalog("3"), "n_allies"),
            (lambda: fc.plot(allies=["KOR"]), "parameter 'allies'.*unknown ally"),
            # these left pathlib's and Python's TypeErrors, json's decoder error
            (lambda: forecast.load_fit(None), "parameter 'path'.*a saved fit"),
            (lambda: forecast.load_forecast(5), "parameter 'path'.*a saved forecast"),
            (lambda: forecast.read_scenario(None), "parameter 'path'.*a scenario file"),
            (lambda: forecast.read_scenario(pd.DataFrame({"ally": ["A01"]})),
             r"a DataFrame of rows is a scenario as it is \(fit.forecast\(scenario=frame\)"),
            # "within must be an integer from 1 to 1" said nothing of the forecast's horizon
            (lambda: fit.forecast(horizon=1, n_draws=20).early_warning(),
             r"parameter 'within', value 3: the forecast runs 1 month ahead: within at most "
             r"that \(a forecast with horizon=3 or more has it\)"),
            (lambda: forecast.read_catalog(None), "parameter 'path'.*a catalog file"),
            (lambda: sim.panel.write(5), "parameter 'directory'"),
            (lambda: sim.panel.write(sim.panel.write(tmp_path / "w")[0]),
             "written into a folder.*not a file"),
            (lambda: fit.summary(var_names=5), "parameter 'var_names'"),
            (lambda: fc.plot(allies=5), "parameter 'allies', value 5"),
            (lambda: forecast.Scenario.from_frame([{"ally": "A01"}]), "parameter 'frame'"),
            (lambda: forecast.ModelSpec.from_json("{"), "not a spec's JSON"),
            (lambda: forecast.ModelSpec.from_json("[]"), "expected an object, found list"),
            (lambda: forecast.ModelSpec.from_json('{"name": "x", "dynamics": "nope"}'),
             "key 'dynamics', value 'nope': spec 'x'"),
            # a quarter was read as its last month
            (lambda: sim.panel.truncate(pd.Period("2016Q2", "Q")), "malformed end"),
            # a month in form with a year the package does not read (both were "malformed")
            (lambda: sim.panel.truncate("3016-02"), "end out of range: year 3016 is outside"),
            (lambda: forecast.simulate(n_allies=2, n_months=12, start="0999-12"),
             "start out of range: year 0999 is outside")):
        with pytest.raises((forecast.InputError, forecast.SpecError), match=says):
            call()
    # a numpy float is a level as a float is (it was "must be a probability"); a month as a
    # Period starts a simulation as truncate already took it (it was "malformed start")
    assert len(forecast.compare(fc, fc, level=np.float32(0.9)))
    assert forecast.simulate(n_allies=2, n_months=12, seed=1, start=pd.Period("2020-01", "M")) \
        .panel.months[0] == pd.Period("2020-01", "M")
    # a catalog by its path, as load_panel takes it
    folder = tmp_path / "data"
    sim.panel.write(folder)
    assert forecast.simulate(n_months=12, catalog=folder / "signals.toml", seed=1).panel \
        .catalog == sim.panel.catalog
    # the folder given for the observations file names what it holds
    with pytest.raises(forecast.InputError, match="this folder holds observations.csv"):
        forecast.load_panel(folder)
    # a dict of parameters is what a notebook writes: it is read by name
    assert forecast.simulate(n_allies=2, n_months=12, seed=1, params={"intercept_tau": 0.1}) \
        .params.intercept_tau == 0.1


def test_an_oracle_fit_of_a_cut_panel_forecasts_alike_after_saving(tmp_path):
    """The oracle reads its drivers as the simulation standardised them; loading rebuilt the
    panel's own standardisation, and the reloaded fit forecast otherwise (|Δ mean| 0.026)."""
    sim = forecast.simulate(n_allies=3, n_months=48, seed=5)
    fit = oracle_fit(sim, end="2016-06", n_draws=50)
    back = forecast.load_fit(fit.save(tmp_path / "fit.nc"))
    np.testing.assert_array_equal(back.design.driver_values, fit.design.driver_values)
    # 50 draws: a month's tail can read k̂ >= 1, which the table warns of; equal either way
    pd.testing.assert_frame_equal(back.forecast(horizon=6, seed=3).hedging(warn=False),
                                  fit.forecast(horizon=6, seed=3).hedging(warn=False))


def test_save_load_roundtrip(oracle_case, tmp_path):
    _, _, fc = oracle_case
    path = fc.save(tmp_path / "fc.nc")
    back = load_forecast(path)
    pd.testing.assert_frame_equal(back.hedging(), fc.hedging())
    pd.testing.assert_frame_equal(back.uncertainty(), fc.uncertainty())
    assert back.origin == fc.origin
    assert isinstance(back.to_dataset(), xr.Dataset)
    np.testing.assert_array_equal(back.draws["outcome_overdispersion"],
                                  fc.draws["outcome_overdispersion"])
    # one saved before the overdispersion was kept still loads
    older = fc.to_dataset().drop_vars("outcome_overdispersion")
    older.to_netcdf(tmp_path / "older.nc", engine="h5netcdf")
    pd.testing.assert_frame_equal(load_forecast(tmp_path / "older.nc").hedging(), fc.hedging())
    with pytest.raises(forecast.InputError, match="not found"):
        load_forecast(tmp_path / "nope.nc")


def test_a_damaged_saved_forecast_is_refused(oracle_case, tmp_path):
    """A saved forecast without ``rate`` loaded and raised KeyError in hedging(); one with
    p_zero set to 2 loaded and showed p_any = -1; an infinite rate loaded and showed a mean of
    inf; a p_zero saved as text raised numpy's UFuncTypeError."""
    from forecast.forecasting import FORECAST_VARIABLES, OPTIONAL_FORECAST_VARIABLES

    _, _, fc = oracle_case
    # the lists are the truth: a NegBin outcome's forecast has every variable of both
    assert sorted(fc.draws.data_vars) == sorted(FORECAST_VARIABLES + OPTIONAL_FORECAST_VARIABLES)
    ds = fc.to_dataset()
    for c in ("ally", "period", "driver", "driver_period", "history_period"):
        ds[c] = ds[c].astype(str)
    for name, damaged, says in (
            ("rate", ds.drop_vars("rate"), "no rate"),
            ("history", ds.drop_vars(["history_mean", "var_path"]), "no history_mean, var_path"),
            ("p_zero", ds.assign(p_zero=ds["p_zero"] * 0 + 2), "p_zero holds values that are "
             "not finite numbers from 0 to 1"),
            ("nan", ds.assign(rate=ds["rate"] * np.nan), "rate holds values that are not"),
            ("inf", ds.assign(rate=ds["rate"] * np.inf), "rate holds values that are not"),
            ("inf variance", ds.assign(var_path=ds["var_path"] + np.inf), "var_path holds"),
            ("text", ds.assign(p_zero=ds["p_zero"].astype(str)), "p_zero holds values"),
            ("dispersion", ds.assign(outcome_overdispersion=-ds["outcome_overdispersion"]),
             "outcome_overdispersion holds values"),
            ("observed", ds.assign(drivers_observed=ds["drivers_observed"].astype(str)),
             "drivers_observed holds values that are not true or false"),
            ("observed dims", ds.assign(drivers_observed=ds["drivers_observed"].T),
             "drivers_observed holds values that are not true or false per ally and driver")):
        path = tmp_path / f"{name}.nc"
        damaged.to_netcdf(path, engine="h5netcdf")
        with pytest.raises(forecast.InputError, match=says) as err:
            load_forecast(path)
        assert err.value.file == str(path)


def test_saving_where_a_file_cannot_go_is_an_input_error(oracle_case, tmp_path):
    """A forecast saved to a directory raised IsADirectoryError and left ``NAME.partial``
    behind; a fit or forecast saved under a file raised FileExistsError; one saved as
    ``x.pkl`` was netCDF under a pickle's name (and ``.NC`` is netCDF's suffix still)."""
    _, fit, fc = oracle_case
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    for result in (fc, fit):
        with pytest.raises(forecast.InputError, match="not a directory"):
            result.save(tmp_path / "dir")
        with pytest.raises(forecast.InputError, match="a file in the way"):
            result.save(tmp_path / "file" / "out.nc")
        for name in ("out.pkl", "out.pickle", "out.csv"):
            with pytest.raises(forecast.InputError, match=r"saved as netCDF: expected a name "
                               r"ending \.nc \(or no suffix\), not \.(pkl|pickle|csv)"):
                result.save(tmp_path / name)
    saved = fc.save(tmp_path / "new" / "fc.NC")
    assert saved.name == "fc.NC" and saved.stat().st_size > 0
    saved.unlink()
    saved.parent.rmdir()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["dir", "file"]
    assert (tmp_path / "file").read_text() == "x"


def test_a_saved_file_has_the_permissions_of_a_plain_write(oracle_case, tmp_path):
    """Saved through mkstemp, a fit was readable by its owner only (0600) where the run's
    CSVs beside it had the umask's (0644)."""
    import os

    _, fit, fc = oracle_case
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    for saved in (fit.save(tmp_path / "fit.nc"), fc.save(tmp_path / "fc.nc")):
        assert os.stat(saved).st_mode & 0o777 == os.stat(plain).st_mode & 0o777


def test_plot(oracle_case):
    _, _, fc = oracle_case
    fig = fc.plot(allies=["A00", "A03"])
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2 * 2 + 2  # credibility, hedging, P(any) twin per ally
    # a notebook cell ending in fc.plot(...) shows the image (a plain Figure that pyplot does
    # not track was shown as its repr only)
    from IPython.core.formatters import DisplayFormatter

    shown, _ = DisplayFormatter().format(fig)
    assert shown.get("image/png", b"")[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(forecast.InputError, match="unknown ally"):
        fc.plot(allies=["XXX"])
    # one ally's code was read as its letters ("unknown ally 'A'"); history=None a TypeError
    assert len(fc.plot(allies="A03").axes) == 3
    for history in (None, 2.5, -1):
        with pytest.raises(forecast.InputError, match="history"):
            fc.plot(allies="A03", history=history)
    # without history the forecast's bands keep their legend (matplotlib had warned "No
    # artists with labels found to put in legend")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = fc.plot(allies="A03", history=0)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == \
        ["90%", "50%", "forecast"]


def test_a_one_month_forecast_is_drawn(oracle_case):
    """With horizon=1 each forecast quantity is one point: lines and bands through one point
    drew nothing, and the hedging panel was empty."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    _, fit, _ = oracle_case
    fig = fit.forecast(horizon=1, seed=1).plot(allies="A03", history=0)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    image = np.asarray(canvas.buffer_rgba())[..., :3].astype(int)
    for ax in fig.axes[:2]:  # credibility, hedging
        x0, y0, x1, y1 = ax.get_window_extent().extents.astype(int)
        box = image[image.shape[0] - y1:image.shape[0] - y0, x0:x1]
        coloured = (box.max(axis=-1) - box.min(axis=-1)) > 30  # not white, grey or black
        assert coloured.sum() > 100, ax.get_ylabel()


def test_bad_arguments(oracle_case):
    _, fit, _ = oracle_case
    with pytest.raises(forecast.InputError, match="horizon"):
        forecast_fit(fit, horizon=0)
    with pytest.raises(forecast.InputError, match="driver assumption"):
        forecast_fit(fit, horizon=3, driver_assumption="zero")


def test_n_draws_thins_deterministically(oracle_case):
    _, fit, _ = oracle_case
    a = fit.forecast(horizon=2, seed=1, n_draws=50)
    assert a.draws.sizes["sample"] == 50
    assert np.array_equal(a.draws["draw_index"].values,
                          fit.forecast(horizon=2, seed=2, n_draws=50).draws["draw_index"].values)


def _pit_coverage(y: np.ndarray, counts: np.ndarray, level: float,
                  rng: np.random.Generator) -> float:
    """Share of randomised PITs inside the central ``level`` band (exact for a true forecast
    of a discrete count, unlike integer intervals, which over-cover)."""
    below = (counts < y[None]).mean(axis=0)
    at = (counts == y[None]).mean(axis=0)
    pit = below + rng.random(y.shape) * at
    lo = (1 - level) / 2
    return float(((pit >= lo) & (pit <= 1 - lo)).mean())


@pytest.mark.parametrize("ragged", [False, True])
def test_oracle_pushes_the_latent_as_the_simulation_did(ragged):
    """The oracle's driver term equals the simulation's in every month, for a truncated panel
    and for one with gaps in its drivers. It used to rescale the effects by the two
    standardisations' scales only, which drops their difference in location (a constant push
    every month once the panel is truncated) and, with a missing driver value, divided by a
    NaN scale's fallback of 1."""
    sim = forecast.simulate(n_allies=3, n_months=60, seed=2, ragged=ragged)
    end = str(sim.panel.months[40])
    fit = oracle_fit(sim, end=end, n_draws=2)
    beta = fit.posterior["driver_effect_ally"].isel(chain=0, draw=0).values
    push = np.einsum("ad,adt->at", beta, fit.design.driver_values)
    truth = sim.truth
    raw = np.stack([d.values for d in sim.panel.drivers], axis=1)[:, :, :fit.design.n_periods]
    std = ((raw - truth["driver_loc"].values[None, :, None])
           / truth["driver_scale"].values[None, :, None])
    want = np.einsum("ad,adt->at", truth["driver_effect_ally"].values, std)
    seen = ~np.isnan(want)
    assert seen.mean() > 0.7  # the ragged panel's late ally has no drivers before entry
    np.testing.assert_allclose(push[seen], want[seen], atol=1e-12)


def test_oracle_forecast_is_calibrated():
    """With the true parameters the forecast distribution is the data-generating one: pooled
    over seeds, allies and horizons its randomised PIT is uniform (checks the simulation's
    timing, driver handling and outcome noise without a sampler)."""
    rng = np.random.default_rng(0)
    cover80, cover90, pits = [], [], []
    for seed in (201, 202, 203, 204):
        sim, end = _split(seed)
        fc = oracle_fit(sim, end=end, n_draws=400).forecast(horizon=HORIZON, seed=seed)
        y = sim.panel.outcome.values[:, -HORIZON:]
        counts = fc.draws["hedging"].values
        cover80.append(_pit_coverage(y, counts, 0.8, rng))
        cover90.append(_pit_coverage(y, counts, 0.9, rng))
    assert 0.72 <= np.mean(cover80) <= 0.88, cover80
    assert 0.84 <= np.mean(cover90) <= 0.96, cover90


# ------------------------------------------------------------------------------- real fits
def _scores(sim, fc: ForecastResult) -> dict[str, np.ndarray]:
    """Interval hits, CRPS and Brier of a forecast and of climatology (each ally's trailing
    24 fitted months as an ensemble) on the held-out months."""
    import scoringrules as sr

    y = sim.panel.outcome.values[:, -HORIZON:]
    hist = sim.panel.outcome.values[:, -HORIZON - 24:-HORIZON]
    tab = fc.hedging()
    counts = fc.draws["hedging"].values.astype(float)
    q = np.quantile(counts, [0.05, 0.10, 0.90, 0.95], axis=0, method="inverted_cdf")
    p_any = tab["p_any"].to_numpy().reshape(y.shape)
    p_clim = (hist > 0).mean(axis=1, keepdims=True)
    return {
        "cover80": (y >= q[1]) & (y <= q[2]),
        "cover90": (y >= q[0]) & (y <= q[3]),
        "crps": np.asarray(sr.crps_ensemble(y, np.moveaxis(counts, 0, -1))),
        "crps_clim": np.asarray(sr.crps_ensemble(
            y, np.repeat(hist[:, None, :].astype(float), HORIZON, axis=1))),
        "brier": (p_any - (y > 0)) ** 2,
        "brier_clim": (p_clim - (y > 0)) ** 2,
    }


@pytest.fixture(scope="module")
def heldout_scores():
    seeds = (11, 12, 13)
    out = []
    for seed in seeds:
        sim, end = _split(seed)
        fit = forecast.fit(sim.panel.truncate(end), draws=300, tune=300, chains=2, seed=seed,
                           warn=False)
        out.append(_scores(sim, fit.forecast(horizon=HORIZON, seed=seed)))
    return {k: np.concatenate([o[k].ravel() for o in out]) for k in out[0]}


@pytest.mark.slow
def test_heldout_interval_coverage(heldout_scores):
    """Issue 5 acceptance: 80% intervals cover 70-90% and 90% intervals 82-97% of realised
    hedging counts, pooled over 3 seeds × 8 allies × 12 months held out from the fit."""
    c80 = heldout_scores["cover80"].mean()
    c90 = heldout_scores["cover90"].mean()
    assert 0.70 <= c80 <= 0.90, c80
    assert 0.82 <= c90 <= 0.97, c90


@pytest.mark.slow
def test_heldout_scores_beat_climatology(heldout_scores):
    """Issue 5 acceptance: CRPS and Brier (P(any)) better than each ally's trailing-24-month
    climatology on the held-out months."""
    s = heldout_scores
    assert s["crps"].mean() < s["crps_clim"].mean()
    assert s["brier"].mean() < s["brier_clim"].mean()


def test_specs_without_dynamics_factor_or_pooling(oracle_case):
    """Posteriors of the static / no-factor / unpooled specs lack some variables: persistence
    is then 0, the factor absent and the ally sd 1."""
    _, fit, _ = oracle_case
    post = fit.posterior.drop_vars(["persistence", "common_factor", "factor_persistence",
                                    "factor_loading", "factor_share", "credibility_sd"])
    bare = dataclasses.replace(fit, idata=xr.DataTree.from_dict({"posterior": post}))
    fc = bare.forecast(horizon=3, seed=1)
    assert np.isfinite(fc.hedging()[["mean", "p_any"]].to_numpy()).all()
    assert (fc.draws["common_factor"].values == 0).all()
    # static state with unit sd: credibility is the driver push plus a standard normal shock
    # (the random future drivers add a little spread)
    shock = fc.draws["credibility"].values - fc.draws["own_state"].values
    assert np.allclose(shock, 0.0)
    sd = fc.draws["credibility"].std("sample").values
    assert np.all((sd > 0.85) & (sd < 1.3))


def test_recent_rate_is_the_allys_last_observed_months():
    """``"recent"`` takes each ally's last 12 *observed* months, however long ago: an ally with
    5 lapses a month, then 16 unrecorded months, keeps a rate of 5 (the calendar's last 12
    months would have held nothing of its own and borrowed the other allies' rate of 1)."""
    from forecast.forecasting import RECENT_MONTHS, _rate_draws, observed_window

    raw = np.full((2, 36), np.nan)
    raw[0, :20] = 5.0
    raw[1, :] = 1.0
    window = observed_window(raw, RECENT_MONTHS)
    assert [w.size for w in window] == [12, 12]
    rate = _rate_draws(window, "poisson", 4000, np.random.default_rng(1), pooled=raw)
    assert rate[:, 0].mean() == pytest.approx(5.0, abs=0.1)
    assert rate[:, 1].mean() == pytest.approx(1.0, abs=0.05)
    none = np.full((1, 36), np.nan)
    borrowed = _rate_draws(observed_window(none, RECENT_MONTHS), "poisson", 4000,
                           np.random.default_rng(1), pooled=raw)
    assert borrowed.mean() == pytest.approx(np.nanmean(raw), abs=0.15)


def test_bad_forecast_parameters_are_input_errors(oracle_case):
    """Each is an InputError naming the parameter, not a TypeError, an IndexError or NaN."""
    from forecast.scenarios import compare

    _, fit, fc = oracle_case
    calls = {
        "n_draws": [lambda: fit.forecast(horizon=3, n_draws=2.5),
                    lambda: fit.forecast(horizon=3, n_draws=1)],
        "n_inner": [lambda: fit.forecast(horizon=3, n_inner=1),
                    lambda: fit.forecast(horizon=3, n_inner=0),
                    # a million inner paths per draw: the process was killed for its memory
                    lambda: fit.forecast(horizon=3, n_inner=10**6)],
        "within": [lambda: fc.early_warning(within=2.5), lambda: fc.early_warning(within=0)],
        "horizon": [lambda: fit.forecast(horizon=True)],
        "level": [lambda: compare(fc, fc, level=90), lambda: compare(fc, fc, level=0)],
    }
    for name, bad in calls.items():
        for call in bad:
            with pytest.raises(forecast.InputError, match=name) as err:
                call()
            assert err.value.parameter == name
    assert np.isfinite(fit.forecast(horizon=3, n_draws=2, n_inner=2, seed=1)
                       .uncertainty().select_dtypes("number").to_numpy()).all()


def test_fit_forecast_takes_forecast_fits_arguments_by_name():
    """``Fit.forecast`` hid ``driver_assumption``, ``n_draws`` and ``n_inner`` behind
    ``**kwargs``: not in its signature, help() or a notebook's completion."""
    import inspect

    from forecast.forecasting import forecast_fit
    from forecast.results import Fit

    method = inspect.signature(Fit.forecast).parameters
    function = inspect.signature(forecast_fit).parameters
    assert list(method) == ["self", *list(function)[1:]]
    assert all(method[name].default == function[name].default for name in list(function)[1:])


def test_the_state_runs_forward_as_the_model_says():
    """The forecast's state equation against its closed form: without shocks
    ``own_h = φ^h·own_0 + Σ_k φ^(h−k)·β·d_(k−1)``, ``g_h = ρ^h·g_0``,
    ``θ_h = own_h + γ·g_h + level`` and hedging's rate ``exp(ho + κ·θ_(h−1))``; with shocks
    the own state's and the factor's variances those of stationary AR(1)s. Dropping the
    factor, the level or a driver's push, or mis-scaling a shock, was caught by no test."""
    from forecast.forecasting import Shocks, StateDraws, Streams, simulate_paths

    rng = np.random.default_rng(5)
    n, A, D, H = 4, 3, 2, 6
    draw = lambda *shape: rng.normal(size=shape)  # noqa: E731
    state = StateDraws(np.arange(n), own=draw(n, A), level=draw(n, A), theta=draw(n, A),
                       g=draw(n), rho=rng.uniform(0.2, 0.9, n), phi=rng.uniform(0.2, 0.9, (n, A)),
                       scale=rng.uniform(0.5, 2, (n, A)), gamma=draw(n, A),
                       beta=draw(n, A, D), outcome_intercept=draw(n, A),
                       outcome_loading=-np.abs(draw(n, A)), outcome_overdispersion=None)
    drivers = draw(n, A, D, H)
    out = simulate_paths(state, drivers, Shocks(np.zeros((n, A, H)), np.zeros((n, H))))
    theta_prev = state.theta
    for h in range(1, H + 1):
        push = sum(state.phi ** (h - k) * (state.beta * drivers[..., k - 1]).sum(axis=-1)
                   for k in range(1, h + 1))
        own = state.phi ** h * state.own + push
        g = state.rho ** h * state.g
        theta = own + state.gamma * g[:, None] + state.level
        np.testing.assert_allclose(out["own"][..., h - 1], own, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(out["common_factor"][:, h - 1], g, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(out["credibility"][..., h - 1], theta, rtol=1e-12,
                                   atol=1e-12)
        np.testing.assert_allclose(out["rate"][..., h - 1], np.exp(
            state.outcome_intercept + state.outcome_loading * theta_prev), rtol=1e-12)
        theta_prev = theta

    # the shocks' scale: from 0 with no drivers, var(own_h) = s²(1 − φ^2h), var(g_h) = 1 − ρ^2h
    m = 40_000
    one = lambda v: np.broadcast_to(v, (m, 1)).copy()  # noqa: E731
    phi, rho, s = 0.7, 0.5, 1.5
    quiet = StateDraws(np.arange(m), own=one(0.0), level=one(0.0), theta=one(0.0),
                       g=np.zeros(m), rho=np.full(m, rho), phi=one(phi), scale=one(s),
                       gamma=one(0.0), beta=np.zeros((m, 1, 0)), outcome_intercept=one(0.0),
                       outcome_loading=one(0.0), outcome_overdispersion=None)
    paths = simulate_paths(quiet, np.zeros((m, 1, 0, H)),
                           Shocks.draw(m, 1, H, Streams.spawn(np.random.SeedSequence(5), H)))
    h = np.arange(1, H + 1)
    # the sample variance of 40 000 normals is within 3.5% of the truth (5 sd of 0.7%)
    np.testing.assert_allclose(paths["own"][:, 0, :].var(axis=0), s**2 * (1 - phi ** (2 * h)),
                               rtol=0.035)
    np.testing.assert_allclose(paths["common_factor"].var(axis=0), 1 - rho ** (2 * h),
                               rtol=0.035)


def _with_hedging_walk(fit, last_level: float, tau: float):
    """``fit`` with a hedging level's walk (spec ``outcome_drift``) in its spec and posterior:
    0 in every year but the last, ``last_level`` there, steps of sd ``tau``."""
    post = fit.idata["posterior"].to_dataset()
    years = list(fit.design.years)
    walk = np.zeros((post.sizes["chain"], post.sizes["draw"], len(years)))
    walk[..., -1] = last_level
    post["outcome_drift"] = (("chain", "draw", "year"), walk)
    post = post.assign_coords(year=years)
    post["outcome_drift_tau"] = (("chain", "draw"), np.full(walk.shape[:2], tau))
    return dataclasses.replace(fit, idata=xr.DataTree.from_dict({"posterior": post}),
                               spec=fit.spec.model_copy(update={"outcome_drift": True}))


def test_the_hedging_level_carries_into_the_forecast_and_steps_each_january():
    """A fit whose hedging level walks (spec ``outcome_drift``), forecast from a June over two
    Januaries: its level in the origin's year multiplies every month's expected count by
    e^level, and each January takes a step of sd τ common to the allies and to that year's
    months, none before the first. The other draws (states, drivers, outcome uniforms) stay
    those of the same forecast without the walk."""
    sim, _ = _split(seed=101)
    fit = oracle_fit(sim, end="2020-06", n_draws=400)
    horizon = 20  # 2020-07 to 2022-02: Januaries at horizons 7 and 19
    base = fit.forecast(horizon=horizon, seed=3).draws
    flat = _with_hedging_walk(fit, 0.0, 0.0).forecast(horizon=horizon, seed=3).draws
    for name in ("hedging", "rate", "credibility", "drivers", "var_path"):
        np.testing.assert_array_equal(flat[name].values, base[name].values, err_msg=name)
    held = _with_hedging_walk(fit, 0.7, 0.0).forecast(horizon=horizon, seed=3).draws
    np.testing.assert_allclose(held["rate"].values, base["rate"].values * np.exp(0.7),
                               rtol=1e-12)
    walking = _with_hedging_walk(fit, 0.7, 0.5).forecast(horizon=horizon, seed=3).draws
    step = np.log(walking["rate"].values / base["rate"].values) - 0.7  # (sample, ally, h)
    np.testing.assert_allclose(step[:, :, :6], 0.0, atol=1e-12)  # July to December
    first, second = step[:, :, 6:18], step[:, :, 18:]
    for year in (first, second):  # one step a year for every ally and month of the year
        np.testing.assert_allclose(year, year[:, :1, :1] * np.ones_like(year), atol=1e-12)
    # sd 0.5, then two steps' sqrt(2)·0.5; 400 draws put each sample sd within 15% (4 sd)
    assert first[:, 0, 0].std() == pytest.approx(0.5, rel=0.15)
    assert second[:, 0, 0].std() == pytest.approx(0.5 * np.sqrt(2), rel=0.15)
    # the steps are the path's uncertainty: its part of the variance grows from January
    assert (walking["var_path"].values[:, 6:] > held["var_path"].values[:, 6:]).all()
    np.testing.assert_allclose(walking["var_path"].values[:, :6],
                               held["var_path"].values[:, :6], rtol=1e-12)


def test_a_fit_whose_spec_walks_hedging_needs_the_walk():
    """A posterior without the walk its spec has was forecast without it, without a word."""
    sim, _ = _split(seed=101)
    fit = oracle_fit(sim, end="2020-06", n_draws=10)
    lost = dataclasses.replace(fit, spec=fit.spec.model_copy(update={"outcome_drift": True}))
    with pytest.raises(forecast.InputError, match="holds no 'outcome_drift'"):
        lost.forecast(horizon=2, seed=1)


def test_the_oracle_walks_hedging_as_its_simulation_did():
    """A simulation with a hedging walk: the oracle's spec has the walk and its posterior the
    truth, centred on the cut panel's years with its mean in the intercepts, so each month's
    log-rate is the simulation's."""
    sim = forecast.simulate(n_allies=3, n_months=60, seed=6, params={"outcome_drift_tau": 0.5})
    fit = oracle_fit(sim, end="2016-06", n_draws=4)  # the panel's first 30 of 60 months
    assert fit.spec.outcome_drift and not oracle_fit(_split(seed=101)[0]).spec.outcome_drift
    post = fit.posterior.isel(chain=0, draw=0)
    truth = sim.truth["outcome_drift"].sel(year=[2014, 2015, 2016]).values
    years = fit.design.month_year
    got = post["outcome_intercept"].values[:, None] + post["outcome_drift"].values[years][None]
    want = sim.truth["outcome_intercept"].values[:, None] + truth[years][None]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert abs(float(post["outcome_drift"].sum())) < 1e-12


def test_a_longer_horizon_leaves_the_first_months_draws_as_they_were(oracle_case):
    """With one seed, month 1's q95 of a count read 3 at horizon 1 and 2 at horizon 12: each
    month's draws came after every month's drivers. Each month now has its own stream."""
    _, fit, _ = oracle_case
    short, long = (fit.forecast(horizon=h, seed=4, n_draws=200) for h in (2, 12))
    a, b = short.draws, long.draws.isel(horizon=slice(0, 2), driver_period=slice(0, 2))
    for name in ("hedging", "rate", "p_zero", "credibility", "own_state", "common_factor",
                 "drivers", "var_parameter", "var_path", "var_noise"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    pd.testing.assert_frame_equal(short.hedging(), long.hedging().query("horizon <= 2")
                                  .reset_index(drop=True))
