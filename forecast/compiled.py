"""Reuse one compiled model across fits of the same shape (backtests, refits, recovery runs).

Compiling the model with nutpie's numba backend costs far more than building it (tens of
seconds to minutes, against about a second), and a backtest refits the same spec dozens of
times. :class:`CompiledFitter` compiles once per *structure* and, for every later panel of that
structure, swaps the new arrays into the compiled model with nutpie's
``CompiledModel.with_data`` (every design array is a ``pm.Data`` in :mod:`forecast.model`), so
nothing is recompiled.

What must match for reuse (the cache key, :func:`model_key`): the spec (its hash: priors are
compile-time constants), the structural part of the design's ``shape_key`` (allies, months,
indicators, drivers) and the few design facts the graph bakes in as constants (catalog signs,
families, which families are period averages, the outcome's family and sign, the number of
years, which sets nutpie's number of free values). The number of observed values may differ (observation arrays have dynamic length), and
so may coordinates (ally codes, period labels): the result carries the new panel's.

A panel of another length (a backtest's next origin, a new month) needs a compiled model of its
own, since nutpie's number of free values differs, but not a new numba compile: the model is
compiled with only the catalog's and spec's lengths fixed (:func:`forecast.model.fix_lengths`),
and its graph reads the number of months from its inputs, so numba loads the callbacks the
first length compiled from its cache. PyTensor still rewrites the graph: about 20 s on the
default data against about 50 s (docs/decisions/0021-shape-generic-graph.md).

Warm start: :meth:`CompiledFitter.fit` with ``init="previous"`` (what :meth:`fit_many` does)
starts each chain at a posterior draw of the fitter's previous fit instead of PyMC's support
point, so adaptation begins in the typical set. The previous fit may be of another length (a
backtest's earlier origin): its draws are matched to the new panel by month (by position when
the two share no month), and the months or years it did not have start at 0: the prior mean of
the standardised innovations and drift steps, and the stationary mean of a centred state.
:meth:`fit_many` then tunes for :data:`WARM_TUNE` steps, not 1000: measured on the embedded
data's last origins with two seeds, a warm fit took 0.58–0.63 of a cold fit's sampling time for
as much ESS, and passed the monthly run's gate as often (``benchmarks/warm_start.py``,
docs/decisions/0024-warm-start.md).

Examples
--------
>>> import forecast
>>> from forecast.compiled import CompiledFitter
>>> fitter = CompiledFitter("default")
>>> panels = [forecast.simulate(3, 24, seed=s).panel for s in (1, 2)]   # doctest: +SKIP
>>> fits = fitter.fit_many(panels, draws=200, tune=200, chains=2)      # doctest: +SKIP
>>> fitter.n_compiles <= 2                                              # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd
import xarray as xr

from forecast.backend import check_nutpie_options, compile_nutpie, sample_nutpie
from forecast.cfuncs import initial_point_function
from forecast.design import Design, make_design
from forecast.diagnostics import compute_diagnostics
from forecast.errors import InputError
from forecast.model import GROWING_DIMS, build_model, fix_lengths, intercept_geometry
from forecast.panel import Panel
from forecast.results import Fit
from forecast.spec import ModelSpec, load_spec

__all__ = ["CompiledFitter", "fit_many", "model_key", "model_data", "clear_cache", "WARM_TUNE"]

_LOCK = threading.Lock()
_CACHE: "OrderedDict[tuple, Any]" = OrderedDict()
_CACHE_SIZE = 8
#: tuning steps of a warm-started fit in :meth:`CompiledFitter.fit_many` (decision 0024)
WARM_TUNE = 300

_NO_SEED = object()  # iter_fits' seeds ran out


def model_key(design: Design, spec: ModelSpec) -> tuple:
    """What a compiled model depends on besides the values of its data.

    ``(spec hash, structural part of design.shape_key, constants the graph bakes in)``. Two
    designs with equal keys can share one compiled model. The numbers of observed values are
    *not* part of the key: the observation arrays are ``pm.Data`` of dynamic length, so panels
    of the same allies × months with different missingness share one compiled model
    (``tests/test_compiled.py`` checks that the draws equal a fresh compile's).
    """
    structure = (design.n_allies, design.n_periods, tuple(design.indicators),
                 tuple(design.drivers))
    geometry = intercept_geometry(design, spec)
    baked = (
        tuple(int(s) for s in design.signs),
        tuple(int(s) for s in design.driver_signs),
        tuple(design.families_of),
        tuple((k, b.single_month) for k, b in design.families.items()),
        design.outcome_family,
        int(design.outcome_sign),
        # drift has a year dimension
        len(design.years) if design.drift_signals or spec.outcome_drift else None,
        tuple(design.drift_signals),
        # "auto" and "auto_polar" choose a signal's intercept geometry by its events: part of
        # the graph
        None if geometry is None else tuple(str(c) for c in geometry),
    )
    return (spec.hash(), structure, baked)


def model_data(model) -> dict[str, np.ndarray]:
    """The values of every ``pm.Data`` container of a built model, by name."""
    return {v.name: np.asarray(v.get_value()) for v in model.data_vars}


def clear_cache() -> None:
    """Forget every compiled model (frees their memory)."""
    with _LOCK:
        _CACHE.clear()


def _coords_of(model) -> dict[str, pd.Index]:
    return {name: pd.Index(vals if vals is not None
                           else range(int(model.dim_lengths[name].eval())))
            for name, vals in model.coords.items()}


class _Transformer:
    """Maps constrained draws of the free variables to nutpie's flat unconstrained vector."""

    def __init__(self, model, compiled, names: list[str]):
        import pytensor
        from pymc.initial_point import make_initial_point_expression

        self.rvs = list(model.free_RVs)
        holders = {rv: rv.type() for rv in self.rvs}
        exprs = make_initial_point_expression(
            free_rvs=self.rvs, rvs_to_transforms=model.rvs_to_transforms,
            initval_strategies=holders, jitter_rvs=set(), return_transformed=True)
        self.value_names = [model.rvs_to_values[rv].name for rv in self.rvs]
        self.fn = pytensor.function(list(holders.values()), exprs, on_unused_input="ignore",
                                    mode="FAST_COMPILE")
        self.layout = list(zip(*_flat_layout(names, compiled)))

    def flat(self, point: dict[str, np.ndarray]) -> np.ndarray:
        out = dict(zip(self.value_names, self.fn(*[point[rv.name] for rv in self.rvs])))
        return np.concatenate([np.asarray(out[n], dtype=float).reshape(-1)
                               for n, _ in self.layout])


@dataclasses.dataclass
class _Entry:
    compiled: Any
    #: the free variables' value names in the order of nutpie's flat vector: the compiled
    #: model's own order (fix_lengths' copy orders its free variables otherwise than the model)
    names: list[str]
    transformer: _Transformer | None = None


def _picks(posterior, names: list[str], k: int, seed) -> xr.Dataset:
    """``k`` posterior draws of the variables ``names``, along a ``sample`` dimension."""
    post = posterior.to_dataset() if hasattr(posterior, "to_dataset") else posterior
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    rng = np.random.default_rng(None if seed is None else seed + 7919)
    flat = rng.choice(n_chain * n_draw, size=min(k, n_chain * n_draw), replace=False)
    chain, draw = np.divmod(flat, n_draw)
    picked = post[names].isel(chain=xr.DataArray(chain, dims="sample"),
                              draw=xr.DataArray(draw, dims="sample"))
    return picked.drop_vars(["chain", "draw"], errors="ignore")


def _labels(values) -> list[str]:
    return [str(x) for x in values]


def _along(da: xr.DataArray, dim: str, labels: list, by_label: bool) -> xr.DataArray:
    """``da`` along ``dim`` matched to ``labels``, by label or else by position, 0 where it has
    no value."""
    new = _labels(labels)
    if by_label:
        old = _labels(da[dim].values)
    else:
        da = da.isel({dim: slice(0, len(new))})
        old = new[:da.sizes[dim]]
    return da.assign_coords({dim: old}).reindex({dim: new}, fill_value=0.0)


def _aligned(picks: xr.Dataset, model) -> dict[str, np.ndarray] | str:
    """Each free variable's picked draws, shaped for ``model``: ``{name: (sample, ...)}``.

    Along the dimensions that grow with the panel (:data:`~forecast.model.GROWING_DIMS`) the
    draws are matched by label where the two share a month, else by position (every growing
    dimension alike), and what they lack is 0. Any other dimension must have the model's
    labels: where one does not (other allies, signals or drivers, or another intercept
    geometry), a text saying so is returned instead.
    """
    months = _labels(picks["period"].values) if "period" in picks.coords else []
    by_label = bool(set(months) & set(_labels(model.coords.get("period", ()))))
    out = {}
    for rv in model.free_RVs:
        if rv.name not in picks:
            return f"its posterior has no {rv.name!r}"
        da, dims = picks[rv.name], tuple(model.named_vars_to_dims.get(rv.name, ()))
        if set(da.dims) != {"sample", *dims}:
            return f"its {rv.name!r} has dimensions {da.dims[1:]}, this panel's {dims}"
        for dim in dims:
            labels = list(model.coords[dim])
            if dim in GROWING_DIMS:
                da = _along(da, dim, labels, by_label)
            elif _labels(da[dim].values) != _labels(labels):
                return (f"its {dim!r} is {', '.join(_labels(da[dim].values))}, this panel's "
                        f"{', '.join(_labels(labels))}")
        out[rv.name] = np.asarray(da.transpose("sample", *dims).values, dtype=float)
    return out


class CompiledFitter:
    """Fit one spec to many panels, compiling once per model structure.

    Parameters
    ----------
    spec
        Spec name, TOML path or :class:`~forecast.spec.ModelSpec`.
    adaptation
        nutpie mass-matrix adaptation (``"diag"``, the measured default, or ``"low_rank"``).
    share_cache
        Use the process-wide cache (default), so two fitters of the same spec share compiled
        models; ``False`` gives this fitter a private cache.

    Attributes
    ----------
    n_compiles, n_reused
        How many fits compiled a model and how many reused one.
    """

    def __init__(self, spec: "str | ModelSpec" = "default", *, adaptation: str = "diag",
                 share_cache: bool = True):
        self.spec = load_spec(spec)
        self.adaptation = adaptation
        self._cache = _CACHE if share_cache else OrderedDict()
        self.n_compiles = 0
        self.n_reused = 0
        self._previous = None  # posterior draws of this fitter's last fit (init="previous")

    # ---------------------------------------------------------------- compilation
    def _entry(self, design: Design, model) -> tuple[_Entry, bool, float]:
        key = model_key(design, self.spec)
        with _LOCK:
            entry = self._cache.get(key)
            if entry is not None:
                self._cache.move_to_end(key)
        if entry is not None:
            self.n_reused += 1
            return entry, True, 0.0
        t0 = time.perf_counter()
        fixed = fix_lengths(model)
        compiled = compile_nutpie(fixed)
        elapsed = time.perf_counter() - t0
        entry = _Entry(compiled, [fixed.rvs_to_values[rv].name for rv in fixed.free_RVs])
        with _LOCK:
            self._cache[key] = entry
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        self.n_compiles += 1
        return entry, False, elapsed

    def compiled_for(self, design: Design, model=None):
        """The compiled model for ``design`` with its data swapped in (compiling if needed).

        Returns ``(compiled_model, reused, compile_seconds)``.
        """
        model = model if model is not None else build_model(design, self.spec)
        entry, reused, elapsed = self._entry(design, model)
        return self._with_data(entry, model), reused, elapsed

    @staticmethod
    def _with_data(entry: _Entry, model):
        compiled = entry.compiled
        known = {v.name for v in compiled.shared_var_keys}
        data = {k: v for k, v in model_data(model).items() if k in known}
        swapped = compiled.with_data(**data)
        # Baked in at compile time besides the data: the coordinates (give the result the new
        # panel's labels) and the initial-point function (the support point depends on data,
        # e.g. intercept centres; rebuilt exactly as nutpie builds it, so that a reused model
        # starts where a fresh compile would and the same seed gives the same draws).
        return dataclasses.replace(swapped, _coords={**compiled.coords, **_coords_of(model)},
                                   initial_point_func=_initial_point_func(model, compiled))

    # ---------------------------------------------------------------- fitting
    def fit(
        self,
        panel: Panel,
        *,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        seed: int | None = None,
        cores: int | None = None,
        init: "str | Fit | np.ndarray | None" = None,
        warn: bool = True,
        progress: bool = False,
        **sampler_kwargs,
    ) -> Fit:
        """Fit the spec to ``panel`` with nutpie, reusing a compiled model when one fits.

        Parameters
        ----------
        init
            ``None``: nutpie's default start (support point with jitter). ``"previous"``:
            posterior draws of this fitter's previous fit, of any length (falls back to the
            default when there is none, or when it had other allies or signals). A
            :class:`~forecast.results.Fit` (of any length): its posterior draws. Months or
            years the earlier fit did not have start at 0. An array of shape ``(n_dim,)`` or
            ``(k, n_dim)``: unconstrained starting points (chain ``c`` starts at row
            ``c mod k``).

        Other parameters are those of :func:`forecast.fit`. Same seed, same panel, same start:
        same draws, whether the model was compiled for this fit or reused.
        """
        check_nutpie_options({**sampler_kwargs, "adaptation": self.adaptation})
        t0 = time.perf_counter()
        design = make_design(panel, self.spec)
        model = build_model(design, self.spec)
        t_build = time.perf_counter() - t0
        entry, reused, t_compile = self._entry(design, model)
        compiled = self._with_data(entry, model)

        starts = self._starts(entry, model, init)
        if starts is not None:
            compiled = dataclasses.replace(compiled, initial_point_func=_start_fn(starts))

        t1 = time.perf_counter()
        idata = sample_nutpie(compiled, draws=draws, tune=tune, chains=chains, cores=cores,
                              seed=seed, progress=progress, adaptation=self.adaptation,
                              **sampler_kwargs)
        t_sample = time.perf_counter() - t1
        self._previous = _picks(idata["posterior"], [rv.name for rv in model.free_RVs],
                                k=max(4 * chains, 8), seed=seed)
        timings = {"build_s": t_build, "compile_s": t_compile, "sampling_s": t_sample,
                   "reused_compiled_model": reused, "warm_start": starts is not None}
        diagnostics = compute_diagnostics(idata, warn=warn)
        return Fit(idata=idata, panel=panel, spec=self.spec, design=design, sampler="nutpie",
                   seed=seed, timings=timings, _diagnostics=diagnostics, _model=model)

    def fit_many(self, panels: Iterable[Panel], *, warm_start: bool = True,
                 warm_tune: int | None = None, **kwargs) -> list[Fit]:
        """Fit each panel in turn (e.g. backtest origins), warm-starting each from the last.

        ``warm_tune`` is the number of tuning steps of warm-started fits; by default
        :data:`WARM_TUNE`, or ``tune`` where that is fewer. The default is measured
        (docs/decisions/0024-warm-start.md): on the embedded data's last origins a warm fit took
        0.58–0.63 of a cold fit's sampling time and passed the gate as often.
        """
        return list(self.iter_fits(panels, warm_start=warm_start, warm_tune=warm_tune,
                                   **kwargs))

    def iter_fits(self, panels: Iterable[Panel], *, warm_start: bool = True,
                  warm_tune: int | None = None, seeds: Iterable[int] | None = None,
                  **kwargs) -> Iterator[Fit]:
        """:meth:`fit_many` one fit at a time, each fitted when asked for, so that a caller
        can keep what it needs of a fit and let its draws go; ``seeds``: one per panel, in
        place of ``seed``."""
        if seeds is not None and kwargs.get("seed") is not None:
            raise InputError("give seed or seeds (one per panel), not both", parameter="seed",
                             value=kwargs["seed"])
        seeds = iter(seeds) if seeds is not None else None
        for i, panel in enumerate(panels):
            kw = dict(kwargs)
            if seeds is not None:
                kw["seed"] = next(seeds, _NO_SEED)
                if kw["seed"] is _NO_SEED:
                    raise InputError(f"fewer seeds than panels: none for panel {i + 1}",
                                     parameter="seeds")
            if warm_start and i > 0:
                kw["init"] = "previous"
                kw["tune"] = (min(WARM_TUNE, kw.get("tune", 1000)) if warm_tune is None
                              else warm_tune)
            yield self.fit(panel, **kw)

    # ---------------------------------------------------------------- warm start
    def _transformer(self, entry: _Entry, model) -> _Transformer:
        if entry.transformer is None:
            entry.transformer = _Transformer(model, entry.compiled, entry.names)
        return entry.transformer

    def _flat(self, entry: _Entry, model, points: dict[str, np.ndarray]) -> np.ndarray:
        """Unconstrained flat starting points, one row per picked draw."""
        tr = self._transformer(entry, model)
        n = len(next(iter(points.values())))
        return np.stack([tr.flat({name: v[i] for name, v in points.items()}) for i in range(n)])

    def _starts(self, entry: _Entry, model, init) -> np.ndarray | None:
        if init is None:
            return None
        if isinstance(init, str):
            if init != "previous":
                raise ValueError(f"init must be None, 'previous', a Fit or an array; got {init!r}")
            if self._previous is None:
                return None
            points = _aligned(self._previous, model)
            # another panel's shape (other allies or signals): the default start, not a failure
            return None if isinstance(points, str) else self._flat(entry, model, points)
        if isinstance(init, Fit):
            points = _aligned(_picks(init.idata["posterior"],
                                     [rv.name for rv in model.free_RVs
                                      if rv.name in init.idata["posterior"]], k=16, seed=0),
                              model)
            if isinstance(points, str):
                raise InputError(f"init: the fit cannot start this one: {points}",
                                 parameter="init", value=init.spec.name)
            return self._flat(entry, model, points)
        arr = np.atleast_2d(np.asarray(init, dtype=float))
        if arr.shape[1] != entry.compiled.n_dim:
            raise ValueError(f"init has {arr.shape[1]} values per start; the model has "
                             f"{entry.compiled.n_dim} unconstrained dimensions")
        return arr


def _initial_point_func(model, compiled):
    """nutpie's flat initial-point function for ``model`` (support point + U(-1, 1) jitter),
    as a compile of ``model`` would have it: of the same model with fixed lengths, whose free
    variables (and so the jitter's draws and the flat layout) come in another order."""
    from nutpie.compile_pymc import _rv_dict_to_flat_array_wrapper

    model = fix_lengths(model)
    names, shapes = _flat_layout([model.rvs_to_values[rv].name for rv in model.free_RVs],
                                 compiled)
    return _rv_dict_to_flat_array_wrapper(initial_point_function(model), names=names,
                                          shapes=shapes)


def _flat_layout(names: list[str], compiled) -> tuple[list[str], list[tuple[int, ...]]]:
    """Names and shapes of the value variables in nutpie's flat unconstrained vector, in the
    compiled model's order (``names``, :attr:`_Entry.names`)."""
    shapes = [tuple(compiled.shapes[n]) for n in names]
    if sum(int(np.prod(s)) for s in shapes) != compiled.n_dim:
        raise RuntimeError("the free variables do not lay out nutpie's flat vector")
    return list(names), shapes


def _start_fn(starts: np.ndarray, jitter: float = 0.05):
    """nutpie's initial-point callback for warm starts.

    nutpie calls it once per chain with a seed derived from the sampler seed and the chain,
    so the choice is reproducible: the seed picks a row of ``starts`` and a small jitter keeps
    chains that pick the same row apart.
    """

    def initial_point(seed=None):
        rng = np.random.default_rng(seed)
        row = starts[int(rng.integers(len(starts)))]
        return np.ascontiguousarray(row + jitter * rng.uniform(-1.0, 1.0, size=row.shape),
                                    dtype="float64")

    return initial_point


def fit_many(panels: Iterable[Panel], spec: "str | ModelSpec" = "default", *,
             warm_start: bool = True, **kwargs) -> list[Fit]:
    """Fit ``spec`` to each panel with one :class:`CompiledFitter` (compile once per shape).

    Examples
    --------
    >>> import forecast
    >>> from forecast.compiled import fit_many
    >>> fits = fit_many([forecast.simulate(3, 24, seed=s).panel for s in (1, 2)],
    ...                 draws=100, tune=100, chains=2, seed=1, warn=False)   # doctest: +SKIP
    """
    return CompiledFitter(spec).fit_many(panels, warm_start=warm_start, **kwargs)
