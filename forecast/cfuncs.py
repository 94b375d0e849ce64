"""nutpie's C entry points, compiled once per graph and kept in numba's on-disk cache.

nutpie samples through two C callbacks: the log-density with its gradient, and the
expansion of a draw into every stored quantity. Its own numba backend builds them as closures
that numba cannot cache, so every process pays for them again: 26 s of the 36 s a compile of
the default model takes when every PyTensor function is already in the on-disk cache
(docs/decisions/0015-cached-entry-points.md). Compiling a callback means linking and
optimising the whole log-density again, so the cost grows with the model.

Here the callbacks are generated from source with a key that names the compiled PyTensor
graph (PyTensor's own cache key, which covers the graph, its constants and the fastmath
flag) and what the callback adds (:func:`cache_name`), so numba stores them in PyTensor's
cache directory and a later process loads them. They inline PyTensor's inner graph function
rather than call its cached wrapper, so that a machine's first compile types, optimises and
emits the graph once, in the callback, where nutpie's way did it three times (the graph
function, PyTensor's wrapper, the callback). The callbacks do what nutpie's do; for a frozen
model the log-density, gradient and draws are the same bit for bit, and for a model with shared
data the same to rounding, since its graph reads the sizes from its inputs
(:func:`model_functions`, ``tests/test_backend.py``).

A model with shared data (what ``with_data`` swaps, for a compiled model reused across
panels) passes the arrays as nutpie does: a table of pointers, sizes and shapes in
``user_data`` that the callback reads at each call.

When the cache does not hold a callback yet, a second process compiles PyTensor's operations
meanwhile, and the expansion's callback (:mod:`forecast.precompile`,
docs/decisions/0016-background-precompile.md).

Every nutpie compile of the package comes here through
:func:`forecast.backend.compile_nutpie`, whose example shows a second compile reading the
callbacks back.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from functools import partial
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pymc as pm
import pytensor
from numba.core import cgutils, sigutils, types
from numba.core.caching import NullCache
from numba.core.ccallback import CFunc
from numba.extending import intrinsic
from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

from forecast.precompile import in_background, warm_operations

__all__ = ["available_cores", "cache_name", "compile_model", "initial_point_function",
           "model_functions"]

#: a change to this module (the helpers the generated source calls) changes every cache name
_MODULE_HASH = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]

_LOGP_SRC = """
def logp_entry(dim, x_, out_, logp_, user_data_):
    table = numba.carray(user_data_, (), record_dtype)['shared']
    if dim != numba.carray(address(table['data']['sizes'][()]), 2, np.int64)[0]:
        return -1
    try:
        x = numba.carray(x_, (dim,))
        out = numba.carray(out_, (dim,))
        logp = numba.carray(logp_, ())
{shared}        logp_val, grad = graph(x{args})
        if grad.shape[0] != dim:
            return -1
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
    table = numba.carray(user_data_, (), record_dtype)['shared']
    sizes = numba.carray(address(table['data']['sizes'][()]), 2, np.int64)
    if dim != sizes[0] or expanded != sizes[1]:
        return -1
    try:
        x = numba.carray(x_, (dim,))
        out = numba.carray(out_, (expanded,))
{shared}        (values,) = graph(x{args})
        if values.shape[0] != expanded:
            return -1
        out[...] = values
    except Exception:
        return -2
    return 0
"""

# nutpie's C signatures: (dim, x, gradient, logp, user data) and (dim, n_expanded, x, out,
# user data); the return value is 0 on success
_LOGP_SIG = types.int64(types.uint64, types.CPointer(types.double),
                        types.CPointer(types.double), types.CPointer(types.double),
                        types.voidptr)
_EXPAND_SIG = types.int64(types.uint64, types.uint64, types.CPointer(types.double),
                          types.CPointer(types.double), types.voidptr)
_CALLBACKS = {"logp_entry": (_LOGP_SRC, _LOGP_SIG), "expand_entry": (_EXPAND_SRC, _EXPAND_SIG)}
#: the key of the table's entry that holds the model's numbers of free and stored values
_SIZES = "sizes"
#: CPython compiles a call with more positional arguments than this as ``f(*args)``, which
#: numba cannot inline: a graph with more inputs (the point and the shared arrays) is called
_MAX_INLINE_ARGS = 30


@intrinsic
def _address_as_pointer(typingctx, address):
    """The integer ``address`` as a ``void*``."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen


