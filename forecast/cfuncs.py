"""nutpie's C entry points for a frozen model, compiled once per graph and kept on disk.

nutpie samples through two C callbacks: the log-density with its gradient, and the
expansion of a draw into every stored quantity. Its own numba backend builds them as closures
that numba cannot cache, so every process pays for them again: 26 s of the 36 s a compile of
the default model takes when every PyTensor function is already in the on-disk cache
(docs/decisions/0015-cached-entry-points.md). Compiling a callback means linking and
optimising the whole log-density again, so the cost grows with the model.

Here the callbacks are generated from source with a key that names the compiled PyTensor
graph (PyTensor's own cache key, which covers the graph, its constants and the
floating-point flags), so numba stores them in PyTensor's cache directory and a later
process loads them. They wrap PyTensor's inner graph function rather than its cached
wrapper, which on a machine's first compile saves linking and optimising the graph once
more. The callbacks do what nutpie's do, and the log-density, gradient and draws are the
same bit for bit (``tests/test_backend.py``).

Only frozen models (data and dimensions compiled in as constants) take this path: a model
with shared data needs nutpie's own callbacks, which read the data through a pointer table.

Examples
--------
>>> import forecast
>>> from pymc.model.transform.optimization import freeze_dims_and_data
>>> from forecast.design import make_design
>>> from forecast.model import build_model
>>> from forecast.spec import load_spec
>>> sim = forecast.simulate(n_allies=2, n_months=12, seed=1)
>>> spec = load_spec("static")
>>> model = freeze_dims_and_data(build_model(make_design(sim.panel, spec), spec))
>>> is_frozen(model)
True
>>> compiled = compile_frozen(model)
>>> compile_frozen(model).compiled_logp_func.cache_hits   # a second compile reads it back
1
"""

from __future__ import annotations

import hashlib
from typing import Any

import numba
import numpy as np
import pymc as pm
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.traversal import graph_inputs
from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src
from pytensor.tensor.random.type import RandomType

__all__ = ["compile_frozen", "is_frozen"]

_LOGP_SRC = """
def logp_entry(dim, x_, out_, logp_, user_data_):
    if dim != n_dim:
        return -1
    try:
        x = numba.carray(x_, (n_dim,))
        out = numba.carray(out_, (n_dim,))
        logp = numba.carray(logp_, ())
        logp_val, grad = graph(x)
        logp[()] = logp_val
        out[...] = grad
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
"""

_EXPAND_SRC = """
def expand_entry(dim, expanded, x_, out_, user_data_):
    if dim != n_dim:
        return -1
    if expanded != n_expanded:
        return -1
    try:
        x = numba.carray(x_, (n_dim,))
        out = numba.carray(out_, (n_expanded,))
        (values,) = graph(x)
        out[...] = values
    except Exception:
        return -2
    return 0
"""

# nutpie's C signatures: (dim, x, gradient, logp, user data) and (dim, n_expanded, x, out,
# user data); the return value is 0 on success
_LOGP_SIG = numba.types.int64(numba.types.uint64, numba.types.CPointer(numba.types.double),
                              numba.types.CPointer(numba.types.double),
                              numba.types.CPointer(numba.types.double), numba.types.voidptr)
_EXPAND_SIG = numba.types.int64(numba.types.uint64, numba.types.uint64,
                                numba.types.CPointer(numba.types.double),
                                numba.types.CPointer(numba.types.double), numba.types.voidptr)


def is_frozen(model: pm.Model) -> bool:
    """Whether no shared variable (data or dimension length) is left in ``model``'s graph.

    The random generators the variables draw from are shared too, but no log-density reads
    them.
    """
    outputs = [*model.free_RVs, *model.observed_RVs, *model.deterministics, *model.potentials]
    return not any(isinstance(v, SharedVariable) and not isinstance(v.type, RandomType)
                   for v in graph_inputs(outputs))


def _entry(src: str, name: str, jitted: Any, sig: Any, n_dim: int, n_expanded: int) -> Any:
    """A C callback around the PyTensor graph function ``jitted``, cached under its key."""
    key = CACHED_SRC_FUNCTIONS.get(getattr(jitted, "py_func", None))
    # PyTensor wraps each cacheable graph function in a one-line caller; the callback calls
    # what it wraps, so that a first compile does not optimise the graph a third time
    graph = getattr(jitted, "py_func", jitted).__globals__.get("jitable_func", jitted)
    env = {"__name__": __name__, "np": np, "numba": numba, "graph": graph, "n_dim": n_dim,
           "n_expanded": n_expanded}
    # numba's own index adds the bytecode; the source's hash keeps stale entries apart too
    tag = hashlib.sha256(src.encode()).hexdigest()[:12]
    fn = compile_numba_function_src(
        src, name, global_env=env,
        cache_key=None if key is None else f"forecast_{name}_{tag}_{key}_{n_dim}_{n_expanded}")
    return numba.cfunc(sig, cache=key is not None)(fn)


def compile_frozen(model: pm.Model) -> Any:
    """Compile a frozen ``model`` for nutpie's numba sampler with cacheable C callbacks.

    The initial points, the stored quantities and their layout are nutpie's
    (``nutpie.compile_pymc_model(model, backend="numba")`` with its defaults).

    Parameters
    ----------
    model
        A model with no shared variables (:func:`is_frozen`), e.g. from
        ``pymc.model.transform.optimization.freeze_dims_and_data``.

    Returns
    -------
    nutpie.compiled_pyfunc.CompiledPyMCModel
        Ready for :func:`nutpie.sample`.
    """
    from nutpie import compile_pymc as ncp
    from pymc.initial_point import make_initial_point_fn

    if not is_frozen(model):
        raise ValueError("compile_frozen needs a model without shared data or dimensions")
    start = make_initial_point_fn(model=model, default_strategy="support_point",
                                  jitter_rvs=set(model.free_RVs), return_transformed=True)
    (n_dim, n_expanded, logp_fn, expand_fn, initial_point_fn, shape_info,
     reparameterized) = ncp._make_functions(model, mode="NUMBA", compute_grad=True,
                                            join_expanded=True,
                                            pymc_initial_point_fn=ncp._wrap_with_lock(start),
                                            var_names=None)
    if logp_fn.get_shared() or expand_fn.get_shared():  # is_frozen missed a shared input
        raise ValueError("compile_frozen needs a model without shared data or dimensions")
    logp_entry = _entry(_LOGP_SRC, "logp_entry", logp_fn.vm.jit_fn, _LOGP_SIG, n_dim,
                        n_expanded)
    expand_entry = _entry(_EXPAND_SRC, "expand_entry", expand_fn.vm.jit_fn, _EXPAND_SIG, n_dim,
                          n_expanded)
    dims, coords = ncp._prepare_dims_and_coords(model, shape_info, reparameterized)
    return ncp.CompiledPyMCModel(
        _n_dim=n_dim, dims=dims, _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info)},
        compiled_logp_func=logp_entry, compiled_expand_func=expand_entry,
        initial_point_func=initial_point_fn, shared_data={}, shared_var_keys={},
        user_data=ncp.make_user_data({}, {}), n_expanded=n_expanded, shape_info=shape_info,
        logp_func=logp_fn, expand_func=expand_fn, reparameterized_names=reparameterized)
