"""The AR(1) recursion operation: values and gradients on every backend it runs on."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import verify_grad

from forecast.recursion import AR1Filter, ar1_filter


def _explicit(u, phi):
    x = u.copy()
    for t in range(1, u.shape[1]):
        x[:, t] = phi * x[:, t - 1] + u[:, t]
    return x


@pytest.fixture
def series():
    rng = np.random.default_rng(0)
    return rng.normal(size=(3, 37)), np.array([0.2, 0.9, -0.5])


def test_numpy_path_matches_the_recursion(series):
    u, phi = series
    np.testing.assert_allclose(ar1_filter(u, phi), _explicit(u, phi), rtol=1e-12)
    # one series with a scalar coefficient
    np.testing.assert_allclose(ar1_filter(u[1], 0.9), _explicit(u[1:2], phi[1:2])[0], rtol=1e-12)


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMBA"])
def test_tensor_path_matches_the_recursion(series, mode):
    u, phi = series
    u_t, phi_t = pt.matrix("u"), pt.vector("phi")
    f = pytensor.function([u_t, phi_t], ar1_filter(u_t, phi_t), mode=mode)
    np.testing.assert_allclose(f(u, phi), _explicit(u, phi), rtol=1e-12)
    g_t, rho_t = pt.vector("g"), pt.scalar("rho")
    f1 = pytensor.function([g_t, rho_t], ar1_filter(g_t, rho_t), mode=mode)
    np.testing.assert_allclose(f1(u[2], -0.5), _explicit(u[2:3], phi[2:3])[0], rtol=1e-12)


def test_gradient_matches_finite_differences(series):
    u, phi = series
    verify_grad(AR1Filter(), [u[:, :12], phi], rng=np.random.default_rng(1))


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMBA"])
def test_gradient_is_the_recursion_run_backwards(series, mode):
    # d/du and d/dphi of a weighted sum, against the explicit recursion's finite differences
    u, phi = series
    w = np.random.default_rng(2).normal(size=u.shape)
    u_t, phi_t = pt.matrix("u"), pt.vector("phi")
    loss = (ar1_filter(u_t, phi_t) * w).sum()
    f = pytensor.function([u_t, phi_t], pt.grad(loss, [u_t, phi_t]), mode=mode)
    du, dphi = f(u, phi)
    eps = 1e-6
    fd_phi = np.array([((_explicit(u, phi + eps * e) - _explicit(u, phi - eps * e)) * w).sum()
                       / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(dphi, fd_phi, rtol=1e-6)
    # the loss is linear in u, so d/du is exact: r[t] = w[t] + phi·r[t+1]
    r = w.copy()
    for t in range(u.shape[1] - 2, -1, -1):
        r[:, t] += phi * r[:, t + 1]
    np.testing.assert_allclose(du, r, rtol=1e-12)


def test_rejects_wrong_shapes():
    with pytest.raises(TypeError, match="series, time"):
        AR1Filter()(pt.tensor3("u"), pt.vector("phi"))
    f = pytensor.function([u := pt.matrix("u"), phi := pt.vector("phi")], AR1Filter()(u, phi),
                          mode="FAST_COMPILE")
    with pytest.raises(ValueError, match="phi has shape"):
        f(np.zeros((3, 4)), np.zeros(2))


def test_jax_path_matches_the_recursion(series):
    pytest.importorskip("jax")
    u, phi = series
    u_t, phi_t = pt.matrix("u"), pt.vector("phi")
    loss = (ar1_filter(u_t, phi_t) ** 2).sum()
    outs = [ar1_filter(u_t, phi_t), *pt.grad(loss, [u_t, phi_t])]
    jax_vals = pytensor.function([u_t, phi_t], outs, mode="JAX")(u, phi)
    ref_vals = pytensor.function([u_t, phi_t], outs, mode="FAST_COMPILE")(u, phi)
    for got, want in zip(jax_vals, ref_vals, strict=True):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10)
