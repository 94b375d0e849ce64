"""Tables of posterior summaries (forecast.results)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import forecast
from forecast.results import interval_table


def test_interval_table_rows_follow_the_draws_dims():
    """Rows run ally by ally, month by month, whatever the order of the coordinates.

    A Dataset built from the draws orders its dims by its coordinates; a posterior whose
    ``period`` coordinate came first gave month-major rows, and a comparison with a truth
    array raveled ally by ally then fell to a correlation of 0.04.
    """
    rng = np.random.default_rng(3)
    values = rng.normal(size=(2, 50, 3, 4))
    coords = {"period": ["2020-01", "2020-02", "2020-03", "2020-04"], "ally": ["B", "A", "C"],
              "chain": [0, 1], "draw": np.arange(50)}  # period listed first on purpose
    draws = xr.DataArray(values, dims=("chain", "draw", "ally", "period"), coords=coords)
    table = interval_table(draws, ("chain", "draw"))
    assert table["ally"].tolist() == [a for a in ["B", "A", "C"] for _ in range(4)]
    assert table["period"].tolist() == coords["period"] * 3
    np.testing.assert_allclose(table["mean"], values.mean(axis=(0, 1)).ravel())


def test_a_panel_and_a_fit_show_as_one_line():
    """In a notebook ``panel`` or ``fit`` shows a summary, not 50 000 characters of arrays."""
    from forecast.forecasting import oracle_fit

    sim = forecast.simulate(n_allies=3, n_months=36, seed=1)
    fit = oracle_fit(sim, n_draws=50)
    for obj, start in ((sim.panel, "Panel(3 allies A00, A01, A02; 36 months"),
                       (fit, "Fit(spec 'default', oracle, 1 chains × 50 draws")):
        text = repr(obj)
        assert text.startswith(start) and "\n" not in text and len(text) < 200, text


def test_a_fit_with_its_model_built_crosses_to_another_process():
    """A backtest's Dask task returns a Fit by pickle; the PyMC model every fit holds does not
    pickle (``AttributeError`` on a ``functools.partial``). The fit travels without it and
    rebuilds it on use."""
    import pickle

    from forecast.forecasting import oracle_fit

    fit = oracle_fit(forecast.simulate(n_allies=3, n_months=24, seed=1), n_draws=5)
    names = {rv.name for rv in fit.model.free_RVs}  # built, as after forecast.fit
    back = pickle.loads(pickle.dumps(fit))
    assert back._model is None and fit._model is not None
    assert {rv.name for rv in back.model.free_RVs} == names
    assert back.credibility().equals(fit.credibility()) and back.panel == fit.panel


def test_hedging_level_is_the_walk_by_year_as_a_factor_on_the_rate():
    """The oracle fit's draws are the truth: each year's level is exp of the simulated walk,
    centred on the panel's years, so the factors' geometric mean over the years is 1. A fit
    whose spec has no walk says so by name."""
    sim = forecast.simulate(n_allies=3, n_months=48, seed=2, params={"outcome_drift_tau": 0.5})
    level = forecast.oracle_fit(sim, n_draws=4).hedging_level()
    assert list(level.columns) == ["year", "mean", "sd", "q05", "q50", "q95"]
    assert level["year"].tolist() == [2014, 2015, 2016, 2017]
    truth = np.exp(sim.truth["outcome_drift"].values)
    np.testing.assert_allclose(level["mean"], truth, rtol=1e-10)
    np.testing.assert_allclose(level["sd"], 0.0, atol=1e-12)
    assert np.exp(np.log(level["q50"]).mean()) == pytest.approx(1.0)
    assert np.ptp(truth) > 0.1  # a walk that moved: exp(0) everywhere would pass the above
    still = forecast.oracle_fit(forecast.simulate(n_allies=3, n_months=48, seed=2), n_draws=4)
    with pytest.raises(forecast.InputError, match="no yearly walk of hedging's level"):
        still.hedging_level()
