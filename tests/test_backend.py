"""The compiled log-density does not depend on whether numba compiled it now or loaded it.

A compile with numba's on-disk cache switched off is what a cold machine does; a compile
with it on, after the first has filled it, is what every later run does. Their gradients
must agree bit for bit, or one seed gives two sets of draws
(docs/decisions/0006-reproducible-draws.md).
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytest
from pymc.model.transform.optimization import freeze_dims_and_data

import forecast
from forecast.backend import compile_nutpie, logp_caller
from forecast.design import make_design
from forecast.model import build_model
from forecast.spec import load_spec


@pytest.mark.slow
def test_cold_and_cached_compiles_give_the_same_gradient():
    sim = forecast.simulate(n_allies=2, n_months=12, seed=3)
    spec = load_spec("default")
    design = make_design(sim.panel, spec)
    results = []
    for cache in (True, False):  # the first fills (or reads) the on-disk cache
        model = freeze_dims_and_data(build_model(design, spec))
        with pytensor.config.change_flags(numba__cache=cache):
            compiled = compile_nutpie(model)
        logp, grad = logp_caller(compiled, np.linspace(-1.0, 1.0, compiled.n_dim))()
        results.append((logp, grad.copy()))
    (lp_cached, g_cached), (lp_cold, g_cold) = results
    assert np.isfinite(lp_cached) and np.isfinite(g_cached).all()
    assert lp_cached == lp_cold
    np.testing.assert_array_equal(g_cached, g_cold)
