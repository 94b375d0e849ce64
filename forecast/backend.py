"""Compile a PyMC model for nutpie's numba backend, the same way everywhere.

Every nutpie compile in the package goes through :func:`compile_nutpie`, so the single
fit, the reusable fitter (:mod:`forecast.compiled`) and the benchmarks run the same code.

PyTensor's numba functions default to ``fastmath`` flags that let LLVM contract and
reorder floating-point operations. How it does so depends on what is inlined into what,
and that differs between a graph compiled in this process and one loaded from numba's
on-disk cache. The gradient then differs in its last bits, NUTS trajectories diverge, and
the same seed gives different draws on a cold and a warm machine. With ``fastmath`` off
the compiled log-density is bit-for-bit the same either way, at about 3% of evaluation
speed (docs/decisions/0006-reproducible-draws.md).

Examples
--------
>>> import forecast
>>> from forecast.backend import compile_nutpie
>>> from forecast.design import make_design
>>> from forecast.model import build_model
>>> from forecast.spec import load_spec
>>> sim = forecast.simulate(n_allies=2, n_months=12, seed=1)
>>> spec = load_spec("static")
>>> compiled = compile_nutpie(build_model(make_design(sim.panel, spec), spec))  # doctest: +SKIP
>>> compiled.n_dim > 0                                                      # doctest: +SKIP
True
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable

import numpy as np
import pymc as pm
import pytensor

__all__ = ["compile_nutpie", "logp_caller"]


def compile_nutpie(model: pm.Model, *, fastmath: bool = False) -> Any:
    """Compile ``model`` with nutpie's numba backend and strict floating-point semantics.

    Parameters
    ----------
    model
        A built model (frozen or not).
    fastmath
        Let numba reorder floating-point operations. Off in the package; on only to measure
        what strictness costs (``benchmarks/fastmath.py``).

    Returns
    -------
    nutpie.compiled_pyfunc.CompiledPyMCModel
        Ready for :func:`nutpie.sample` (and ``with_data`` when the model is not frozen).
    """
    import nutpie

    with pytensor.config.change_flags(numba__fastmath=fastmath):
        return nutpie.compile_pymc_model(model, backend="numba")


def logp_caller(compiled: Any, x: np.ndarray) -> Callable[[], tuple[float, np.ndarray]]:
    """Evaluate nutpie's compiled C log-density and gradient at ``x``, as nutpie calls it.

    Returns a function of no arguments that evaluates once and returns ``(logp, gradient)``
    (the gradient array is reused between calls). It raises if the evaluation fails.
    """
    n = compiled.n_dim
    x = np.ascontiguousarray(x, dtype=float)
    grad, logp = np.zeros(n), np.zeros(())
    ptr = ctypes.POINTER(ctypes.c_double)
    args = (n, x.ctypes.data_as(ptr), grad.ctypes.data_as(ptr), logp.ctypes.data_as(ptr),
            ctypes.c_void_p(compiled.user_data.ctypes.data))
    fn = compiled.compiled_logp_func.ctypes

    def call() -> tuple[float, np.ndarray]:
        if fn(*args) != 0:
            raise RuntimeError("the compiled log-density could not be evaluated")
        return float(logp), grad

    return call
