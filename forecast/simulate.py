"""Synthetic panels with known truth, drawn from the package's own generative process.

Used by recovery tests, simulation-based calibration, demos and benchmarks. The process is the
default spec's (partial pooling, AR(1) states, common factor, drivers), with parameters fixed
by :class:`SimulationParameters` so that tests can check that a fit recovers them, with one
difference: driver effects vary by ally (spread ``driver_effect_tau``; the default spec fits
one shared effect). A signal the catalog marks ``drifts = true`` has its ally intercepts follow
a yearly random walk (steps of sd ``drift_tau``), as the default spec fits it;
:func:`synthetic_catalog` marks none (``docs/decisions/0020``). The walk is drawn from a
generator of its own: with ``drift_tau = 0`` a catalog with marks gives the panel of the same
catalog without them. With ``outcome_drift_tau > 0`` the hedging level follows a yearly walk
common to the allies, as a spec with ``outcome_drift = true`` fits it (``docs/decisions/0032``;
0 by default, and then no draw is taken for it).

The truth is stated in the model's own coordinates, so that a recovery test compares a
posterior with the quantity it estimates:

- the allies' volatilities have geometric mean 1 (their log-deviations sum to zero), as the
  model fixes it to identify the latent's scale;
- a pooled parameter's ``*_mu`` (and ``driver_effect``) is the allies' average of the ally
  values drawn, not the population value they were drawn around: the model's ally offsets sum
  to zero, so its ``*_mu`` is exactly that average. The population values are in
  :attr:`Simulation.params`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from forecast.catalog import Catalog, read_catalog
from forecast.errors import InputError, check_seed, expected_one_of, is_real, whole_number
from forecast.recursion import ar1_filter
from forecast.panel import Panel, format_period, month_argument

__all__ = ["simulate", "Simulation", "SimulationParameters", "synthetic_catalog"]


def synthetic_catalog(n_allies: int) -> Catalog:
    """The six-signal catalog used for synthetic panels.

    Four indicators (monthly Poisson exercise counts, monthly negative-binomial joint statements,
    quarterly U.S. troop levels, annual defence spending with a disputed sign), one driver
    (consultation lapses) and the hedging outcome.

    Examples
    --------
    >>> cat = synthetic_catalog(3)
    >>> list(cat.allies)
    ['A00', 'A01', 'A02']
    >>> [s.name for s in cat.indicators]
    ['exercise_tempo', 'joint_statements', 'us_troops', 'milex_share_gdp']
    """
    whole_number("n_allies", n_allies, 1)
    sig = {
        "exercise_tempo": ("indicator", "poisson", "monthly", 1, "exercises per month"),
        "joint_statements": ("indicator", "negbin", "monthly", 1, "statements per month"),
        "us_troops": ("indicator", "normal", "quarterly", 1, "log10 troops"),
        "milex_share_gdp": ("indicator", "normal", "annual", 0, "% of GDP"),
        "consultation_lapse": ("driver", "poisson", "monthly", -1, "lapses per month"),
        "hedging": ("outcome", "negbin", "monthly", -1, "hedging acts per month"),
    }
    return Catalog.from_dict({
        "allies": {f"A{i:02d}": f"Synthetic ally {i}" for i in range(n_allies)},
        "signals": {
            name: {"role": r, "family": f, "frequency": q, "sign": s, "unit": u,
                   "description": f"Simulated {name.replace('_', ' ')}"}
            for name, (r, f, q, s, u) in sig.items()
        },
    })


@dataclass(frozen=True)
class SimulationParameters:
    """Population (hyper)parameters of a simulation; ally parameters are drawn from them."""

    persistence_logit_mu: float = 2.0
    persistence_logit_tau: float = 0.4
    volatility_log_tau: float = 0.2
    factor_persistence: float = 0.85
    factor_share_logit_mu: float = -1.0
    factor_share_logit_tau: float = 0.4
    driver_effect: float = -0.35
    driver_effect_tau: float = 0.1
    driver_rate: float = 0.4
    loading: float = 0.8
    intercept_tau: float = 0.3
    count_intercept: float = 0.0
    noise: float = 0.5
    overdispersion: float = 0.5
    outcome_intercept_mu: float = -1.2
    outcome_intercept_tau: float = 0.3
    outcome_loading_log_mu: float = -0.5
    outcome_loading_log_tau: float = 0.2
    outcome_overdispersion: float = 0.5
    drift_tau: float = 0.25
    outcome_drift_tau: float = 0.0
    common_factor: bool = True

    def __post_init__(self) -> None:
        """Refuse a value no simulation can be drawn with (a numpy error, or nothing said)."""
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            where = dict(parameter=f"params.{name}", value=value)
            if name == "common_factor":
                if not isinstance(value, (bool, np.bool_)):
                    raise InputError("expected True or False", **where)
                continue
            if not is_real(value) or not np.isfinite(value):
                raise InputError("expected a finite number", **where)
            if name in _POSITIVE and value <= 0:
                raise InputError("expected a positive number (a scale)", **where)
            if (name.endswith("_tau") or name == "driver_rate") and value < 0:
                raise InputError("expected a number of at least 0 (a spread or a rate)", **where)
            if name == "driver_rate" and value > 1e6:  # numpy's Poisson refuses ~1e19
                raise InputError("expected a rate of drivers a month of at most 1e6", **where)
            if name == "factor_persistence" and not -1 < value < 1:
                raise InputError("expected a persistence strictly between -1 and 1 (a "
                                 "stationary factor)", **where)


def _centred_walk(steps: np.ndarray) -> np.ndarray:
    """A yearly walk from 0 by ``steps`` (last axis: one fewer than the years), centred on its
    mean over the years, as the model centres its walks."""
    walk = np.zeros(steps.shape[:-1] + (steps.shape[-1] + 1,))
    walk[..., 1:] = np.cumsum(steps, axis=-1)
    return walk - walk.mean(axis=-1, keepdims=True)


#: parameters of :class:`SimulationParameters` that are scales, so positive
_POSITIVE = ("noise", "overdispersion", "outcome_overdispersion")


@dataclass(frozen=True)
class Simulation:
    """A synthetic panel and the truth it was drawn from.

    Attributes
    ----------
    panel
        The observed panel (missing values masked).
    truth
        ``xarray.Dataset`` named like the posterior: ``credibility (ally, period)``,
        ``persistence``, ``credibility_sd``, ``factor_loading``, ``outcome_loading``, ... and the
        population parameters.
    params
        The :class:`SimulationParameters` used.
    """

    panel: Panel
    truth: xr.Dataset
    params: SimulationParameters = field(default_factory=SimulationParameters)

    def write(self, directory: str | Path) -> tuple[Path, Path]:
        """Write the panel as ``observations.csv`` + ``signals.toml`` and the truth as
        ``truth.nc``; returns the observation and catalog paths."""
        obs, cat = self.panel.write(directory)
        self.truth.to_netcdf(Path(directory) / "truth.nc", engine="h5netcdf")
        return obs, cat


def _draw(family: str, eta: np.ndarray, od: float, noise: float, rng: np.random.Generator):
    if family == "poisson":
        return rng.poisson(np.exp(np.clip(eta, -20, 8))).astype(float)
    if family == "negbin":
        mu = np.exp(np.clip(eta, -20, 8))
        r = 1.0 / od**2
        return rng.negative_binomial(r, r / (r + mu)).astype(float)
    if family == "bernoulli":
        return (rng.random(eta.shape) < 1 / (1 + np.exp(-eta))).astype(float)
    return eta + noise * rng.standard_normal(eta.shape)


def simulate(
    n_allies: int = 8,
    n_months: int = 144,
    *,
    catalog: Catalog | str | Path | None = None,
    missing: float = 0.3,
    start: str = "2014-01",
    ragged: bool = False,
    params: SimulationParameters | dict | None = None,
    seed: int | None = None,
) -> Simulation:
    """Draw a synthetic panel with known latent credibility and parameters.

    Parameters
    ----------
    n_allies, n_months
        Panel size (ignored ``n_allies`` when ``catalog`` is given: its allies are used).
    catalog
        Any valid catalog, or the path of its signals.toml; defaults to
        :func:`synthetic_catalog`.
    missing
        Share of indicator values removed at random (masked, not zero).
    start
        First month (``YYYY-MM``).
    ragged
        If True, the last ally enters halfway through the panel (no data before).
    params
        Population parameters: :class:`SimulationParameters`, or a dict of its fields;
        default :class:`SimulationParameters`().
    seed
        Seed of the random generator (explicit seeds make recovery tests reproducible).

    Examples
    --------
    >>> sim = simulate(n_allies=4, n_months=36, seed=0)
    >>> sim.panel.n_allies, sim.panel.n_months
    (4, 36)
    >>> float(sim.truth["credibility"].std()) > 0
    True
    """
    whole_number("n_months", n_months, 2)
    whole_number("n_allies", n_allies, 1)
    check_seed(seed)
    if not is_real(missing) or not 0 <= missing < 1:
        raise InputError("missing must be a share of values from 0 to less than 1",
                         parameter="missing", value=missing)
    first = month_argument(start, "start")
    rng = np.random.default_rng(seed)
    if isinstance(params, dict):  # the fields by name, as a notebook would write them
        unknown = [k for k in params if k not in SimulationParameters.__dataclass_fields__]
        if unknown:
            raise InputError("unknown simulation parameter" + expected_one_of(
                unknown[0], list(SimulationParameters.__dataclass_fields__)),
                parameter="params", value=unknown[0])
        params = SimulationParameters(**params)
    elif params is not None and not isinstance(params, SimulationParameters):
        raise InputError("expected SimulationParameters or a dict of its fields",
                         parameter="params", value=type(params).__name__)
    p = params or SimulationParameters()
    if isinstance(catalog, (str, Path)):
        catalog = read_catalog(catalog)
    elif catalog is not None and not isinstance(catalog, Catalog):
        raise InputError("expected a Catalog or the path of a signals.toml",
                         parameter="catalog", value=type(catalog).__name__)
    catalog = catalog or synthetic_catalog(n_allies)
    allies = list(catalog.allies)
    A, T = len(allies), n_months
    months = pd.period_range(first, periods=T, freq="M")

    # ally parameters
    phi_logit = p.persistence_logit_mu + p.persistence_logit_tau * rng.standard_normal(A)
    phi = 1 / (1 + np.exp(-phi_logit))
    log_v = p.volatility_log_tau * rng.standard_normal(A)
    v = np.exp(log_v - log_v.mean())  # geometric mean 1: the model's scale anchor
    w = np.zeros(A)
    w_logit = np.full(A, p.factor_share_logit_mu)
    if p.common_factor:
        w_logit = p.factor_share_logit_mu + p.factor_share_logit_tau * rng.standard_normal(A)
        w = 1 / (1 + np.exp(-w_logit))
    ally_scale = v * np.sqrt(1 - w)
    drivers = catalog.drivers
    raw_drv = rng.poisson(p.driver_rate, size=(A, len(drivers), T)).astype(float)
    # a binary driver records whether any such event happened (the same draws: a catalog
    # without one is simulated as before); counts suit the count families and normal alike
    binary = [j for j, d in enumerate(drivers) if d.family == "bernoulli"]
    raw_drv[:, binary] = raw_drv[:, binary] > 0
    loc = raw_drv.mean(axis=(0, 2)) if len(drivers) else np.zeros(0)
    scale = raw_drv.std(axis=(0, 2)) if len(drivers) else np.ones(0)
    scale = np.where(scale > 0, scale, 1.0)
    std_drv = (raw_drv - loc[None, :, None]) / scale[None, :, None]
    # a driver's population effect takes its catalog sign (a free-sign driver lowers credibility)
    b_pop = abs(p.driver_effect) * np.array([d.sign if d.sign else -1 for d in drivers], float)
    beta = b_pop[None, :] + p.driver_effect_tau * rng.standard_normal((A, len(drivers)))

    eps = rng.standard_normal((A, T))
    u = np.sqrt(1 - phi**2)[:, None] * eps
    u[:, 0] = eps[:, 0]
    if len(drivers):
        u[:, 1:] += (beta[:, :, None] * std_drv[:, :, :-1]).sum(axis=1) / ally_scale[:, None]
    x = ally_scale[:, None] * ar1_filter(u, phi)
    g = np.zeros(T)
    gamma = v * np.sqrt(w)
    if p.common_factor:
        rho = p.factor_persistence
        vg = np.sqrt(1 - rho**2) * rng.standard_normal(T)
        vg[0] = rng.standard_normal()
        g = ar1_filter(vg, rho)
    theta = x + gamma[:, None] * g[None, :]
    entry = np.zeros(A, dtype=int)
    if ragged:
        entry[-1] = T // 2

    rows: list[pd.DataFrame] = []
    sig_names = [s_.name for s_ in catalog.indicators]
    loadings = np.array([(s_.sign if s_.sign else 1) * p.loading * (0.75 ** k)
                         for k, s_ in enumerate(catalog.indicators)])
    intercept = np.zeros((A, len(sig_names)))
    # the drifting signals' walks, one level a year, centred on their mean over the panel's
    # years as the model centres them (the intercept is the signal's average level). A child
    # generator, so that the main one's draws do not depend on which signals are marked
    year0 = months[0].year
    n_years = months[-1].year - year0 + 1
    drifting = [s_.name for s_ in catalog.indicators if s_.drifts]
    # the walks' generators, spawned whether or not they are used: the indicators' walks take
    # the first and hedging's the second, whichever signals the catalog marks
    walk_rng, hedging_walk_rng = rng.spawn(2)
    walk = np.zeros((A, len(drifting), n_years))
    if drifting:
        walk = _centred_walk(p.drift_tau
                             * walk_rng.standard_normal((A, len(drifting), n_years - 1)))
    cum = np.concatenate([np.zeros((A, 1)), np.cumsum(theta, axis=1)], axis=1)
    for k, spec_ in enumerate(catalog.indicators):
        base = p.count_intercept if spec_.is_count else 0.0
        intercept[:, k] = base + p.intercept_tau * rng.standard_normal(A)
        periods = pd.period_range(months[0].asfreq(spec_.pandas_freq),
                                  months[-1].asfreq(spec_.pandas_freq), freq=spec_.pandas_freq)
        st = np.array([max(q.asfreq("M", how="start").ordinal - months[0].ordinal, 0)
                       for q in periods])
        sp = np.array([min(q.asfreq("M", how="end").ordinal - months[0].ordinal + 1, T)
                       for q in periods])
        mean_theta = (cum[:, sp] - cum[:, st]) / (sp - st)
        eta = intercept[:, [k]] + loadings[k] * mean_theta
        if spec_.name in drifting:
            year = np.array([months[i].year - year0 for i in np.minimum(st, T - 1)])
            eta = eta + walk[:, drifting.index(spec_.name)][:, year]
        vals = _draw(spec_.family, eta, p.overdispersion, p.noise, rng)
        keep = rng.random(vals.shape) >= missing
        keep &= st[None, :] >= entry[:, None]
        a_idx, q_idx = np.nonzero(keep)
        rows.append(pd.DataFrame({
            "ally": np.asarray(allies, dtype=object)[a_idx],
            "period": [format_period(periods[i]) for i in q_idx],
            "signal": spec_.name, "value": vals[a_idx, q_idx]}))
    for j, d in enumerate(drivers):
        a_idx, t_idx = np.nonzero(np.arange(T)[None, :] >= entry[:, None])
        rows.append(pd.DataFrame({
            "ally": np.asarray(allies, dtype=object)[a_idx],
            "period": [format_period(months[i]) for i in t_idx],
            "signal": d.name, "value": raw_drv[a_idx, j, t_idx]}))
    out = catalog.outcome
    ho = p.outcome_intercept_mu + p.outcome_intercept_tau * rng.standard_normal(A)
    log_kappa = p.outcome_loading_log_mu + p.outcome_loading_log_tau * rng.standard_normal(A)
    kappa = (out.sign if out.sign else -1) * np.exp(log_kappa)
    lagged = np.concatenate([theta[:, :1], theta[:, :-1]], axis=1)
    eta_h = ho[:, None] + kappa[:, None] * lagged
    h_walk = None
    if p.outcome_drift_tau > 0:
        # hedging's level across allies, a yearly walk centred as the model centres it
        # (spec outcome_drift); its own child generator, so that a panel without it is drawn
        # as before
        h_walk = _centred_walk(p.outcome_drift_tau
                               * hedging_walk_rng.standard_normal(n_years - 1))
        eta_h = eta_h + h_walk[[m.year - year0 for m in months]][None, :]
    hedging = _draw(out.family, eta_h, p.outcome_overdispersion, 0.0, rng)
    a_idx, t_idx = np.nonzero(np.arange(T)[None, :] >= np.maximum(entry, 0)[:, None])
    rows.append(pd.DataFrame({
        "ally": np.asarray(allies, dtype=object)[a_idx],
        "period": [format_period(months[i]) for i in t_idx],
        "signal": out.name, "value": hedging[a_idx, t_idx]}))
    frame = pd.concat(rows, ignore_index=True)
    panel = Panel.from_frame(frame, catalog, start=format_period(months[0]),
                             end=format_period(months[-1]))

    periods = [format_period(m) for m in months]
    drift_truth = {}
    if drifting:  # in the signal's own units, as intercept_raw (the model's for counts)
        drift_truth["intercept_drift_raw"] = (("ally", "drift_signal", "year"), walk)
    if h_walk is not None:
        drift_truth["outcome_drift"] = (("year",), h_walk)
        drift_truth["outcome_drift_tau"] = ((), p.outcome_drift_tau)
    truth = xr.Dataset(
        {
            "credibility": (("ally", "period"), theta),
            "state": (("ally", "period"), x),
            "common_factor": (("period",), g),
            "persistence": (("ally",), phi),
            "credibility_sd": (("ally",), v),
            "factor_share": (("ally",), w),
            "factor_loading": (("ally",), gamma),
            # the model's pooled locations are the allies' averages (zero-sum offsets)
            "driver_effect": (("driver",), beta.mean(axis=0)),
            "driver_effect_ally": (("ally", "driver"), beta),
            # what the effects are per unit of: the driver standardised over the whole panel
            "driver_loc": (("driver",), loc),
            "driver_scale": (("driver",), scale),
            "loading_raw": (("signal",), loadings),
            "intercept_raw": (("ally", "signal"), intercept),
            "outcome_intercept": (("ally",), ho),
            "outcome_loading": (("ally",), kappa),
            "persistence_logit_mu": ((), phi_logit.mean()),
            "factor_persistence": ((), p.factor_persistence),
            "factor_share_logit_mu": ((), w_logit.mean()),
            "outcome_loading_log_mu": ((), log_kappa.mean()),
            "outcome_intercept_mu": ((), ho.mean()),
            **drift_truth,
        },
        coords={"ally": allies, "period": periods, "signal": sig_names,
                "driver": [d.name for d in drivers],
                **({"drift_signal": drifting} if drifting else {}),
                **({"year": list(range(year0, year0 + n_years))}
                   if drifting or h_walk is not None else {})},
        attrs={"seed": -1 if seed is None else seed, "missing": missing},
    )
    return Simulation(panel=panel, truth=truth, params=p)
