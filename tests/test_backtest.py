"""Rolling-origin backtests: each origin's fit sees only its past, its forecast is scored
against the months that followed, beside each ally's climatology."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import forecast
from forecast.backtest import (CLIMATOLOGY_MONTHS, COVERAGE, PERSISTENCE_MONTHS, Backtest,
                               _scored, origin_seeds, predictive_cdf, predictive_log_score)


def _crps_by_hand(ensemble: np.ndarray, y: float) -> float:
    """E|X - y| - E|X - X'| / 2 over the ensemble's members."""
    x = np.asarray(ensemble, float)
    return float(np.abs(x - y).mean() - 0.5 * np.abs(x[:, None] - x[None, :]).mean())


def test_predictive_log_score_is_the_mixtures_closed_form():
    # Poisson: -log(exp(-rate) rate^y / y!)
    got = predictive_log_score(np.array([[3.0]]), np.array([[[2.0]]]), None)
    assert got[0, 0] == pytest.approx(2.0 - 3 * math.log(2.0) + math.log(6.0))
    # NegBin with r = 1 (overdispersion 1) is geometric: P(y) = (1/(1+mu)) (mu/(1+mu))^y;
    # two draws are a half-half mixture
    rate = np.array([[[1.0]], [[3.0]]])
    geometric = [(1 / (1 + m)) * (m / (1 + m)) ** 2 for m in (1.0, 3.0)]
    got = predictive_log_score(np.array([[2.0]]), rate, np.array([1.0, 1.0]))
    assert got[0, 0] == pytest.approx(-math.log(np.mean(geometric)))
    # a nearly Poisson count (r = 1e16): SciPy's NegBin log-mass was off by 100 there
    got = predictive_log_score(np.array([[3.0]]), np.array([[[2.0]]]), np.array([1e-8]))
    assert got[0, 0] == pytest.approx(2.0 - 3 * math.log(2.0) + math.log(6.0), abs=1e-9)
    # a month not observed is not scored
    assert np.isnan(predictive_log_score(np.array([[np.nan]]), rate, np.array([1.0, 1.0])))[0, 0]


@pytest.fixture(scope="module")
def scored():
    sim = forecast.simulate(n_allies=3, n_months=48, seed=5)
    origin = "2017-09"  # 3 months follow it in the panel; a 6-month forecast runs past it
    fc = forecast.oracle_fit(sim, end=origin, n_draws=200).forecast(horizon=6, seed=1)
    return sim, fc, _scored(sim.panel, fc, origin)


def test_scored_rows_hold_the_months_that_followed(scored):
    sim, fc, table = scored
    y = sim.panel.outcome.values
    assert table.shape[0] == 3 * 6 and (table["origin"] == "2017-09").all()
    t = [str(m) for m in sim.panel.months].index("2017-09")
    for a, ally in enumerate(sim.panel.allies):
        rows = table[table["ally"] == ally].sort_values("horizon")
        np.testing.assert_array_equal(rows["observed"].to_numpy()[:3], y[a, t + 1:t + 4])
        assert rows["period"].tolist()[:3] == [str(m) for m in sim.panel.months[t + 1:t + 4]]
        # after the panel's last month: nothing observed, nothing scored
        assert rows.iloc[3:][["observed", "crps", "log_score", "brier", "covered90",
                              "crps_climatology", "log_score_climatology", "pit_lower",
                              "covered50", "crps_persistence"]].isna().all().all()


def test_scores_are_the_forecasts_and_the_climatologys(scored):
    sim, fc, table = scored
    t = [str(m) for m in sim.panel.months].index("2017-09")
    seen = table[table["observed"].notna()]
    got = (seen["p_any"] - (seen["observed"] > 0)) ** 2
    np.testing.assert_allclose(seen["brier"], got)
    for _, row in seen.iterrows():
        a = sim.panel.allies.index(row["ally"])
        # the ally's counts of the 24 months up to and including the origin
        history = sim.panel.outcome.values[a, t + 1 - CLIMATOLOGY_MONTHS:t + 1]
        assert history.size == CLIMATOLOGY_MONTHS
        assert row["crps_climatology"] == pytest.approx(_crps_by_hand(history, row["observed"]))
        assert row["brier_climatology"] == pytest.approx(
            ((history > 0).mean() - (row["observed"] > 0)) ** 2)
        counts = fc.draws["hedging"].sel(ally=row["ally"]).isel(horizon=row["horizon"] - 1)
        assert row["crps"] == pytest.approx(_crps_by_hand(counts.values, row["observed"]))
        # the predictive mass: the draws' NegBin (r = 1/od², mean rate) averaged
        rate = fc.draws["rate"].sel(ally=row["ally"]).isel(horizon=row["horizon"] - 1).values
        r = 1.0 / fc.draws["outcome_overdispersion"].values ** 2
        mass = stats.nbinom.pmf(row["observed"], r, r / (r + rate)).mean()
        assert row["log_score"] == pytest.approx(-math.log(mass))
        # the climatology's NegBin: mean (Σ + 0.5)/24, the history's variance
        m, excess = (history.sum() + 0.5) / history.size, history.var(ddof=1) - history.mean()
        size = m**2 / excess if excess > 0 else np.inf
        clim = (stats.nbinom.pmf(row["observed"], size, size / (size + m)) if excess > 0
                else stats.poisson.pmf(row["observed"], m))
        assert row["log_score_climatology"] == pytest.approx(-math.log(clim))
        # persistence: a Poisson at the last 12 months' rate, (Σ + 0.5)/12; its CRPS as
        # Σ_k (F(k) - 1{y <= k})² over the counts
        recent = sim.panel.outcome.values[a, t + 1 - PERSISTENCE_MONTHS:t + 1]
        m = (recent.sum() + 0.5) / PERSISTENCE_MONTHS
        grid = np.arange(60)
        crps = np.sum((stats.poisson.cdf(grid, m) - (row["observed"] <= grid)) ** 2)
        assert row["crps_persistence"] == pytest.approx(crps)
        assert row["log_score_persistence"] == pytest.approx(
            -stats.poisson.logpmf(row["observed"], m))
        assert row["brier_persistence"] == pytest.approx(
            (1 - math.exp(-m) - (row["observed"] > 0)) ** 2)
        assert row["covered90"] == float(row["q05"] <= row["observed"] <= row["q95"])
        # the CDF below and at the count, of the same mixture
        assert (row["pit_lower"], row["pit_upper"]) == pytest.approx(
            [stats.nbinom.cdf(row["observed"] - d, r, r / (r + rate)).mean() for d in (1, 0)])
    # the central 50% interval is the table's q25-q75; each wider one holds the narrower
    quartiles = fc.hedging(warn=False).set_index(["ally", "horizon"])[["q25", "q75"]]
    q = quartiles.loc[list(zip(seen["ally"], seen["horizon"]))].to_numpy()
    inside = (q[:, 0] <= seen["observed"]) & (seen["observed"] <= q[:, 1])
    np.testing.assert_array_equal(seen["covered50"], inside.astype(float))
    levels = seen[list(COVERAGE)].to_numpy()
    assert (np.diff(levels, axis=1) >= 0).all()
    # the simulated quantiles' intervals are the exact CDF's here: a count lies in the central
    # interval of probability L where F(y) >= (1 - L)/2 and F(y - 1) < (1 + L)/2
    for name, level in COVERAGE.items():
        exact = (seen["pit_upper"] >= (1 - level) / 2) & (seen["pit_lower"] < (1 + level) / 2)
        np.testing.assert_array_equal(seen[name], exact.astype(float))


def test_coverage_is_of_each_central_interval_of_the_draws():
    """Draws 0..99 once each: the interval of probability L runs from the smallest count whose
    share reaches (1 - L)/2 to the smallest that reaches (1 + L)/2."""
    from forecast.backtest import _coverage

    y = np.arange(100.0)[None, :]  # one ally, every count 0..99 observed once
    counts = np.broadcast_to(np.arange(100.0)[:, None, None], (100, 1, 100))
    got = _coverage(y, counts, np.full((1, 100), 0.01))
    bounds = {"covered50": (24, 74), "covered80": (9, 89), "covered90": (4, 94),
              "covered95": (2, 97)}
    assert set(got) == set(bounds) == set(COVERAGE)
    for name, (lo, hi) in bounds.items():
        np.testing.assert_array_equal(got[name][0], (y[0] >= lo) & (y[0] <= hi))


def test_predictive_cdf_is_the_mixtures_closed_form():
    # one Poisson draw of rate 2 at y = 2: F(1) = 3 exp(-2), F(2) = 5 exp(-2)
    below, at = predictive_cdf(np.array([[2.0], [0.0], [np.nan]]),
                               np.full((1, 3, 1), 2.0), None)
    assert (below[0, 0], at[0, 0]) == pytest.approx((3 * math.exp(-2), 5 * math.exp(-2)))
    assert (below[1, 0], at[1, 0]) == pytest.approx((0.0, math.exp(-2)))
    assert np.isnan(below[2, 0]) and np.isnan(at[2, 0])
    # two geometric draws (r = 1): the half-half mixture of their CDFs, 1 - (m/(1+m))^(y+1)
    rate = np.array([[[1.0]], [[3.0]]])
    below, at = predictive_cdf(np.array([[2.0]]), rate, np.array([1.0, 1.0]))
    cdf = [np.mean([1 - (m / (1 + m)) ** (y + 1) for m in (1.0, 3.0)]) for y in (1, 2)]
    assert (below[0, 0], at[0, 0]) == pytest.approx(cdf)
    # a nearly Poisson count (r = 1e16) and a large one, in closed form, not a sum of masses
    below, at = predictive_cdf(np.array([[3.0], [5000.0]]), np.array([[[2.0], [5000.0]]]),
                               np.array([1e-8]))
    assert (below[0, 0], at[0, 0]) == pytest.approx(stats.poisson.cdf([2, 3], 2.0), abs=1e-12)
    assert (below[1, 0], at[1, 0]) == pytest.approx(stats.poisson.cdf([4999, 5000], 5000.0))


def test_the_climatologys_negbin_takes_the_historys_overdispersion():
    from forecast.backtest import climatology_log_score

    bursty = np.array([0.0] * 20 + [6.0, 0.0, 4.0, 0.0])  # mean 10/24, variance 2.17
    m, excess = 10.5 / 24, bursty.var(ddof=1) - bursty.mean()
    size = m**2 / excess
    got = climatology_log_score(bursty, np.array([0.0, 3.0, np.nan]))
    want = -stats.nbinom.logpmf([0, 3], size, size / (size + m))
    np.testing.assert_allclose(got[:2], want)
    assert np.isnan(got[2])
    # a steady history (variance below its mean) is a Poisson's
    steady = np.array([1.0, 1.0, 0.0, 1.0])
    got = climatology_log_score(steady, np.array([2.0]))
    assert got[0] == pytest.approx(-stats.poisson.logpmf(2, 3.5 / 4))
    # the overdispersed fit gives a burst a far better score than a Poisson of the same mean
    assert climatology_log_score(bursty, np.array([6.0]))[0] < -stats.poisson.logpmf(6, m) - 3


def _pit_of(observed: np.ndarray, rate: float) -> pd.DataFrame:
    """The PIT histogram of Poisson counts forecast at one ``rate``."""
    below, at = predictive_cdf(observed[:, None], np.full((1, observed.size, 1), rate), None)
    rows = pd.DataFrame({"observed": observed, "crps_climatology": 1.0,
                         "pit_lower": below[:, 0], "pit_upper": at[:, 0]})
    return Backtest(rows, pd.DataFrame()).pit(bins=10)


def test_the_pit_histogram_is_flat_for_the_true_forecast_and_not_for_a_biased_one():
    """Counts drawn from Poisson(2): forecast at 2, each bin's share is 0.1 within noise (the
    share's sd is at most sqrt(0.1·0.9/4000) = 0.005); forecast at 4, the counts sit low
    in the forecast, the first bins fill and the last empty."""
    y = np.random.default_rng(7).poisson(2.0, size=4000).astype(float)
    true = _pit_of(y, 2.0)
    assert true["share"].sum() == pytest.approx(1.0)
    assert np.abs(true["share"] - 0.1).max() < 0.025
    biased = _pit_of(y, 4.0)["share"].to_numpy()
    assert biased[:3].sum() > 0.5 and biased[-3:].sum() < 0.1
    with pytest.raises(forecast.InputError, match="bins"):
        Backtest(pd.DataFrame(), pd.DataFrame()).pit(bins=0)


def test_a_pit_without_spread_falls_in_its_bin():
    """A count whose predictive mass underflows (F(y - 1) = F(y)) has its PIT at one point:
    at 0 it was dropped from the histogram, whose shares then summed to less than 1."""
    rows = pd.DataFrame({"observed": [0.0, 3.0, 9.0], "crps_climatology": 1.0,
                         "pit_lower": [0.0, 0.35, 1.0], "pit_upper": [0.0, 0.35, 1.0]})
    share = Backtest(rows, pd.DataFrame()).pit(bins=10)["share"].to_numpy()
    np.testing.assert_allclose(share, np.eye(10)[[0, 3, 9]].sum(axis=0) / 3)
    with pytest.raises(forecast.InputError, match="pit_lower"):
        Backtest(rows.drop(columns="pit_lower"), pd.DataFrame()).pit()


def test_scores_average_the_model_and_climatology_over_the_same_months():
    """A month whose ally had no count in the climatology's window (a late ally) kept its
    model scores beside no climatology: the skill then compared different months."""
    rows = pd.DataFrame({"horizon": [1, 1], "ally": ["A", "B"], "observed": [1.0, 0.0],
                         "crps": [0.8, 0.1], "crps_climatology": [np.nan, 0.2],
                         "log_score": [2.0, 0.1], "brier": [0.64, 0.01],
                         "brier_climatology": [np.nan, 0.04], "covered90": [1.0, 1.0]})
    s = Backtest(rows, pd.DataFrame()).scores().loc[1]
    assert int(s["n"]) == 1
    assert (s["crps"], s["crps_climatology"], s["crps_skill"]) == pytest.approx((0.1, 0.2, 0.5))


def test_scores_over_every_month_weigh_each_month_alike():
    """``scores(None)``: one row over every scored month, each month counted once (not the
    mean of the horizons' means), with the skill of those means."""
    rows = pd.DataFrame({"horizon": [1, 2, 2, 2], "observed": [0.0, 1.0, 0.0, 2.0],
                         "crps": [0.4, 0.1, 0.1, 0.2], "crps_climatology": [0.5, 0.2, 0.2, 0.2],
                         "log_score": [1.0, 2.0, 3.0, 4.0], "brier": [0.1, 0.2, 0.3, 0.4],
                         "brier_climatology": [0.2, 0.2, 0.4, 0.4], "covered90": [1, 1, 0, 1]})
    whole = Backtest(rows, pd.DataFrame()).scores(None)
    assert whole.index.tolist() == ["all"]
    s = whole.loc["all"]
    assert int(s["n"]) == 4
    assert (s["crps"], s["crps_climatology"]) == pytest.approx((0.2, 0.275))
    assert s["crps_skill"] == pytest.approx(1 - 0.2 / 0.275)
    assert (s["log_score"], s["covered90"]) == pytest.approx((2.5, 0.75))


def test_skill_against_persistence_is_one_minus_the_ratio_of_the_means():
    """Skill beside each baseline: 1 - model / baseline over the same months, and no
    persistence skill from a table without its scores."""
    rows = pd.DataFrame({"horizon": [1, 1, 2], "observed": [0.0, 1.0, 0.0],
                         "crps": [0.1, 0.5, 0.2], "crps_climatology": [0.2, 0.4, 0.2],
                         "crps_persistence": [0.1, 0.3, 0.5], "log_score": [0.2, 1.0, 0.3],
                         "brier": [0.01, 0.25, 0.04], "brier_climatology": [0.04, 0.36, 0.04],
                         "brier_persistence": [0.02, 0.5, 0.01], "covered90": [1, 1, 1]})
    s = Backtest(rows, pd.DataFrame()).scores()
    assert s.loc[1, "crps_skill_persistence"] == pytest.approx(1 - 0.3 / 0.2)
    assert s.loc[1, "brier_skill_persistence"] == pytest.approx(1 - 0.13 / 0.26)
    assert s.loc[2, "crps_skill_persistence"] == pytest.approx(1 - 0.2 / 0.5)
    assert s.loc[1, "crps_skill"] == pytest.approx(1 - 0.3 / 0.3)
    older = Backtest(rows.drop(columns=["crps_persistence", "brier_persistence"]),
                     pd.DataFrame()).scores()
    assert "crps_skill_persistence" not in older and "crps_skill" in older


def test_an_origins_seeds_are_its_own():
    """Seeds were drawn by position among the origins: another origin before it changed
    them. Now they follow from the seed and the origin's month."""
    assert origin_seeds(3, "2016-10") == origin_seeds(np.random.SeedSequence(3), "2016-10")
    assert origin_seeds(3, "2016-10") != origin_seeds(3, "2016-11")
    assert origin_seeds(3, "2016-10") != origin_seeds(4, "2016-10")


def test_an_origin_before_1970_has_seeds_of_its_own():
    """A month before 1970 counts negative from it, a key no SeedSequence takes (a
    traceback before any fit); each still gets seeds no other month has."""
    months = ["1000-01", "1969-11", "1969-12", "1970-01", "1970-02", "2026-03"]
    seeds = [origin_seeds(3, m) for m in months]
    assert len(set(seeds)) == len(months)
    assert origin_seeds(3, "1969-12") == origin_seeds(np.random.SeedSequence(3), "1969-12")


def test_rolling_origins_end_a_horizon_before_the_panel_does():
    from forecast.backtest import rolling_origins

    panel = forecast.simulate(n_allies=2, n_months=36, seed=5).panel  # 2014-01 to 2016-12
    assert rolling_origins(panel, count=3, every=4, horizon=6) == ["2015-10", "2016-02",
                                                                   "2016-06"]
    assert rolling_origins(panel, count=1, every=1, horizon=35) == ["2014-01"]
    # each origin's months ahead lie in the panel: the last one's end on its last month
    months = [str(m) for m in panel.months]
    for origin in rolling_origins(panel, count=5, every=2, horizon=12):
        assert months.index(origin) + 12 <= len(months) - 1
    for kwargs in ({"count": 1, "horizon": 36}, {"count": 7, "every": 4, "horizon": 12}):
        with pytest.raises(forecast.InputError, match="have no room for") as err:
            rolling_origins(panel, **kwargs)
        assert err.value.parameter == "count"
    # the last three months without a hedging count (other signals run on): the origins end
    # a horizon before the last month counted, so that every month ahead can be scored
    frame = panel.to_frame()
    cut = frame[(frame["signal"] != panel.catalog.outcome.name)
                | (frame["period"] <= "2016-09")]
    short = forecast.Panel.from_frame(cut, panel.catalog, start="2014-01", end="2016-12")
    assert str(short.months[-1]) == "2016-12"
    assert rolling_origins(short, count=2, every=3, horizon=6) == ["2015-12", "2016-03"]


def test_backtest_refuses_bad_origins_before_fitting():
    sim = forecast.simulate(n_allies=3, n_months=24, seed=5)
    last = str(sim.panel.months[-1])
    for origins, value in (("2015-06", "2015-06"), ([], []), (["2013-01"], "2013-01"),
                           ([last], last), (["2015-13"], "2015-13"),
                           (["2015-06", "2015-06"], ["2015-06", "2015-06"])):
        with pytest.raises(forecast.InputError) as err:
            forecast.backtest(sim.panel, origins)
        assert err.value.parameter == "origins", origins
        assert err.value.value == value, str(err.value)
    # an origin before a signal's first value: said of that origin before any fit
    frame = sim.panel.to_frame()
    late = frame[(frame["signal"] != "joint_statements") | (frame["period"] >= "2015-01")]
    panel = forecast.Panel.from_frame(late, sim.panel.catalog, start="2014-01",
                                      end=last)
    with pytest.raises(forecast.InputError, match="the panel cut at this origin cannot be "
                       "fitted: indicator 'joint_statements' has no observations") as err:
        forecast.backtest(panel, ["2015-06", "2014-09"])
    assert (err.value.parameter, err.value.value) == ("origins", "2014-09")
    with pytest.raises(forecast.InputError) as err:
        forecast.backtest(sim.panel, ["2015-06"], horizon=0)
    assert err.value.parameter == "horizon"
    with pytest.raises(forecast.InputError, match="'horizon', 'ally' or 'origin'"):
        forecast.Backtest(pd.DataFrame({"horizon": [1], "observed": [0.0]}),
                          pd.DataFrame()).scores("crps")


def test_a_backtest_fits_each_origin_on_its_past_and_repeats_with_its_seed():
    sim = forecast.simulate(n_allies=3, n_months=36, seed=7)
    origin = str(sim.panel.months[-3])  # two months follow it; a 3-month forecast runs past

    def run():
        return forecast.backtest(sim.panel, [origin], horizon=3, draws=100, tune=100,
                                 chains=2, seed=3)

    bt = run()
    assert bt.origins["origin"].tolist() == [origin]
    assert bt.origins["last_fitted"].tolist() == [origin]  # nothing after the origin fitted
    assert tuple(bt.origins[["fit_seed", "forecast_seed"]].iloc[0]) == origin_seeds(3, origin)
    table = bt.table
    assert len(table) == 3 * 3 and table["observed"].notna().sum() == 3 * 2
    t = len(sim.panel.months) - 3
    np.testing.assert_array_equal(
        table.sort_values(["ally", "horizon"]).groupby("ally", sort=False)["observed"]
        .apply(lambda v: v.to_numpy()[:2]).loc[list(sim.panel.allies)].tolist(),
        [sim.panel.outcome.values[a, t + 1:t + 3] for a in range(3)])
    scores = bt.scores("horizon")
    assert scores["n"].tolist() == [3, 3] and np.isfinite(scores["crps_skill"]).all()
    # its seeds are drawn from the backtest's: the same seed, the same draws and scores
    pd.testing.assert_frame_equal(run().table, table)


def test_a_backtest_on_a_scheduler_scores_as_the_origins_fitted_cold_here():
    """Each origin a Dask task of its own: the same seed gives the same table as the origins
    fitted cold one after another in this process, whichever finishes first."""
    distributed = pytest.importorskip("dask.distributed")
    import pytensor

    cxx = pytensor.config.cxx
    sim = forecast.simulate(n_allies=3, n_months=36, seed=7)
    origins = [str(sim.panel.months[-6]), str(sim.panel.months[-3])]
    kw = dict(horizon=3, draws=100, tune=100, chains=2, seed=3)
    here = forecast.backtest(sim.panel, origins, warm_start=False, **kw)
    seen = []
    # a cluster of threads in this process: the tasks, their scattering and gathering are
    # Dask's, without a worker process to start (forecast backtest --scheduler local's are)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        there = forecast.backtest(sim.panel, origins, scheduler=client,
                                  on_origin=seen.append, **kw)
        assert client.status == "running"  # a client the caller made is left open
    pd.testing.assert_frame_equal(there.table, here.table)
    pd.testing.assert_frame_equal(there.origins.drop(columns="sampling_s"),
                                  here.origins.drop(columns="sampling_s"))
    assert sorted(row["origin"] for row in seen) == origins
    assert there.origins["origin"].tolist() == origins  # the origins' order, not the finish
    # two workers that are threads of this process fitted one at a time: at once, PyMC's
    # passing change of PyTensor's configuration (cxx="") was once left in place, and every
    # later compile of the process ran without C (an ADVI fit then failed)
    assert pytensor.config.cxx == cxx
    # "local": a cluster of worker processes started and closed by the backtest (the path of
    # forecast backtest --scheduler local; it once failed for want of a default client)
    local = forecast.backtest(sim.panel, origins, scheduler=" LOCAL", **kw)
    pd.testing.assert_frame_equal(local.table, here.table)


