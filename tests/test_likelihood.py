"""The negative-binomial block: the same log-mass, gradient and draws as PyMC's own."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from forecast.likelihood import negbin_logp, negbin_observed


def _pymc_logp_and_grads():
    """PyMC's NegativeBinomial log-mass (per-observation alpha) and the gradient of its sum
    with respect to eta and log_alpha, next to ours, as one compiled function."""
    y, idx = pt.lvector("y"), pt.lvector("idx")
    eta, la = pt.dvector("eta"), pt.dvector("la")
    ref = pm.logp(pm.NegativeBinomial.dist(mu=pt.exp(eta), alpha=pt.exp(la)[idx]), y)
    ours = negbin_logp(y, eta, la, idx)
    grads = pt.grad(ref.sum(), [eta, la]) + pt.grad(ours.sum(), [eta, la])
    return pytensor.function([y, eta, la, idx], [ref, ours, *grads])


FN = _pymc_logp_and_grads()


@settings(max_examples=60, deadline=None)
@given(
    y=st.lists(st.integers(0, 400), min_size=1, max_size=12),
    eta=st.floats(-30, 30),
    spread=st.floats(0, 8),
    la=st.lists(st.floats(-6, 6), min_size=1, max_size=3),
    seed=st.integers(0, 2**16),
)
def test_log_mass_and_gradient_equal_pymcs_negative_binomial(y, eta, spread, la, seed):
    rng = np.random.default_rng(seed)
    y = np.asarray(y, dtype="int64")
    etas = eta + spread * rng.standard_normal(y.size)
    la = np.asarray(la)
    idx = rng.integers(0, la.size, y.size)
    ref, ours, d_eta_ref, d_la_ref, d_eta, d_la = FN(y, etas, la, idx)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(d_eta, d_eta_ref, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(d_la, d_la_ref, rtol=1e-8, atol=1e-7)


def test_log_mass_equals_scipys():
    y = np.array([0, 1, 2, 5, 17, 0, 3])
    eta = np.array([-2.0, 0.0, 0.4, 1.7, 2.5, 3.0, -0.5])
    la = np.array([-1.0, 0.5])
    idx = np.array([0, 1, 0, 1, 0, 1, 1])
    alpha, mu = np.exp(la)[idx], np.exp(eta)
    expected = stats.nbinom.logpmf(y, alpha, alpha / (alpha + mu))
    np.testing.assert_allclose(negbin_logp(y, eta, la, idx).eval(), expected, rtol=1e-12)


def test_a_wrong_dispersion_index_changes_the_log_mass():
    """The index is used: the same counts under the other signal's dispersion differ."""
    y, eta, la = np.array([0, 4, 9]), np.array([0.5, 1.0, 2.0]), np.array([-1.5, 1.5])
    a = negbin_logp(y, eta, la, np.array([0, 0, 0])).eval()
    b = negbin_logp(y, eta, la, np.array([1, 1, 1])).eval()
    assert np.all(np.abs(a - b) > 1e-3)


def test_draws_follow_the_same_negative_binomial():
    """Random draws (prior and posterior predictive) are PyMC's NegativeBinomial: mean exp(eta),
    variance mu + mu²/alpha."""
    eta, la = np.full(20000, np.log(3.0)), np.array([np.log(0.5)])
    with pm.Model() as m:
        negbin_observed("y", eta, la, np.zeros(20000, dtype=int), np.zeros(20000, dtype=int))
    draws = pm.draw(m["y"], random_seed=3)
    assert draws.mean() == pytest.approx(3.0, rel=0.05)
    assert draws.var() == pytest.approx(3.0 + 9.0 / 0.5, rel=0.08)


def test_a_huge_dispersion_is_the_poisson_limit():
    """Above alpha = 1e10 the log-mass switches to its Poisson limit; value and gradient there
    are Poisson's (the hypothesis test keeps log alpha within ±6)."""
    y, idx = np.array([0, 1, 4, 30]), np.zeros(4, dtype=int)
    eta = np.array([-1.0, 0.2, 1.3, 3.4])
    for la in (25.0, 40.0):
        ref, ours, _, _, d_eta, d_la = FN(y, eta, np.array([la]), idx)
        np.testing.assert_allclose(ours, stats.poisson.logpmf(y, np.exp(eta)), rtol=1e-8)
        np.testing.assert_allclose(d_eta, y - np.exp(eta), rtol=1e-6, atol=1e-8)
        assert abs(d_la[0]) < 1e-6
