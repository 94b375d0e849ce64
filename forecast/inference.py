"""Inference: one switch over samplers, same results object.

``nutpie`` (numba-compiled, default), ``pymc`` (PyMC's NUTS), ``numpyro`` (JAX; CPU or GPU,
needs the ``gpu`` extra) and ``advi`` (an approximate variational preview, not for
publication: quicker than NUTS only on a large panel once compiled; docs/decisions/0028).
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
import pymc as pm
from pymc.model.transform.optimization import freeze_dims_and_data

from forecast.backend import check_nutpie_options, compile_nutpie, sample_nutpie, strict_floats
from forecast.cfuncs import available_cores
from forecast.design import make_design
from forecast.diagnostics import compute_diagnostics
from forecast.errors import MAX_SEED, SAMPLER_MOST, InputError, check_seed, whole_number
from forecast.model import build_model
from forecast.panel import Panel, check_panel
from forecast.results import Fit
from forecast.spec import ModelSpec, Priors, load_spec

__all__ = ["fit", "sample_model", "check_sampler", "SAMPLERS", "FROZEN_SAMPLERS",
           "APPROXIMATE_SAMPLERS", "MCMC_SAMPLERS"]

Sampler = Literal["nutpie", "pymc", "numpyro", "advi"]
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc", "numpyro", "advi")
#: the samplers that compile a frozen model (dimensions and data as constants): numba compiles
#: it faster (docs/decisions/0005), and JAX needs every length known when it traces
FROZEN_SAMPLERS: tuple[str, ...] = ("nutpie", "numpyro")
#: the samplers whose fit is an approximation, which the convergence checks never pass
APPROXIMATE_SAMPLERS: tuple[str, ...] = ("advi",)
#: the samplers whose draws are the posterior's, with sampler statistics (divergences, energy)
MCMC_SAMPLERS: tuple[str, ...] = tuple(s for s in SAMPLERS if s not in APPROXIMATE_SAMPLERS)


def sample_model(
    model: pm.Model,
    *,
    sampler: str = "nutpie",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    progress: bool = False,
    cores: int | None = None,
    **kwargs,
):
    """Sample a built model; returns ``(DataTree, timings)``.

    ``timings`` holds ``compile_s`` and ``sampling_s``.
    """
    cores = cores or min(chains, available_cores())
    t0 = time.perf_counter()
    if sampler in FROZEN_SAMPLERS:
        # one fit, one compiled graph (a length-1 dimension, one driver or one ally, must be
        # marked as such for JAX to broadcast it)
        model = freeze_dims_and_data(model)
    if sampler == "nutpie":
        compiled = compile_nutpie(model)
        t1 = time.perf_counter()
        idata = sample_nutpie(compiled, draws=draws, tune=tune, chains=chains, cores=cores,
                              seed=seed, progress=progress, **kwargs)
    elif sampler in ("pymc", "numpyro"):
        t1 = t0
        with strict_floats(), model:  # PyMC compiles with numba too (PyTensor 3)
            idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=cores,
                              random_seed=seed, progressbar=progress,
                              nuts_sampler=sampler, compute_convergence_checks=False, **kwargs)
    elif sampler == "advi":
        t1 = t0
        n = kwargs.pop("n", 30_000)
        watch = _Interruption()
        callbacks = [watch.stopping(c) for c in kwargs.pop("callbacks", None) or ()]
        with strict_floats(), model:
            approx = pm.fit(n=n, method="advi", random_seed=seed, progressbar=progress,
                            callbacks=[*callbacks, watch.reached], **kwargs)
            # PyMC answers Ctrl-C (and so SIGTERM, see forecast.__main__) by returning the
            # approximation as it stands; drawing from it would pass a half-optimised preview
            # for a finished one (nutpie's partial draws are refused by their count instead)
            if watch.step < n and not watch.stopped:
                raise KeyboardInterrupt(f"ADVI stopped early, after {watch.step} of {n} steps")
            idata = approx.sample(draws=draws * chains, random_seed=seed)
        import arviz as az

        post = idata["posterior"].to_dataset()
        post = post.isel(chain=0).drop_vars("chain").rename({"draw": "flat"})
        post = post.assign_coords(flat=np.arange(draws * chains)).coarsen(flat=draws).construct(
            flat=("chain", "draw"))
        idata = az.from_dict({"posterior": {k: v.values for k, v in post.data_vars.items()}},
                             dims={k: [d for d in v.dims if d not in ("chain", "draw")]
                                   for k, v in post.data_vars.items()},
                             coords={c: post[c].values for c in post.coords
                                     if c not in ("chain", "draw")})
    else:
        raise InputError(f"unknown sampler; expected one of {', '.join(SAMPLERS)}",
                         parameter="sampler", value=sampler)
    t2 = time.perf_counter()
    return idata, {"compile_s": t1 - t0, "sampling_s": t2 - t1}


class _Interruption:
    """Tells an ADVI run that Ctrl-C stopped from one that ended: PyMC catches both
    KeyboardInterrupt and a callback's StopIteration (its convergence checks stop so) and
    returns the approximation either way."""

    def __init__(self) -> None:
        self.step = 0
        self.stopped = False

    def reached(self, approx, losses, step: int) -> None:
        """A callback: the optimisation has completed ``step`` steps."""
        self.step = step

    def stopping(self, callback):
        """``callback``, noting when it stops the optimisation (StopIteration)."""
        def watched(*args):
            try:
                return callback(*args)
            except StopIteration:
                self.stopped = True
                raise
        return watched


#: fit's own arguments: a keyword close to one of them is a typo, not a sampler option
_FIT_ARGUMENTS = ("spec", "draws", "tune", "chains", "seed", "sampler", "progress", "warn")


def check_sampler(sampler: str) -> None:
    """Refuse, before any compiling, an unknown sampler or one whose optional extra is not
    installed.

    Examples
    --------
    >>> check_sampler("nutpie")
    >>> check_sampler("gibbs")
    Traceback (most recent call last):
    ...
    forecast.errors.InputError: parameter 'sampler', value 'gibbs': unknown sampler; expected one of nutpie, pymc, numpyro, advi
    """
    import importlib.util

    if sampler not in SAMPLERS:
        raise InputError(f"unknown sampler; expected one of {', '.join(SAMPLERS)}",
                         parameter="sampler", value=sampler)
    if sampler == "numpyro" and any(importlib.util.find_spec(m) is None
                                    for m in ("jax", "numpyro")):
        raise InputError("the numpyro sampler needs JAX and numpyro, the optional 'gpu' extra: "
                         "pip install -e '.[gpu]' from the repository (or .venv/bin/pip install "
                         "jax numpyro), or use sampler='nutpie'", parameter="sampler",
                         value=sampler)


def _check_sampler_kwargs(kwargs: dict, sampler: str = "nutpie") -> None:
    """Refuse, before any compiling, a keyword that is a spec field or a misspelt argument of
    :func:`fit`, or that nutpie's settings refuse; the others go to the sampler, which names
    what it does not know."""
    import difflib

    for key in kwargs:
        if key in ModelSpec.model_fields or key in Priors.model_fields:
            if key in ModelSpec.model_fields:
                how = f"model_copy(update={{{key!r}: ...}})"
            else:
                how = (f"model_copy(update={{'priors': spec.priors.model_copy("
                       f"update={{{key!r}: ...}})}})")
            raise InputError(
                f"{key} is a field of the model spec, not an argument of fit: pass "
                f"spec=spec.{how} with spec = forecast.load_spec(\"default\"), or a spec "
                "file (a copy of models/default.toml) that sets it", parameter=key)
        near = difflib.get_close_matches(key, _FIT_ARGUMENTS, n=1, cutoff=0.75)
        if near:
            raise InputError(f"unknown argument; did you mean {near[0]!r}?", parameter=key)
    if sampler == "nutpie":
        check_nutpie_options(kwargs)


def fit(
    panel: Panel,
    spec: str | ModelSpec = "default",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    sampler: str = "nutpie",
    *,
    progress: bool = False,
    warn: bool = True,
    **sampler_kwargs,
) -> Fit:
    """Fit a model spec to a panel.

    Parameters
    ----------
    panel
        Observations (:func:`forecast.load_panel`, :func:`forecast.load_default` or
        :func:`forecast.simulate`).
    spec
        Shipped spec name (``"default"``, ``"static"``, ``"unpooled"``, ...), path to a TOML
        spec, or a :class:`~forecast.spec.ModelSpec`.
    draws, tune, chains
        Posterior draws and tuning steps per chain, number of chains.
    seed
        Random seed (same seed, same panel, same spec: same draws).
    sampler
        ``"nutpie"`` (default), ``"pymc"``, ``"numpyro"`` or ``"advi"`` (a variational
        preview, never converged by the diagnostics: quicker than NUTS on a large panel once
        compiled, but a machine's first ADVI compiles its objective for minutes, and on a
        small panel NUTS is quicker; docs/decisions/0028).
    progress
        Show the sampler's progress bar.
    warn
        Emit a :class:`~forecast.diagnostics.ConvergenceWarning` naming the quantities that
        failed the diagnostics.
    **sampler_kwargs
        Passed to the sampler: for nutpie its options (``adaptation``, ``maxdepth``,
        ``target_accept``, ...; an option nutpie refuses is refused before the compile) and
        :func:`forecast.backend.sample_nutpie`'s ``trace`` and ``warmup_stats``; for
        ``"pymc"`` and ``"numpyro"`` those of :func:`pymc.sample`; for ``"advi"`` ``n``, the
        optimisation steps (30 000), and those of :func:`pymc.fit`.

    Returns
    -------
    Fit
        Posterior with tidy views (``credibility()``), diagnostics and save/load.

    Examples
    --------
    >>> import forecast
    >>> sim = forecast.simulate(n_allies=3, n_months=24, seed=1)
    >>> result = forecast.fit(sim.panel, draws=100, tune=100, chains=2, seed=1, warn=False)
    >>> list(result.credibility().columns)
    ['ally', 'period', 'mean', 'sd', 'q05', 'q50', 'q95']
    """
    check_panel(panel)
    check_sampler(sampler)
    _check_sampler_kwargs(sampler_kwargs, sampler)
    for name, value, least in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
        whole_number(name, value, least, SAMPLER_MOST[name])
    check_seed(seed, MAX_SEED)
    spec_obj = load_spec(spec)
    t0 = time.perf_counter()
    design = make_design(panel, spec_obj)
    model = build_model(design, spec_obj)
    t_build = time.perf_counter() - t0
    idata, timings = sample_model(model, sampler=sampler, draws=draws, tune=tune, chains=chains,
                                  seed=seed, progress=progress, **sampler_kwargs)
    timings = {"build_s": t_build, **timings}
    diagnostics = compute_diagnostics(idata, warn=warn, approximate=sampler in APPROXIMATE_SAMPLERS)
    return Fit(idata=idata, panel=panel, spec=spec_obj, design=design, sampler=sampler,
               seed=seed, timings=timings, _diagnostics=diagnostics, _model=model)