def _read_shared(keys: list[str], ndims: dict[str, int]) -> str:
    """Source lines that view each shared array ``keys[i]`` as ``shared_i``, read from
    nutpie's table in ``user_data_`` (pointer, size and shape per array)."""
    lines = []
    for i, key in enumerate(keys):
        shape = "".join(f"table['shape']['{key}'][{d}], " for d in range(ndims[key]))
        lines.append(
            f"        shared_{i} = numba.carray(address(table['data']['{key}'][()]), "
            f"table['size']['{key}'][()], dtype_{i}).reshape(({shape}))")
    return "\n".join(lines) + "\n"


def cache_name(graph_key: str, src: str, record_dtype: np.dtype, dtypes: list[np.dtype]) -> str:
    """The name a callback is cached under: everything compiled into it.

    PyTensor's ``graph_key`` covers the graph function (its graph, constants and fastmath
    flag); the callback adds its source, the layout of the shared-array table, the arrays'
    dtypes and this module's own code (the helpers the source calls). numba's index adds the
    signature and the bytecode, not the globals the source reads. The sizes are not in it:
    the graph reads them from its arguments (:func:`model_functions`), so panels with other
    numbers of months share the callbacks.

    Examples
    --------
    >>> f8 = np.dtype("f8")
    >>> cache_name("k", "src", f8, []) == cache_name("k", "src", f8, [])
    True
    >>> cache_name("k", "src", f8, []) == cache_name("k", "src", f8, [f8])
    False
    """
    parts = repr((src, record_dtype.descr, [str(np.dtype(d)) for d in dtypes], _MODULE_HASH))
    tag = hashlib.sha256(parts.encode()).hexdigest()[:16]
    return f"forecast_{tag}_{graph_key}"


def _callback(name: str, jitted: Any, keys: list[str], dtypes: list[np.dtype],
              ndims: list[int], record_dtype: np.dtype) -> CFunc:
    """nutpie's C callback ``name`` (``"logp_entry"`` or ``"expand_entry"``) around the graph
    function ``jitted`` that PyTensor's numba linker built, reading the shared arrays
    ``keys`` (of ``dtypes`` and ``ndims``) from the table in ``user_data``.

    It is cached under the graph's key (uncached when PyTensor gives the graph none, e.g.
    with its numba cache switched off); built, not compiled."""
    template, sig = _CALLBACKS[name]
    py_func = getattr(jitted, "py_func", None)
    graph_key = CACHED_SRC_FUNCTIONS.get(py_func) if py_func is not None else None
    # PyTensor wraps each cacheable graph function in a one-line caller; the callback calls
    # what it wraps, so that a first compile does not optimise the graph a third time
    graph = py_func.__globals__.get("jitable_func", jitted) if py_func is not None else jitted
    if hasattr(graph, "py_func") and 1 + len(keys) <= _MAX_INLINE_ARGS:
        # and inlines it, with the options PyTensor compiled it with: the graph is then typed,
        # optimised and emitted once, inside the callback, not first as a function of its own
        options = {k: v for k, v in graph.targetoptions.items() if k != "nopython"}
        graph = numba.njit(inline="always", **options)(graph.py_func)
    src = template.format(shared=_read_shared(keys, dict(zip(keys, ndims, strict=True))),
                          args="".join(f", shared_{i}" for i in range(len(keys))))
    env = {"__name__": __name__, "np": np, "numba": numba, "graph": graph,
           "record_dtype": record_dtype,
           "address": _address_as_pointer, **{f"dtype_{i}": d for i, d in enumerate(dtypes)}}
    fn = compile_numba_function_src(
        src, name, global_env=env,
        cache_key=None if graph_key is None else cache_name(graph_key, src, record_dtype,
                                                            dtypes))
    # what numba.cfunc builds, not compiled yet
    callback = CFunc(fn, sigutils.normalize_signature(sig), locals={}, options={})
    if graph_key is not None:
        callback.enable_caching()
    return callback


