"""Compile a PyMC model for nutpie's numba backend, the same way everywhere.

Every nutpie compile in the package goes through :func:`compile_nutpie`, and every nutpie
run through :func:`sample_nutpie`, so the single fit, the reusable fitter
(:mod:`forecast.compiled`) and the benchmarks run the same code.

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
>>> model = build_model(make_design(sim.panel, spec), spec)
>>> compiled = compile_nutpie(model)
>>> int(compiled.n_dim) > 0
True
>>> compile_nutpie(model).compiled_logp_func.cache_hits  # its C callbacks, read back from disk
1
"""

from __future__ import annotations

import ctypes
import json
import tempfile
from importlib.metadata import version
from typing import Any, Callable, Literal

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import xarray as xr

from forecast.cfuncs import compile_model

__all__ = ["DISK_TRACE_BYTES", "compile_nutpie", "logp_caller", "strict_floats",
           "check_nutpie_options", "sample_nutpie"]


def strict_floats(fastmath: bool = False) -> Any:
    """The context every compile of the package runs in: PyTensor's numba functions without
    ``fastmath`` (the module's note), so that a cold and a warm cache give the same draws.

    PyTensor 3 compiles with numba by default, so PyMC's own NUTS and ADVI
    (:func:`forecast.inference.sample_model`) need it as nutpie does. Scoped to the ``with``
    block: no process-wide setting changes.

    Examples
    --------
    >>> import pytensor
    >>> with strict_floats():
    ...     pytensor.config.numba__fastmath
    False
    """
    return pytensor.config.change_flags(numba__fastmath=fastmath)


