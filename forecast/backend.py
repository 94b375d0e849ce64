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

from typing import Any

import pymc as pm
import pytensor

__all__ = ["compile_nutpie"]


def compile_nutpie(model: pm.Model) -> Any:
    """Compile ``model`` with nutpie's numba backend and strict floating-point semantics.

    Parameters
    ----------
    model
        A built model (frozen or not).

    Returns
    -------
    nutpie.compiled_pyfunc.CompiledPyMCModel
        Ready for :func:`nutpie.sample` (and ``with_data`` when the model is not frozen).
    """
    import nutpie

    with pytensor.config.change_flags(numba__fastmath=False):
        return nutpie.compile_pymc_model(model, backend="numba")