def compile_callback(fgraph: Any, name: str, layout: dict[str, Any], fastmath: bool) -> None:
    """Compile the callback ``name`` of the rewritten graph ``fgraph`` into numba's cache, as
    :func:`compile_model` would with ``layout`` (:func:`_callback`'s arguments after
    ``jitted``): a second process's work (:mod:`forecast.precompile`)."""
    from pytensor.link.numba.dispatch.basic import numba_funcify_ensure_cache

    with pytensor.config.change_flags(numba__fastmath=fastmath):
        jitted, _ = numba_funcify_ensure_cache(fgraph)
        _callback(name, jitted, **layout).compile()


def _to_compile(callback: CFunc) -> bool:
    """Whether numba will compile ``callback`` into its cache rather than load it from there.

    False for a callback numba does not cache (PyTensor's cache switched off): then nothing a
    second process compiled would be read. True when it cannot tell."""
    cache = callback._cache
    if isinstance(cache, NullCache):
        return False
    try:
        key = cache._index_key(callback._sig, callback._targetdescr.target_context.codegen())
        return key not in cache._cache_file._load_index()
    except AttributeError:  # numba's cache has changed: assume a miss
        return True


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one).

    Examples
    --------
    >>> available_cores() >= 1
    True
    """
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def initial_point_function(model: pm.Model) -> Any:
    """PyMC's initial-point function for ``model`` as nutpie builds it by default: the support
    point with a U(-1, 1) jitter on every free variable, on the unconstrained scale, behind
    nutpie's lock (its sampler threads call it)."""
    from nutpie.compile_pymc import _wrap_with_lock
    from pymc.initial_point import make_initial_point_fn

    return _wrap_with_lock(make_initial_point_fn(
        model=model, default_strategy="support_point", jitter_rvs=set(model.free_RVs),
        return_transformed=True))


def _value_shape(model: pm.Model, rv: Any) -> Any:
    """The shape of ``rv``'s value variable (on the unconstrained scale) as a graph of the
    model's dimension lengths and data, with no random draw left in it."""
    from pytensor.graph import rewrite_graph
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.random.type import RandomGeneratorType

    transform = model.rvs_to_transforms.get(rv)
    value = transform.forward(rv, *rv.owner.inputs) if transform is not None else rv
    shape = rewrite_graph(value.shape, include=("ShapeOpt", "canonicalize",
                                                "local_shape_to_shape_i"))
    # any random variable, PyTensor's or PyMC's symbolic ones, reads a generator
    if any(isinstance(v.type, RandomGeneratorType) for v in ancestors([shape])):
        raise ValueError(f"the shape of {rv.name!r} could not be written without drawing it")
    return shape


