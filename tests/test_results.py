"""Tables of posterior summaries (forecast.results)."""

from __future__ import annotations

import numpy as np
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
