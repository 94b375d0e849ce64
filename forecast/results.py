"""The result of a fit: an ArviZ DataTree with tidy pandas views, saved as netCDF.

A saved fit carries its spec, catalog, observations and a hash of the data as attributes, so
:func:`load_fit` rebuilds the model and refuses data that differ from what was fitted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from forecast.catalog import Catalog
from forecast.design import Design, make_design
from forecast.diagnostics import Diagnostics, compute_diagnostics
from forecast.errors import InputError, SpecError, as_names, expected_one_of, shortlist
from forecast.files import netcdf_path, read_saved, write_atomically
from forecast.panel import Panel, check_panel
from forecast.spec import ModelSpec, json_hash

if TYPE_CHECKING:
    from forecast.forecasting import ForecastResult

__all__ = ["Fit", "load_fit", "load_fitted_panel", "interval_table", "FORMAT_VERSION"]

FORMAT_VERSION = "1"
QUANTILES = {"q05": 0.05, "q50": 0.5, "q95": 0.95}


def interval_table(samples: xr.DataArray, sample_dims: tuple[str, ...],
                   quantiles: dict[str, float] | None = None) -> pd.DataFrame:
    """Mean, sd and quantiles of draws, one row per remaining coordinate combination."""
    quantiles = quantiles or QUANTILES
    stats = {"mean": samples.mean(sample_dims), "sd": samples.std(sample_dims)}
    q = samples.quantile(list(quantiles.values()), dim=list(sample_dims))
    for name, level in quantiles.items():
        stats[name] = q.sel(quantile=level, drop=True)
    keep = [d for d in samples.dims if d not in sample_dims]
    # rows in the order of the draws' own dims (a Dataset's dim order follows its coordinates',
    # which differs between fits)
    frame = xr.Dataset(stats).to_dataframe(dim_order=keep).reset_index()
    return frame[keep + list(stats)]


def lacking_statistics(sampler: str, tree) -> list[str]:
    """The sampler statistics that every MCMC fit by ``sampler`` holds (:func:`load_fit` checks
    its divergences and E-BFMI with them) and that ``tree`` lacks; none for an approximate or
    an oracle fit."""
    from forecast.inference import MCMC_SAMPLERS

    if sampler not in MCMC_SAMPLERS:
        return []
    stats = (set(tree["sample_stats"].to_dataset().data_vars)
             if "sample_stats" in tree.children else set())
    return [s for s in ("diverging", "energy") if s not in stats]


@dataclass
class Fit:
    """A fitted model: posterior, panel, spec and diagnostics.

    Use :func:`forecast.fit` to make one and :func:`load_fit` to read a saved one.

    Attributes
    ----------
    idata
        ArviZ ``DataTree``; ``idata.posterior["credibility"]`` has dims
        ``(chain, draw, ally, period)``.
    panel, spec, design
        What was fitted and how.
    """

    idata: object
    panel: Panel
    spec: ModelSpec
    design: Design
    sampler: str = "nutpie"
    seed: int | None = None
    timings: dict = field(default_factory=dict)
    _diagnostics: Diagnostics | None = None
    _model: object = None

    def __repr__(self) -> str:
        """One line (a notebook shows it instead of the whole posterior)."""
        post = self.idata["posterior"]
        draws = f"{post.sizes.get('chain', 0)} chains × {post.sizes.get('draw', 0)} draws"
        if self.sampler == "advi":  # split into "chains" for the tables, drawn as one
            draws = f"{post.sizes.get('chain', 0) * post.sizes.get('draw', 0)} draws from " \
                    "its approximation"
        seed = "" if self.seed is None else f", seed {self.seed}"
        return (f"Fit(spec {self.spec.name!r}, {self.sampler}, {draws}{seed}; "
                f"{len(self.panel.allies)} allies × {len(self.panel.months)} months to "
                f"{self.panel.months[-1]}; diagnostics(), credibility(), forecast())")

    def __getstate__(self) -> dict:
        """What a pickle carries to another process (a Dask task's result): everything but
        the PyMC model, which does not pickle and is rebuilt on first use (:attr:`model`).
        On disk a fit is netCDF (:meth:`save`), never a pickle."""
        return {**self.__dict__, "_model": None}

    # ------------------------------------------------------------------ views
    @property
    def posterior(self) -> xr.Dataset:
        return self.idata["posterior"].to_dataset()

    @property
    def model(self):
        """The PyMC model (rebuilt from panel and spec when loaded from disk)."""
        if self._model is None:
            from forecast.model import build_model

            self._model = build_model(self.design, self.spec)
        return self._model

    def credibility(self) -> pd.DataFrame:
        """Posterior of each ally's monthly credibility.

        Returns
        -------
        pandas.DataFrame
            Columns ``ally, period, mean, sd, q05, q50, q95``, one row per ally-month.

        Notes
        -----
        Every ally has a row for every month of the panel, also before its first observation
        (an ally that enters late): there its credibility is what the model's dynamics
        (persistence, the common factor, drivers) carry back from its own later data and the
        other allies' data, and the prior; with little of either the intervals are the
        prior's. ``fit.panel.coverage()`` gives each ally's
        first and last observed period of every signal.
        """
        return interval_table(self.posterior["credibility"], ("chain", "draw"))

    def hedging_level(self) -> pd.DataFrame:
        """Posterior of hedging's level common to the allies, year by year, as a factor on
        every ally's expected count of hedging acts: 1 is the level's geometric mean over the
        panel's years, 1.5 half as many acts again (the yearly walk, docs/decisions/0032).

        Returns
        -------
        pandas.DataFrame
            Columns ``year, mean, sd, q05, q50, q95``, one row per year of the panel.

        Raises
        ------
        forecast.InputError
            Where the fit's spec has no such walk (``outcome_drift = false``).

        Examples
        --------
        >>> import forecast
        >>> sim = forecast.simulate(n_allies=2, n_months=36, seed=1,
        ...                         params={"outcome_drift_tau": 0.5})
        >>> level = forecast.oracle_fit(sim, n_draws=10).hedging_level()
        >>> level["year"].tolist(), bool((level["q05"] > 0).all())
        ([2014, 2015, 2016], True)
        """
        if "outcome_drift" not in self.posterior:
            raise InputError(f"spec {self.spec.name!r} has no yearly walk of hedging's level "
                             "(outcome_drift = false): its level is the same every year",
                             parameter="fit", value=self.spec.name)
        return interval_table(np.exp(self.posterior["outcome_drift"]), ("chain", "draw"))

    def diagnostics(self) -> Diagnostics:
        """R-hat, bulk/tail ESS, divergences and E-BFMI (computed once, cached)."""
        if self._diagnostics is None:
            self._diagnostics = compute_diagnostics(self.idata, warn=False,
                                                    approximate=self.sampler == "advi")
        return self._diagnostics

    def summary(self, var_names: list[str] | None = None) -> pd.DataFrame:
        """ArviZ summary of ``var_names``, by default of every quantity without a month:
        the population parameters and each ally's own (intercepts, loadings, noise; a
        drifting signal's yearly intercepts), not the monthly latent and its innovations. On
        the embedded data that is hundreds of rows: name the quantities for fewer
        (``var_names=["persistence", "loading"]``). Its interval is the central 90% (columns
        ``eti90_lb, eti90_ub``), as :meth:`credibility`'s ``q05`` and ``q95``."""
        import arviz as az

        post = self.posterior
        if var_names is None:
            var_names = [v for v, da in post.data_vars.items()
                         if "period" not in da.dims
                         and not v.endswith(("_z", "_dev", "_direction", "_length2"))
                         and v not in ("state_innovation", "factor_innovation")]
        var_names = as_names(var_names, "posterior's quantity names", "var_names")
        if not var_names:
            raise InputError("no quantity named: expected names of the posterior, or None for "
                             "the population parameters", parameter="var_names", value=[])
        names = list(post.data_vars)
        for name in var_names:
            if str(name).removeprefix("~") not in names:  # ArviZ raised KeyError ("~": all but)
                raise InputError("not a quantity of the posterior"
                                 + expected_one_of(str(name), names),
                                 parameter="var_names", value=name)
        return az.summary(self.idata, var_names=var_names, ci_prob=0.9, ci_kind="eti")

    def forecast(self, horizon: int = 12, scenario=None, seed: int | None = None,
                 driver_assumption: str = "recent", n_draws: int | None = None,
                 n_inner: int = 16) -> "ForecastResult":
        """Forward-simulate hedging and credibility ``horizon`` months ahead.

        The arguments are :func:`forecast.forecasting.forecast_fit`'s, which says what each
        does: ``scenario`` (a file, a DataFrame, records or a ``Scenario``), ``seed``,
        ``driver_assumption`` (``"recent"``, ``"history"`` or ``"hold"``), ``n_draws`` (at
        most that many posterior draws) and ``n_inner``.
        """
        from forecast.forecasting import forecast_fit

        return forecast_fit(self, horizon=horizon, scenario=scenario, seed=seed,
                            driver_assumption=driver_assumption, n_draws=n_draws,
                            n_inner=n_inner)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fit to one netCDF file (never pickle).

        Root attributes hold the spec (JSON), catalog (TOML), data hash, sampler, seed and
        package version; the group ``panel`` holds the observations themselves.
        """
        from forecast import __version__

        path = netcdf_path(path, "fit")  # before any work: a fit.pkl is refused
        if lacking := lacking_statistics(self.sampler, self.idata):
            raise InputError(f"a fit by {self.sampler} without {' or '.join(lacking)} in its "
                             "sampler statistics cannot be saved: load_fit would refuse it (its "
                             "divergences and E-BFMI could not be checked)",
                             parameter="fit", value=self.sampler)
        tree = self.idata.copy()
        for name in list(tree.children):
            ds = tree[name].to_dataset()
            bad = [v for v, da in ds.data_vars.items() if da.dtype == object]
            if bad:
                tree[name] = xr.DataTree(ds.drop_vars(bad))
        frame = self.panel.to_frame(sources=self.panel.sources is not None)
        tree["panel"] = xr.DataTree(xr.Dataset(
            {c: ("obs", frame[c].to_numpy(dtype=str if c != "value" else float))
             for c in frame.columns},
            attrs={"first_month": str(self.panel.months[0]),
                   "last_month": str(self.panel.months[-1])}))
        tree.attrs.update({
            "forecast_format_version": FORMAT_VERSION,
            "forecast_version": __version__,
            "forecast_spec": self.spec.to_json(),
            "forecast_spec_hash": self.spec.hash(),
            "forecast_catalog": self.panel.catalog.to_toml(),
            "forecast_data_hash": self.panel.data_hash(),
            "forecast_sampler": self.sampler,
            "forecast_seed": -1 if self.seed is None else int(self.seed),
            "forecast_timings": json.dumps(self.timings),
            # what load_fit checks the posterior still holds
            "forecast_quantities": json.dumps(sorted(tree["posterior"].data_vars)),
            # the drivers' standardisation the driver effects are per unit of: the panel's
            # own, except for an oracle fit's (the simulation's)
            "forecast_driver_standardisation": json.dumps({
                "loc": self.design.driver_loc.tolist(),
                "scale": self.design.driver_scale.tolist()}),
        })
        return write_atomically(path, lambda tmp: tree.to_netcdf(tmp, engine="h5netcdf"), "fit")


def check_fit(value: object, name: str = "fit") -> None:
    """Refuse, with :class:`~forecast.errors.InputError` naming the argument, a value that is
    not a :class:`Fit` (a panel or a simulation, say), before any work is done with it.

    Examples
    --------
    >>> check_fit("fit.nc")
    Traceback (most recent call last):
    ...
    forecast.errors.InputError: parameter 'fit', value 'fit.nc': expected a Fit (forecast.fit or forecast.load_fit(path) gives one), got str
    """
    if not isinstance(value, Fit):
        raise InputError("expected a Fit (forecast.fit or forecast.load_fit(path) gives one), "
                         f"got {type(value).__name__}", parameter=name,
                         value=str(value) if isinstance(value, (str, Path)) else None)


def load_fit(path: str | Path, panel: Panel | None = None) -> Fit:
    """Read a fit saved by :meth:`Fit.save`.

    Parameters
    ----------
    path
        The netCDF file.
    panel
        Optional: the panel you believe was fitted. If its data hash differs from the one
        stored, loading is refused with :class:`~forecast.InputError`.

    Examples
    --------
    >>> import forecast, tempfile, pathlib
    >>> sim = forecast.simulate(n_allies=3, n_months=24, seed=1)
    >>> f = forecast.fit(sim.panel, draws=50, tune=50, chains=1, seed=1, warn=False)
    >>> p = f.save(pathlib.Path(tempfile.mkdtemp()) / "fit.nc")
    >>> forecast.load_fit(p).credibility().shape == f.credibility().shape
    True
    """
    if panel is not None:
        check_panel(panel)
    # read_saved refuses what is no path, naming the parameter
    tree = read_saved(path, lambda p: xr.open_datatree(p, engine="h5netcdf").load(), "fit")
    path = Path(path)
    _check_header(tree.attrs, set(tree.children), path)
    with _damage_said(path):
        return _rebuild(tree, path, panel)


@contextmanager
def _damage_said(path: Path) -> Iterator[None]:
    """What reading a saved fit's parts raises, as an InputError naming the file: the file is
    what is damaged (a stored spec that does not validate, TOML or JSON that does not parse)."""
    try:
        yield
    except SpecError as exc:  # the spec stored in the file
        if exc.file is not None:
            raise
        raise InputError(f"damaged fit file (altered?): {exc}", file=str(path)) from None
    except InputError:
        raise
    except (KeyError, ValueError, TypeError) as exc:  # TOML and JSON errors are ValueErrors
        raise InputError(f"damaged fit file (altered?): {type(exc).__name__}: {exc}",
                         file=str(path)) from None


def load_fitted_panel(path: str | Path) -> Panel:
    """The panel a fit saved by :meth:`Fit.save` was fitted to, without reading its draws.

    A published run's ``posterior.nc`` holds the data as they stood that month: reading
    each run's panel replays the data's vintages (a backtest on what was known when) at the
    cost of the observations alone. The checks are :func:`load_fit`'s: the format, and the
    observations and catalog against the stored data hash.

    Examples
    --------
    >>> import forecast, tempfile, pathlib
    >>> from forecast.forecasting import oracle_fit
    >>> sim = forecast.simulate(n_allies=2, n_months=24, seed=1)
    >>> p = oracle_fit(sim, n_draws=5).save(pathlib.Path(tempfile.mkdtemp()) / "fit.nc")
    >>> load_fitted_panel(p) == sim.panel
    True
    """
    def read(p: Path) -> tuple[dict, set, xr.Dataset | None]:
        with xr.open_datatree(p, engine="h5netcdf") as tree:
            children = set(tree.children)
            stored = tree["panel"].to_dataset().load() if "panel" in children else None
            return dict(tree.attrs), children, stored

    attrs, children, stored = read_saved(path, read, "fit")
    path = Path(path)
    _check_header(attrs, children, path)
    with _damage_said(path):
        return _stored_panel(attrs, stored, path)


#: root attributes a saved fit cannot be rebuilt without
_REQUIRED_ATTRS = ("forecast_spec_hash", "forecast_catalog", "forecast_data_hash")


def _check_header(attrs, children: set, path: Path) -> None:
    """Refuse a file that is no fit saved by this format: its spec, panel, format version,
    required attributes and posterior group."""
    if "forecast_spec" not in attrs or "panel" not in children:
        raise InputError("not a fit saved by forecast (missing spec or panel)", file=str(path))
    version = attrs.get("forecast_format_version")
    if version != FORMAT_VERSION:
        raise InputError(f"saved in format {version!r}, which this version of forecast (format "
                         f"{FORMAT_VERSION!r}) does not read; refit or use the version that "
                         f"saved it ({attrs.get('forecast_version', '?')})", file=str(path),
                         column="forecast_format_version")
    missing = [a for a in _REQUIRED_ATTRS if a not in attrs]
    if missing or "posterior" not in children:
        raise InputError("incomplete fit file (altered?): missing "
                         + ", ".join(missing or ["the posterior group"]), file=str(path))


def _stored_panel(attrs, pds: xr.Dataset, path: Path) -> Panel:
    """The observations a file holds as a panel, refused where they or its catalog do not
    match the stored data hash."""
    import tomllib

    catalog = Catalog.from_dict(tomllib.loads(attrs["forecast_catalog"]), path=str(path))
    frame = pd.DataFrame({c: pds[c].values for c in pds.data_vars})
    frame["value"] = frame["value"].astype(float)
    stored = Panel.from_frame(frame, catalog, start=pds.attrs["first_month"],
                              end=pds.attrs["last_month"])
    if stored.data_hash() != attrs["forecast_data_hash"]:
        raise InputError("the stored observations or catalog do not match the stored data "
                         "hash (file altered?)", file=str(path), column="forecast_data_hash")
    return stored


def _first_difference(a, b, where: str = "") -> str | None:
    """The first place (``signals.hedging.unit``, say) where two nested dicts differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            if key not in a or key not in b:
                return f"{where}{key}"
            found = _first_difference(a[key], b[key], f"{where}{key}.")
            if found is not None:
                return found
        return None
    return None if a == b else where.rstrip(".")


def _how_they_differ(fitted: Panel, given: Panel) -> str:
    """Where a panel differs from the one a fit was made on, for the refusal's message: the
    catalog (even a description: it is part of the data's hash), the months, or the values.

    Examples
    --------
    >>> import forecast
    >>> p = forecast.simulate(n_allies=2, n_months=24, seed=1).panel
    >>> _how_they_differ(p, p.truncate("2015-06"))
    'the months differ: 2014-01 to 2015-12 fitted, 2014-01 to 2015-06 given'
    """
    place = _first_difference(fitted.catalog.to_dict(), given.catalog.to_dict())
    if place is not None:
        return f"the catalogs differ, first at {place}"
    if fitted.catalog.to_toml() != given.catalog.to_toml():
        return "the catalogs list their allies or signals in another order"
    if (fitted.months[0], fitted.months[-1]) != (given.months[0], given.months[-1]):
        return (f"the months differ: {fitted.months[0]} to {fitted.months[-1]} fitted, "
                f"{given.months[0]} to {given.months[-1]} given")
    keys = ["ally", "signal", "period"]
    both = fitted.to_frame().merge(given.to_frame(), on=keys, how="outer",
                                   suffixes=("_fitted", "_given"), indicator=True)
    differ = both[(both["_merge"] != "both")
                  | ~np.isclose(both["value_fitted"], both["value_given"], rtol=0, atol=0)]
    if not len(differ):
        return "the values agree to the hash's precision"
    first = differ.iloc[0]
    return (f"{len(differ)} observation(s) differ, first {first['ally']} {first['signal']} "
            f"{first['period']}")


def _check_quantities(post: xr.DataTree, attrs, design, spec: ModelSpec, path: Path) -> None:
    """Refuse a posterior that lacks a quantity the fit was saved with (its names are stored
    as ``forecast_quantities``): the forecasts read some only where the model has them (a
    static spec has no ``persistence``), so a file without one forecast as if the model had
    none and ran on without an error. A file saved before the names were stored is checked
    for those of :data:`READ_QUANTITIES` that the spec's model has."""
    stored = attrs.get("forecast_quantities")
    if stored is None:
        names = _model_quantities(design, spec)
        saved_with = f"the fit's model (spec {spec.name!r}) has"
    else:
        names = json.loads(stored)
        if not isinstance(names, list):
            raise ValueError("forecast_quantities is not a list")
        saved_with = "the fit was saved with"
    missing = [str(n) for n in names if n not in post.data_vars]
    if missing:
        raise InputError(f"the posterior holds no {', '.join(map(repr, missing))}, which "
                         f"{saved_with} (file altered?)", file=str(path), column="posterior")
    # a value that is not finite loaded, and every forecast of it came out NaN without a word
    broken = [str(n) for n in names if not np.isfinite(post[n].values).all()]
    if broken:
        raise InputError(f"the posterior's {', '.join(map(repr, broken))} holds values that are "
                         "not finite (NaN or inf): damaged or altered file", file=str(path),
                         column="posterior")


#: the posterior quantities that forecasts, scenarios and attribution read, each where the
#: spec's model has it: what a file saved without ``forecast_quantities`` is checked for
READ_QUANTITIES = frozenset({
    "credibility", "persistence", "credibility_sd", "factor_share", "common_factor",
    "factor_persistence", "factor_loading", "level", "driver_effect_ally", "outcome_intercept",
    "outcome_loading", "outcome_overdispersion", "intercept", "loading", "loading_ally",
    "intercept_drift", "overdispersion", "noise", "outcome_drift", "outcome_drift_tau",
})


def _model_quantities(design, spec: ModelSpec) -> list[str]:
    """Of :data:`READ_QUANTITIES`, those the spec's model has (built, so PyMC is imported:
    only for files saved before their quantities were stored)."""
    from forecast.model import build_model

    model = build_model(design, spec)
    has = {v.name for v in model.free_RVs} | {v.name for v in model.deterministics}
    return sorted(has & READ_QUANTITIES)


def _check_coordinates(tree: xr.DataTree, design, path: Path) -> None:
    """Refuse a posterior whose allies, months, signals or drivers are not the rebuilt
    model's, in its order: the tables label by coordinate and the forecasts go by position,
    so a reordered or cut posterior would give each ally another's numbers without an error.
    """
    post = tree["posterior"]
    if "credibility" not in post.data_vars:
        raise InputError("the posterior holds no 'credibility' (file altered?)", file=str(path),
                         column="posterior")
    expected = {"ally": list(design.allies), "period": list(design.periods),
                "signal": list(design.indicators), "driver": list(design.drivers),
                # the walks are read by position: a reordered year was another year's level
                "year": [str(y) for y in design.years],
                "drift_step": [str(y) for y in design.years[1:]]}
    for dim, values in expected.items():
        if dim in post.coords:
            got = [str(v) for v in post.coords[dim].values]
            if got != values:
                raise InputError(
                    f"the posterior's {dim} coordinates are not the fitted panel's "
                    f"({shortlist(got, 4)} against {shortlist(values, 4)}; file altered?)",
                    file=str(path), column=f"posterior.{dim}")


def _rebuild(tree: xr.DataTree, path: Path, panel: Panel | None) -> Fit:
    """The fit of a file :func:`load_fit` has opened and checked for its parts."""
    attrs = tree.attrs
    try:
        spec = ModelSpec.from_json(attrs["forecast_spec"])
    except ValueError as exc:  # pydantic ValidationError, JSON errors
        raise InputError(
            "the stored spec does not fit this version of forecast (saved by version "
            f"{attrs.get('forecast_version', '?')}; refit to update): {str(exc).splitlines()[0]}",
            file=str(path), column="forecast_spec") from None
    if json_hash(attrs["forecast_spec"]) != attrs.get("forecast_spec_hash"):
        raise InputError("the stored spec does not match its hash (file altered?)",
                         file=str(path), column="forecast_spec_hash")
    stored = _stored_panel(attrs, tree["panel"].to_dataset(), path)
    if panel is not None and panel.data_hash() != attrs["forecast_data_hash"]:
        raise InputError(
            "this fit was made on other data: the panel's hash "
            f"{panel.data_hash()[:12]}… differs from the fitted {attrs['forecast_data_hash'][:12]}… "
            f"({_how_they_differ(stored, panel)}): refit on this panel, or load without "
            "panel= to use the fit's own",
            file=str(path), column="forecast_data_hash")
    del tree["panel"]
    sampler, seed, timings = _run_attributes(tree, path)
    design = make_design(panel or stored, spec)
    if "forecast_driver_standardisation" in attrs:
        saved = json.loads(attrs["forecast_driver_standardisation"])
        loc, scale = np.asarray(saved["loc"], float), np.asarray(saved["scale"], float)
        if loc.shape != design.driver_loc.shape or scale.shape != design.driver_scale.shape:
            raise ValueError("forecast_driver_standardisation does not fit the drivers")
        if not (np.isfinite(loc).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("forecast_driver_standardisation holds a value that is not "
                             "finite, or a scale that is not positive")
        # what the driver effects are per unit of: the fitted panel's own standardisation,
        # which every fit is made with but an oracle fit (the simulation's)
        own = design if panel is None else make_design(stored, spec)
        if sampler != "oracle" and not (np.allclose(loc, own.driver_loc, rtol=1e-9, atol=0)
                                        and np.allclose(scale, own.driver_scale, rtol=1e-9,
                                                        atol=0)):
            raise InputError("the drivers' standardisation stored is not the fitted panel's "
                             f"own, which a fit by {sampler} is made with (file altered, or "
                             "saved by a version of forecast that standardised otherwise?)",
                             file=str(path), column="forecast_driver_standardisation")
        if not (np.array_equal(loc, design.driver_loc)
                and np.array_equal(scale, design.driver_scale)):
            design = design.with_driver_standardisation(loc, scale)
    _check_coordinates(tree, design, path)
    _check_quantities(tree["posterior"], attrs, design, spec, path)
    return Fit(idata=tree, panel=panel or stored, spec=spec, design=design, sampler=sampler,
               seed=seed, timings=timings)


def _run_attributes(tree: xr.DataTree, path: Path) -> tuple[str, int | None, dict]:
    """The stored sampler, seed and timings of a fit, refused where no fit can have written
    them: an MCMC fit's divergences and E-BFMI are read from its sampler statistics, which a
    file without them would have passed as 0 and 1."""
    from forecast.inference import SAMPLERS

    attrs = tree.attrs
    # who makes a Fit: the samplers of forecast.fit (the reusable fitter's is nutpie) and the
    # simulation's truth (forecast.oracle_fit)
    makers = (*SAMPLERS, "oracle")
    sampler = attrs.get("forecast_sampler", "nutpie")
    if sampler not in makers:
        raise InputError(f"the stored sampler {sampler!r} is none of {', '.join(makers)} "
                         "(file altered?)", file=str(path), column="forecast_sampler")
    seed = int(attrs.get("forecast_seed", -1))
    if seed < -1:  # -1 is "no seed"
        raise InputError(f"the stored seed {seed} is negative (file altered?)", file=str(path),
                         column="forecast_seed")
    timings = json.loads(attrs.get("forecast_timings", "{}"))
    if not isinstance(timings, dict):
        raise InputError("the stored timings are not a JSON object (file altered?)",
                         file=str(path), column="forecast_timings")
    if lacking := lacking_statistics(sampler, tree):
        raise InputError(f"the sampler's statistics hold no {' or '.join(lacking)}, which every "
                         f"fit by {sampler} has: its divergences and E-BFMI could not be "
                         "checked (file altered?)", file=str(path), column="sample_stats")
    return sampler, (None if seed < 0 else seed), timings