def model_functions(model: pm.Model) -> tuple:
    """The PyTensor functions nutpie samples ``model`` with, as graphs of any size.

    ``(n_dim, n_expanded, logp_fn, expand_fn, initial_point_fn, shape_info, reparameterized)``
    as nutpie's numba backend returns them (``nutpie.compile_pymc._make_functions``), with one
    difference: nutpie cuts its flat vector of free values at offsets it computes once, so
    the numbers of months and observations are constants of its graph, and a panel one month
    longer is a new graph to compile. Here each free variable's slice is computed in the graph
    from the model's dimension lengths, which are shared variables like the data: the graph
    (and so its compiled callbacks, :func:`cache_name`) is the same for every panel of a
    catalog and spec, whatever its length, and a new month or a backtest origin loads it
    from the cache (docs/decisions/0021-shape-generic-graph.md). A frozen model's lengths are
    constants: its graph computes what nutpie's does, bit for bit.

    The other entries are for this model's sizes: ``n_dim`` free values, ``n_expanded`` stored
    values, ``shape_info = (names, slices, shapes)`` of the stored quantities, nutpie's flat
    initial-point function (:func:`initial_point_function`) and the names of the transformed
    free variables. The rewritten graphs are ``logp_fn.maker.fgraph`` and
    ``expand_fn.maker.fgraph``.

    Examples
    --------
    >>> import forecast
    >>> from forecast.design import make_design
    >>> from forecast.model import build_model
    >>> spec = forecast.load_spec("static")
    >>> model = build_model(make_design(forecast.simulate(2, 12, seed=1).panel, spec), spec)
    >>> n_dim, n_expanded, logp_fn, *_ = model_functions(model)
    >>> point = model.initial_point()
    >>> x = np.concatenate([np.ravel(point[model.rvs_to_values[rv].name])
    ...                     for rv in model.free_RVs])
    >>> bool(np.isclose(logp_fn(x)[0], model.compile_logp()(point)))
    True
    """
    import pytensor.tensor as pt
    from nutpie.compile_pymc import _compute_shapes, _rv_dict_to_flat_array_wrapper
    from pymc.pytensorf import compile as compile_pymc
    from pytensor.graph import clone_replace, rewrite_graph

    sizes = _compute_shapes(model)  # this model's, for the layout nutpie reads
    rewrites = ["canonicalize", "stabilize"]
    if not model.check_bounds:
        rewrites.append("local_remove_check_parameter")
    logp = rewrite_graph(model.logp(), include=rewrites)
    values = [model.rvs_to_values[rv] for rv in model.free_RVs]
    grad = pt.concatenate([pt.as_tensor(g, allow_xtensor_conversion=True).ravel()
                           for g in pt.grad(logp, values)])

    names, slices, shapes = [], [], []

    def lay_out(name: str) -> None:
        """Append ``name``'s place in nutpie's flat layout of this model's sizes."""
        start = slices[-1].stop if slices else 0
        shapes.append(tuple(int(n) for n in sizes[name]))
        names.append(name)
        slices.append(slice(start, start + int(np.prod(shapes[-1]))))

    joined = pt.dvector("_unconstrained_point")
    replacements = {}
    start = 0
    for rv, value in zip(model.free_RVs, values, strict=True):
        shape = _value_shape(model, rv)
        stop = start + pt.prod(shape)
        replacements[value] = joined[start:stop].reshape(shape, ndim=value.ndim).astype(
            value.dtype)
        start = stop
        lay_out(value.name)
    n_dim = slices[-1].stop if slices else 0
    logp, grad = clone_replace([logp, grad], replacements)
    with model:
        logp_fn = compile_pymc((joined,), (logp, grad), mode="NUMBA")

    stored = [v for v in model.unobserved_value_vars if v.name not in names]
    free_names = list(names)
    for var in stored:
        lay_out(var.name)
    expanded = pt.concatenate(
        [*(replacements[v].ravel() for v in values),
         *(pt.as_tensor(v, allow_xtensor_conversion=True).ravel() for v in stored)])
    with model:
        expand_fn = compile_pymc((joined,), [expanded], givens=list(replacements.items()),
                                 mode="NUMBA")
    initial_point_fn = _rv_dict_to_flat_array_wrapper(
        initial_point_function(model), names=free_names, shapes=shapes[:len(free_names)])
    reparameterized = [model.rvs_to_values[rv].name for rv in model.free_RVs
                       if model.rvs_to_transforms.get(rv) is not None]
    n_expanded = slices[-1].stop if slices else 0
    return (n_dim, n_expanded, logp_fn, expand_fn, initial_point_fn, (names, slices, shapes),
            reparameterized)