def test_a_scheduler_is_refused_clearly_before_any_fit(monkeypatch):
    import sys

    from forecast.scheduling import local_workers

    sim = forecast.simulate(n_allies=3, n_months=24, seed=5)
    with pytest.raises(forecast.InputError, match="with a scheduler every origin is a task of "
                       "its own") as err:
        forecast.backtest(sim.panel, ["2015-06"], scheduler="local", warm_start=True)
    assert err.value.parameter == "warm_start"
    with pytest.raises(forecast.InputError, match='expected "local"') as err:
        forecast.backtest(sim.panel, ["2015-06"], scheduler=42)
    assert err.value.parameter == "scheduler"
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if not installed
    with pytest.raises(forecast.InputError, match="'distributed' extra"):
        forecast.backtest(sim.panel, ["2015-06"], scheduler="local")
    # a fit is a worker: its chains have a core each where there are enough
    assert [local_workers(4, c) for c in (1, 2, 4, 7, 8, 16)] == [1, 1, 1, 1, 2, 4]
    assert local_workers(1, 2) == 2


def test_workers_that_cannot_run_the_tasks_are_refused_by_name():
    """A worker without the package gave a traceback from unpickling, one of another
    version other draws, and a scheduler without workers a backtest that never ended."""
    from importlib.metadata import version

    from forecast.scheduling import check_workers

    class Client:  # what check_workers asks of a dask.distributed.Client
        def __init__(self, found):
            self.found, self.scheduler = found, type("rpc", (), {"address": "tcp://s:8786"})

        def run(self, function, *args, on_error):
            assert on_error == "return" and function(*args) == version("forecast")
            return self.found

    ours = version("forecast")
    check_workers(Client({"tcp://a:1": ours, "tcp://b:1": ours}))
    for found, said in (({}, "the scheduler has no workers"),
                        ({"tcp://a:1": ours, "tcp://b:1": ModuleNotFoundError("forecast")},
                         "worker tcp://b:1 does not have the package"),
                        ({"tcp://a:1": "0.0.1"}, "worker tcp://a:1 has forecast 0.0.1: expected "
                         f"forecast {ours} on every worker")):
        with pytest.raises(forecast.InputError, match=said) as err:
            check_workers(Client(found))
        assert (err.value.parameter, err.value.value) == ("scheduler", "tcp://s:8786")


def test_a_false_warm_start_of_any_kind_starts_cold(monkeypatch):
    """``warm_start=np.False_`` (or 0) started warm once None became the default."""
    from forecast.compiled import CompiledFitter

    seen = []

    def iter_fits(self, panels, *, warm_start, **kw):
        seen.append(warm_start)
        raise StopIteration  # no fit needed: what was asked for is the point

    monkeypatch.setattr(CompiledFitter, "iter_fits", iter_fits)
    sim = forecast.simulate(n_allies=3, n_months=24, seed=5)
    for warm in (np.False_, 0, False, None, True, np.True_):
        with pytest.raises((StopIteration, RuntimeError)):
            forecast.backtest(sim.panel, ["2015-06"], warm_start=warm)
    assert seen == [False, False, False, True, True, True]
