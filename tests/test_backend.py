"""The compiled log-density does not depend on whether numba compiled it now or loaded it.

A compile with numba's on-disk cache switched off is what a cold machine does; a compile
with it on, after the first has filled it, is what every later run does. Their gradients
must agree bit for bit, or one seed gives two sets of draws
(docs/decisions/0006-reproducible-draws.md).
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytensor
import pytest
from pymc.model.transform.optimization import freeze_dims_and_data

import forecast
from forecast.backend import compile_nutpie
from forecast.design import make_design
from forecast.model import build_model
from forecast.spec import load_spec


def _gradient(compiled, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Call the C log-density nutpie samples with, as nutpie calls it."""
    n = compiled.n_dim
    out, logp = np.zeros(n), np.zeros(())
    ptr = ctypes.POINTER(ctypes.c_double)
    rc = compiled.compiled_logp_func.ctypes(
        n, x.ctypes.data_as(ptr), out.ctypes.data_as(ptr), logp.ctypes.data_as(ptr),
        ctypes.c_void_p(compiled.user_data.ctypes.data))
    assert rc == 0
    return float(logp), out


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
        x = np.linspace(-1.0, 1.0, compiled.n_dim)
        results.append(_gradient(compiled, x))
    (lp_cached, g_cached), (lp_cold, g_cold) = results
    assert np.isfinite(lp_cached) and np.isfinite(g_cached).all()
    assert lp_cached == lp_cold
    np.testing.assert_array_equal(g_cached, g_cold)