def compile_model(model: pm.Model, *, background: bool = True) -> Any:
    """Compile ``model`` for nutpie's numba sampler with cacheable C callbacks.

    The initial points, the stored quantities and their layout are nutpie's
    (``nutpie.compile_pymc_model(model, backend="numba")`` with its defaults), and so is
    ``with_data`` for a model with shared data.

    The floating-point flags are PyTensor's current ones; :func:`forecast.backend.compile_nutpie`
    sets them strict.

    Parameters
    ----------
    model
        A built model, frozen or not.
    background
        When numba's cache does not hold a callback yet and the machine has two cores or
        more, let a second process compile PyTensor's operations into the cache meanwhile
        (:mod:`forecast.precompile`). It changes how long a first compile takes, not what it
        builds.

    Returns
    -------
    nutpie.compiled_pyfunc.CompiledPyMCModel
        Ready for :func:`nutpie.sample`.
    """
    from nutpie import compile_pymc as ncp

    (n_dim, n_expanded, logp_fn, expand_fn, initial_point_fn, shape_info,
     reparameterized) = model_functions(model)
    # the shared arrays, copied and read-only as nutpie holds them, under keys that stay the
    # same from one compile to the next (they are compiled into the callbacks)
    shared_var_keys: dict[Any, str] = {}
    for var in [*logp_fn.get_shared(), *expand_fn.get_shared()]:
        shared_var_keys.setdefault(var, f"shared{len(shared_var_keys)}")
    shared_data = {}
    for var, key in shared_var_keys.items():
        shared_data[key] = np.array(var.get_value(), order="C", copy=True)
        shared_data[key].flags.writeable = False
    # the sizes this model's graph gives, in the table too: the callbacks check nutpie's
    # arguments against them before the graph reads anything (they are not compiled in)
    sizes = np.array([n_dim, n_expanded], dtype=np.int64)
    sizes.flags.writeable = False
    shared_var_keys[pytensor.shared(sizes, name=_SIZES)] = _SIZES
    shared_data[_SIZES] = sizes
    user_data = ncp.make_user_data(shared_var_keys, shared_data)
    fastmath = bool(pytensor.config.numba__fastmath)
    functions = {"logp_entry": logp_fn, "expand_entry": expand_fn}
    layouts = {}
    for name, fn in functions.items():
        keys = [shared_var_keys[v] for v in fn.get_shared()]
        layouts[name] = dict(keys=keys, dtypes=[shared_data[k].dtype for k in keys],
                             ndims=[shared_data[k].ndim for k in keys],
                             record_dtype=user_data.dtype)
    entries = {name: _callback(name, fn.vm.jit_fn, **layouts[name])
               for name, fn in functions.items()}
    # On a cold cache a second process helps: it compiles the log-density's operations from
    # the other end of the graph from this process's, then the expansion's callback, which
    # this process needs last
    tasks = []
    if _to_compile(entries["logp_entry"]):
        tasks.append(partial(warm_operations, logp_fn.maker.fgraph, reverse=True,
                             fastmath=fastmath))
    if _to_compile(entries["expand_entry"]):
        tasks.append(partial(compile_callback, expand_fn.maker.fgraph, "expand_entry",
                             layouts["expand_entry"], fastmath))
    with (in_background(tasks) if background and tasks and available_cores() > 1
          else contextlib.nullcontext()):
        for entry in entries.values():
            entry.compile()
    dims, coords = ncp._prepare_dims_and_coords(model, shape_info, reparameterized)
    return ncp.CompiledPyMCModel(
        _n_dim=n_dim, dims=dims, _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info)},
        compiled_logp_func=entries["logp_entry"],
        compiled_expand_func=entries["expand_entry"],
        initial_point_func=initial_point_fn, shared_data=shared_data,
        shared_var_keys=shared_var_keys, user_data=user_data, n_expanded=n_expanded,
        shape_info=shape_info, logp_func=logp_fn, expand_func=expand_fn,
        reparameterized_names=reparameterized)