def compile_nutpie(model: pm.Model, *, fastmath: bool = False) -> Any:
    """Compile ``model`` with nutpie's numba backend and strict floating-point semantics.

    nutpie's C callbacks are built so that numba keeps them in its on-disk cache
    (:mod:`forecast.cfuncs`): a later process loads them instead of compiling them again.

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
    with strict_floats(fastmath):
        return compile_model(model)


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


#: a trace larger than this (bytes of kept draws) is streamed to disk rather than held by
#: nutpie in memory (docs/decisions/0010-trace-on-disk.md)
DISK_TRACE_BYTES = 256 * 2**20


#: nutpie.sample's deprecated keywords: they change its adaptation, and it says so itself
_DEPRECATED = ("low_rank_modified_mass_matrix", "transform_adapt", "use_grad_based_mass_matrix")
#: nutpie.sample's keywords that sample_nutpie sets itself, and what to use instead
_SET_HERE = {"progress_bar": "progress", "save_warmup": "warmup_stats (their statistics)",
             "zarr_store": "trace", "blocking": None, "return_raw_trace": None}


def check_nutpie_options(options: dict[str, Any]) -> None:
    """Refuse, with :class:`~forecast.errors.InputError` naming the option, what
    :func:`sample_nutpie` or :func:`nutpie.sample` would refuse among ``options`` (the
    keywords they are passed beyond the draws, tuning steps, chains and seed), without
    compiling or sampling anything.

    nutpie checks its sampler's settings (``maxdepth``, ``target_accept``, ...) only when it
    starts sampling, after the model has compiled (a minute on a new machine); this asks
    nutpie's own settings object the same question first. Options nutpie names itself
    (``init_mean``, ``progress_template``, ...) are left to it.

    Examples
    --------
    >>> check_nutpie_options({"adaptation": "draw_diag", "maxdepth": 8, "trace": "memory"})
    >>> check_nutpie_options({"max_depth": 8})
    Traceback (most recent call last):
    ...
    forecast.errors.InputError: parameter 'max_depth', value '8': not an option of the sampler: nutpie says "Unknown settings attribute: max_depth"
    """
    import inspect

    import nutpie

    from forecast.errors import InputError

    for key, instead in _SET_HERE.items():
        if key in options:
            raise InputError("set by forecast itself, not an option here"
                             + (f": use {instead}" if instead else ""), parameter=key)
    if any(key in options for key in _DEPRECATED):
        return  # the adaptation they choose is nutpie's to work out
    try:
        from nutpie import _lib

        kinds = {"nuts": _lib.PyNutsSettings, "mclmc": _lib.PyMclmcSettings}
    except (ImportError, AttributeError):  # nutpie's internals have moved: nutpie will say
        return
    adaptations = {"diag": "Diag", "draw_diag": "Diag", "low_rank": "LowRank", "flow": "Flow"}
    chosen = {"sampler": options.get("sampler", "nuts"),
              "adaptation": options.get("adaptation", "diag")}
    for key, allowed in (("sampler", kinds), ("adaptation", adaptations)):
        if not isinstance(chosen[key], str) or chosen[key] not in allowed:
            raise InputError(f"not an option of the sampler: expected one of "
                             f"{', '.join(allowed)}", parameter=key, value=str(chosen[key]))
    settings = getattr(kinds[chosen["sampler"]], adaptations[chosen["adaptation"]])(0)
    named = {*inspect.signature(nutpie.sample).parameters,
             *inspect.signature(sample_nutpie).parameters}
    for key, value in options.items():
        if key in named:
            continue
        try:
            settings.update({key: value})
        except Exception as err:  # noqa: BLE001 - nutpie raises what its Rust binding raises
            raise InputError(f'not an option of the sampler: nutpie says "{err}"',
                             parameter=key, value=str(value)) from None


def sample_nutpie(
    compiled: Any,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int | None = None,
    seed: int | None = None,
    progress: bool = False,
    warmup_stats: bool = False,
    trace: Literal["auto", "memory", "disk"] = "auto",
    **kwargs: Any,
) -> xr.DataTree:
    """Sample a compiled model with nutpie; a large trace is streamed to disk as it is drawn.

    nutpie's in-memory trace keeps every tuning draw, and its conversion to ArviZ copies the
    trace twice more: about four times the posterior at the peak. Streamed to a temporary
    zarr store and read back without the tuning draws, the posterior is held once, but
    writing, reading and deleting the store's many small files cost about the same whatever
    the size: 26 s on the default data (docs/decisions/0010-trace-on-disk.md). The draws are
    the same either way. On Ctrl-C the memory path returns the draws so far (nutpie's own
    handling) and the disk path raises ``KeyboardInterrupt``, because reading a partial trace
    back from the store did not return.

    Parameters
    ----------
    compiled
        From :func:`compile_nutpie` (or its ``with_data``).
    draws, tune, chains, cores, seed
        As :func:`nutpie.sample`; ``cores`` defaults to ``chains``.
    progress
        nutpie's progress bar.
    warmup_stats
        Also keep the per-draw statistics of the tuning phase (``warmup_sample_stats``), e.g.
        to count its gradient evaluations.
    trace
        ``"disk"``: stream to a temporary zarr store; ``"memory"``: nutpie's in-memory trace;
        ``"auto"``: disk when the kept draws would take more than :data:`DISK_TRACE_BYTES`.
    **kwargs
        Further options of :func:`nutpie.sample` (e.g. ``adaptation``).

    Returns
    -------
    xarray.DataTree
        ``posterior`` (the model's variables on their own scale, with the model's
        coordinates) and ``sample_stats`` (the per-draw statistics), held in memory.
    """
    import nutpie

    if trace not in ("auto", "memory", "disk"):
        raise ValueError(f"trace must be 'auto', 'memory' or 'disk', not {trace!r}")
    taken = {"save_warmup", "zarr_store"} & set(kwargs)
    if taken:
        raise TypeError(f"sample_nutpie sets {', '.join(sorted(taken))} itself: no warm-up draws "
                        "are kept (warmup_stats keeps their statistics) and the trace option "
                        "chooses the store")
    if trace == "auto":
        trace = "disk" if compiled.n_expanded * 8 * draws * chains > DISK_TRACE_BYTES else "memory"
    options = dict(draws=draws, tune=tune, chains=chains, cores=cores or chains, seed=seed,
                   progress_bar=progress, **kwargs)
    groups = ("posterior", "sample_stats") + (("warmup_sample_stats",) if warmup_stats else ())
    if trace == "memory":
        result = nutpie.sample(compiled, save_warmup=warmup_stats, **options)
        kept = xr.DataTree.from_dict({name: result[name].to_dataset() for name in groups
                                      if name in result.children})
        kept.attrs = dict(result.attrs)
        return kept
    with tempfile.TemporaryDirectory(prefix="forecast-trace-") as tmp:
        sampler = nutpie.sample(compiled, zarr_store=nutpie.zarr_store.LocalStore(tmp),
                                blocking=False, **options)
        try:
            result = sampler.wait()
        except KeyboardInterrupt:
            # nutpie's own handler reads the partial trace back from the store, which did
            # not return on Ctrl-C; a partial trace is refused anyway, so drop it and stop
            sampler.cancel()
            raise
        return _trace_in_memory(result, compiled, groups)


def _trace_in_memory(trace: xr.DataTree, compiled: Any, names: tuple[str, ...]) -> xr.DataTree:
    """The groups ``names``, read from the on-disk trace, as nutpie's own conversion lays
    them out: variables in the model's order (the store's order is arbitrary), the
    unconstrained copies of transformed variables left out, the model's coordinates."""
    hidden = set(compiled.reparameterized_names)
    order = [name for name in compiled.shape_info[0] if name not in hidden]
    coords = {name: pd.Index(values) for name, values in compiled.coords.items()}
    groups = {}
    for name in names:
        ds = trace[name].to_dataset()
        if name == "posterior":
            ds = ds[[v for v in order if v in ds.data_vars]]
        else:  # divergence details and the mass matrix have their own, unused dimensions
            ds = ds[sorted(v for v, da in ds.data_vars.items() if da.dims == ("chain", "draw"))]
        ds = ds.load()  # read before the store is deleted
        ds = ds.assign_coords(chain=np.arange(ds.sizes["chain"]),
                              draw=np.arange(ds.sizes["draw"]),
                              **{dim: coords[dim] for dim in ds.dims if dim in coords})
        ds.attrs = {}
        groups[name] = ds
    groups["sample_stats"].attrs = {
        "inference_library": "nutpie",
        "inference_library_version": version("nutpie"),
        # what nutpie's own conversion records, and the sampler and adaptation kinds
        "inference_library_settings": json.dumps(dict(trace.attrs), default=str),
    }
    return xr.DataTree.from_dict(groups)
