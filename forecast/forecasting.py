"""Forecasts of hedging and credibility: forward simulation from every posterior draw.

For each posterior draw (flattened over chains) the state is run forward month by month,
exactly as the model writes it (:mod:`forecast.model`)::

    own[a,t] = φ[a]·own[a,t-1] + Σ_d β[a,d]·D[a,d,t-1] + s[a]·sqrt(1-φ[a]²)·ε[a,t]
    g[t]     = ρ·g[t-1] + sqrt(1-ρ²)·η[t]
    θ[a,t]   = own[a,t] + γ[a]·g[t] (+ level[a])
    w[y]     = w[y-1] + τ_w·ζ[y]                            (a step into each January ahead)
    hedging[a,t] ~ NegBin(exp(α[a] + κ[a]·θ[a,t-1] + w[year(t)]), r)   (or Poisson)

starting from the draw's own state, factor and credibility at the forecast origin (the panel's
last month) and hedging's level ``w`` in the origin's year (a spec with ``outcome_drift``,
the default's; without it ``w`` is 0: docs/decisions/0032). ``D`` are driver values
standardised with the fit's own location and scale.

Future drivers follow a stated assumption (``driver_assumption``), never silent zeros:

``"recent"`` (default)
    For each draw, ally and driver, a rate is drawn from the Gamma posterior of the ally's
    mean over its last 12 observed months (Jeffreys prior: shape ``0.5 + Σ counts``, rate ``n``),
    and each future month's count is Poisson with that rate. Normal drivers: the mean's
    normal posterior, then normal months; Bernoulli drivers: the Beta posterior. The months
    are the ally's own observed ones, however long ago; an ally with none borrows every ally's.
``"history"``
    The same with the ally's whole history.
``"hold"``
    Every future month repeats the origin month's value.

A :class:`~forecast.scenarios.Scenario` then overrides chosen ally-month driver values.
All random numbers are drawn in a fixed order from ``seed`` before any override, and outcome
counts are drawn by inverse CDF from common uniforms, so two forecasts with the same fit and
seed are *paired*: they differ only through the scenario (see :func:`forecast.scenarios.compare`).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from forecast.catalog import COUNT_FAMILIES
from forecast.errors import (PACKAGE_FRAMES, InputError, check_seed, is_real, shortlist,
                             whole_number)
from forecast.pareto import K_NO_MEAN, K_THRESHOLD, tail_k
from forecast.pointwise import flat_draws
from forecast.tabular import run_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from forecast.results import Fit
    from forecast.scenarios import Scenario

__all__ = [
    "ForecastResult",
    "forecast_fit",
    "load_forecast",
    "DRIVER_ASSUMPTIONS",
    "StateDraws",
    "state_draws",
    "reliable_mean",
    "count_quantiles",
]

#: how each assumption draws a driver's mean, by the driver's family, and then its values
_DRAWN = ("(a count's rate from its Gamma posterior, a 0/1's probability from its Beta, both "
          "with the Jeffreys prior; a normal value's mean from its normal posterior), then the "
          "month's value at that mean: Poisson counts (also for a driver the catalog models as "
          "negbin: the months scatter about the rate no more than Poisson counts do), 0/1 "
          "draws or normal values")
DRIVER_ASSUMPTIONS: dict[str, str] = {
    "recent": "each future month's driver value is drawn from the ally's recent rate: per "
              "posterior draw a mean of the ally's last 12 observed months " + _DRAWN,
    "history": "each future month's driver value is drawn from the ally's whole-history rate: "
               "per posterior draw a mean of all the ally's observed months " + _DRAWN,
    "hold": "every future month repeats the origin month's driver value",
}
QUANTILES: dict[str, float] = {"q05": 0.05, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q95": 0.95}
RECENT_MONTHS = 12
MAX_ETA = 20.0


# ---------------------------------------------------------------------------------------------
# posterior draws needed to run the state forward
@dataclass(frozen=True)
class StateDraws:
    """Posterior draws at the forecast origin, flattened over ``(chain, draw)``.

    Arrays have the sample axis first; ``A`` allies, ``D`` drivers.

    Attributes
    ----------
    index
        Position of each sample in the flattened ``(chain, draw)`` posterior.
    own, level, theta
        ``(n, A)``: own state, ally level (0 unless the spec has shared intercepts) and
        credibility in the origin month.
    g, rho
        ``(n,)``: common factor in the origin month and its persistence (0 without a factor).
    phi, scale, gamma
        ``(n, A)``: persistence (0 for a static spec), sd of the own state, factor loading.
    beta
        ``(n, A, D)``: driver effects per standardised unit.
    outcome_intercept, outcome_loading
        ``(n, A)``.
    outcome_overdispersion
        ``(n,)``; ``None`` when the outcome is Poisson.
    outcome_drift, outcome_drift_tau
        ``(n,)``: the hedging level's walk in the origin's year and the sd of its yearly
        steps; ``None`` without ``outcome_drift`` in the spec.
    """

    index: np.ndarray
    own: np.ndarray
    level: np.ndarray
    theta: np.ndarray
    g: np.ndarray
    rho: np.ndarray
    phi: np.ndarray
    scale: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    outcome_intercept: np.ndarray
    outcome_loading: np.ndarray
    outcome_overdispersion: np.ndarray | None
    outcome_drift: np.ndarray | None = None
    outcome_drift_tau: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.index)

    def fingerprint(self) -> str:
        """SHA-256 of every array (what a forecast from these draws depends on besides its
        seed, drivers and scenario): two forecasts compared on paired draws must share it."""
        h = hashlib.sha256()
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in ("outcome_drift", "outcome_drift_tau"):
                continue  # a forecast without the walk keeps the fingerprint it had before
            h.update(f.name.encode())
            if value is not None:
                h.update(np.ascontiguousarray(value, dtype=np.float64).tobytes())
        return h.hexdigest()

    def repeat(self, m: int) -> "StateDraws":
        """Each sample repeated ``m`` times in a row (for nested simulation)."""
        def rep(x):
            return None if x is None else np.repeat(x, m, axis=0)
        return StateDraws(**{k: rep(getattr(self, k)) for k in self.__dataclass_fields__})

    def subset(self, rows: np.ndarray) -> "StateDraws":
        """The samples at positions ``rows``."""
        def sub(x):
            return None if x is None else x[rows]
        return StateDraws(**{k: sub(getattr(self, k)) for k in self.__dataclass_fields__})


def _flat(post: xr.Dataset, name: str, rows: np.ndarray) -> np.ndarray:
    return flat_draws(post, name)[rows]


def state_draws(fit: "Fit", n_draws: int | None = None) -> StateDraws:
    """Extract the draws the forward simulation needs from a fit.

    Parameters
    ----------
    fit
        A :class:`~forecast.results.Fit`.
    n_draws
        Use at most this many draws, evenly spaced over the flattened posterior
        (deterministic, so that two forecasts of one fit use the same draws); all by default,
        and all when the fit holds fewer.

    Examples
    --------
    >>> import forecast                                                  # doctest: +SKIP
    >>> sim = forecast.simulate(n_allies=3, n_months=24, seed=1)         # doctest: +SKIP
    >>> f = forecast.fit(sim.panel, draws=50, tune=50, chains=1, seed=1) # doctest: +SKIP
    >>> state_draws(f, n_draws=20).own.shape                             # doctest: +SKIP
    (20, 3)
    """
    post = fit.posterior
    total = post.sizes["chain"] * post.sizes["draw"]
    if n_draws is not None:
        # two at least: the forecast's split of its uncertainty is a variance over draws
        whole_number("n_draws", n_draws, 2)
    if n_draws is None or n_draws >= total:
        rows = np.arange(total)
    else:
        rows = np.unique(np.linspace(0, total - 1, n_draws).round().astype(np.int64))
    n, A, D = len(rows), fit.design.n_allies, len(fit.design.drivers)
    zeros = np.zeros((n, A))
    theta = _flat(post, "credibility", rows)[:, :, -1]
    phi = _flat(post, "persistence", rows) if "persistence" in post else zeros
    v = _flat(post, "credibility_sd", rows) if "credibility_sd" in post else np.ones((n, A))
    w = _flat(post, "factor_share", rows) if "factor_share" in post else zeros
    if "common_factor" in post:
        g = _flat(post, "common_factor", rows)[:, -1]
        rho = _flat(post, "factor_persistence", rows)
        gamma = _flat(post, "factor_loading", rows)
    else:
        # no factor: g stays exactly 0 (ρ = 1 with a zero start never moves) and γ = 0
        g, rho, gamma = np.zeros(n), np.ones(n), zeros
    level = _flat(post, "level", rows) if "level" in post else zeros
    beta = (_flat(post, "driver_effect_ally", rows) if D and "driver_effect_ally" in post
            else np.zeros((n, A, D)))
    od = (_flat(post, "outcome_overdispersion", rows)
          if fit.design.outcome_family == "negbin" else None)
    drifts = fit.spec.outcome_drift
    if drifts and "outcome_drift" not in post:
        raise InputError("the fit's spec walks hedging's level (outcome_drift) but its "
                         "posterior holds no 'outcome_drift'", parameter="fit",
                         value="posterior")
    return StateDraws(
        index=rows, own=theta - gamma * g[:, None] - level, level=level, theta=theta, g=g,
        rho=rho, phi=phi, scale=v * np.sqrt(1.0 - w), gamma=gamma, beta=beta,
        outcome_intercept=_flat(post, "outcome_intercept", rows),
        outcome_loading=_flat(post, "outcome_loading", rows), outcome_overdispersion=od,
        outcome_drift=_flat(post, "outcome_drift", rows)[:, -1] if drifts else None,
        outcome_drift_tau=_flat(post, "outcome_drift_tau", rows) if drifts else None,
    )


MAX_HORIZON = 60
#: the most inner paths per draw of the uncertainty decomposition
MAX_INNER = 1000


def check_horizon(horizon) -> int:
    """``horizon`` if it is a whole number of months from 1 to :data:`MAX_HORIZON`, else
    :class:`~forecast.errors.InputError`.

    Examples
    --------
    >>> check_horizon(12)
    12
    """
    return whole_number("horizon", horizon, 1, MAX_HORIZON)


# ---------------------------------------------------------------------------------------------
# future drivers
def observed_window(raw: np.ndarray, months: int | None) -> list[np.ndarray]:
    """Per ally, its observed values (NaN left out), the last ``months`` of them or all.

    Examples
    --------
    >>> raw = np.array([[1.0, np.nan, 2.0, 3.0], [np.nan, np.nan, np.nan, np.nan]])
    >>> [w.tolist() for w in observed_window(raw, 2)]
    [[2.0, 3.0], []]
    """
    out = []
    for row in raw:
        v = row[np.isfinite(row)]
        out.append(v[-months:] if months is not None and v.size else v)
    return out


def _rate_draws(values: list[np.ndarray], family: str, n: int, rng: np.random.Generator,
                pooled: np.ndarray) -> np.ndarray:
    """Per sample and ally, a draw of the driver's mean from its posterior given ``values``.

    ``values`` holds each ally's observed values (:func:`observed_window`); an ally with none
    borrows ``pooled`` (all allies' observed values).
    """
    A = len(values)
    out = np.empty((n, A))
    for a in range(A):
        v = values[a]
        if v.size == 0:
            v = pooled[np.isfinite(pooled)]
        if v.size == 0:
            out[:, a] = 0.0
            continue
        if family in COUNT_FAMILIES:
            out[:, a] = rng.gamma(0.5 + v.sum(), 1.0 / v.size, size=n)
        elif family == "bernoulli":
            out[:, a] = rng.beta(0.5 + v.sum(), 0.5 + v.size - v.sum(), size=n)
        else:
            sd = float(np.std(v, ddof=1)) if v.size > 1 else _spread(pooled)
            out[:, a] = v.mean() + sd / np.sqrt(v.size) * rng.standard_normal(n)
    return out


def _spread(values: np.ndarray) -> float:
    """The sd of a driver's observed values over every ally (1.0 where there are fewer than
    two): the spread an ally with too few values of its own borrows."""
    v = values[np.isfinite(values)]
    return float(np.std(v, ddof=1)) if v.size > 1 else 1.0


@dataclass(frozen=True)
class Streams:
    """The random streams of one forecast: one for the drivers' rates, and one per month
    ahead for that month's driver values, state shocks and outcome uniforms. A month's draws
    then come from its own stream, so a longer horizon with the same seed leaves the first
    months' draws as they were (with one stream, a month's draws were taken after the
    drivers of every month, and month 1's q95 of KOR's count read 3 at horizon 1 and 2 at
    horizon 12)."""

    rates: np.random.Generator
    months: tuple[np.random.Generator, ...]

    @classmethod
    def spawn(cls, seq: np.random.SeedSequence, horizon: int) -> "Streams":
        """Streams from ``seq``: its first child for the rates, child ``k + 1`` for offset
        ``k`` (a child's key is its index, whatever the number spawned)."""
        rates, *months = (np.random.default_rng(s) for s in seq.spawn(horizon + 1))
        return cls(rates, tuple(months))


def future_drivers(fit: "Fit", horizon: int, n: int, assumption: str,
                   streams: Streams) -> np.ndarray:
    """Raw driver values for the origin month and the ``horizon - 1`` months after it.

    Returns ``(n, A, D, horizon)``: offset 0 is the origin month (its observed value, or a draw
    where unobserved), offset ``k`` is ``origin + k``. The value at offset ``k`` moves
    credibility at horizon ``k + 1``. How many random numbers it takes depends on the rates
    (numpy's Poisson sampler rejects a rate-dependent number of uniforms), so two forecasts
    with one seed stay paired only while their rates are equal: a scenario changes the values
    after they are drawn (``Overrides.apply``), never the rates.
    """
    design = fit.design
    A, D = design.n_allies, len(design.drivers)
    out = np.zeros((n, A, D, horizon))
    for j, name in enumerate(design.drivers):
        sig = fit.panel.signals[name]
        fam = sig.spec.family
        raw = design.driver_raw[:, j, :]
        window = observed_window(raw, RECENT_MONTHS if assumption == "recent" else None)
        rate = _rate_draws(window, fam, n, streams.rates, pooled=raw)
        month = streams.months[:horizon]  # offset k's values from month k's own stream
        if fam in COUNT_FAMILIES:
            draws = np.stack([g.poisson(rate) for g in month], axis=-1).astype(float)
        elif fam == "bernoulli":
            draws = np.stack([g.random((n, A)) < rate for g in month], axis=-1).astype(float)
        else:
            resid = np.array([np.std(v, ddof=1) if v.size > 1 else _spread(raw)
                              for v in window])
            draws = rate[..., None] + resid[None, :, None] * np.stack(
                [g.standard_normal((n, A)) for g in month], axis=-1)
        last = raw[:, -1]
        if assumption == "hold":
            held = np.where(np.isfinite(last)[None, :], last[None, :], draws[:, :, 0])
            draws = np.broadcast_to(held[..., None], (n, A, horizon)).copy()
        else:
            draws[:, :, 0] = np.where(np.isfinite(last)[None, :], last[None, :], draws[:, :, 0])
        out[:, :, j, :] = draws
    return out


# ---------------------------------------------------------------------------------------------
# the kernel
@dataclass(frozen=True)
class Shocks:
    """Standard-normal state shocks, outcome uniforms and the hedging level's yearly steps
    (standard normal in a January, 0 in other months) for one forecast."""

    eps: np.ndarray  # (n, A, H)
    eta: np.ndarray  # (n, H)
    uniform: np.ndarray | None = None  # (n, A, H)
    drift: np.ndarray | None = None  # (n, H)

    @classmethod
    def draw(cls, n: int, A: int, H: int, streams: Streams, outcome: bool = True,
             new_year: np.ndarray | None = None) -> "Shocks":
        """Horizon ``h``'s shocks from month ``h - 1``'s stream, after its driver values;
        with ``new_year`` (``(H,)``, true where horizon ``h``'s month is a January), the
        hedging level's steps after them, so that the other draws stay as they were."""
        month = streams.months[:H]
        eps = np.stack([g.standard_normal((n, A)) for g in month], axis=-1)
        eta = np.stack([g.standard_normal(n) for g in month], axis=-1)
        uni = np.stack([g.random((n, A)) for g in month], axis=-1) if outcome else None
        drift = None
        if new_year is not None:
            drift = np.stack([g.standard_normal(n) if step else np.zeros(n)
                              for g, step in zip(month, new_year)], axis=-1)
        return cls(eps, eta, uni, drift)


def simulate_paths(state: StateDraws, drivers_std: np.ndarray, shocks: Shocks) -> dict:
    """Run the state forward; pure numpy, vectorised over samples and allies.

    Parameters
    ----------
    state
        Draws at the origin (:func:`state_draws`).
    drivers_std
        ``(n, A, D, H)`` standardised driver values, offset ``k`` moving horizon ``k + 1``.
    shocks
        Innovations and outcome uniforms.

    Returns
    -------
    dict
        ``own``, ``credibility``, ``rate`` (expected hedging) ``(n, A, H)``,
        ``common_factor`` ``(n, H)``.

    Examples
    --------
    >>> import numpy as np
    >>> n, A, H = 2, 1, 3
    >>> z = np.zeros((n, A))
    >>> st = StateDraws(np.arange(n), z + 1, z, z + 1, np.zeros(n), np.zeros(n), z + 0.5,
    ...                 z + 1, z, np.zeros((n, A, 0)), z, z - 1, None)
    >>> out = simulate_paths(st, np.zeros((n, A, 0, H)),
    ...                      Shocks(np.zeros((n, A, H)), np.zeros((n, H))))
    >>> out["credibility"][0, 0].tolist()
    [0.5, 0.25, 0.125]
    """
    n, A, H = shocks.eps.shape
    own = state.own.copy()
    g = state.g.copy()
    innov = state.scale * np.sqrt(np.clip(1.0 - state.phi**2, 0.0, None))
    g_innov = np.sqrt(np.clip(1.0 - state.rho**2, 0.0, None))
    theta_prev = state.theta
    h_level = state.outcome_drift
    own_path = np.empty((n, A, H))
    theta_path = np.empty((n, A, H))
    rate = np.empty((n, A, H))
    g_path = np.empty((n, H))
    for h in range(H):
        push = (state.beta * drivers_std[..., h]).sum(axis=-1)
        own = state.phi * own + push + innov * shocks.eps[:, :, h]
        g = state.rho * g + g_innov * shocks.eta[:, h]
        theta = own + state.gamma * g[:, None] + state.level
        eta = state.outcome_intercept + state.outcome_loading * theta_prev
        if h_level is not None:
            # the hedging level's walk: a step into each new year (docs/decisions/0032)
            if shocks.drift is not None:
                h_level = h_level + state.outcome_drift_tau * shocks.drift[:, h]
            eta = eta + h_level[:, None]
        rate[:, :, h] = np.exp(np.minimum(eta, MAX_ETA))
        own_path[:, :, h], theta_path[:, :, h], g_path[:, h] = own, theta, g
        theta_prev = theta
    return {"own": own_path, "credibility": theta_path, "rate": rate, "common_factor": g_path}


def outcome_zero_prob(rate: np.ndarray, od: np.ndarray | None) -> np.ndarray:
    """P(no hedging event | expected count ``rate``): NegBin with ``alpha = 1/od²`` or Poisson.

    ``(r / (r + rate))^r = exp(-r·log1p(rate / r))``: written with ``log1p``, not as a
    difference of logs, which a large ``r`` (a nearly Poisson count: the posterior of the
    overdispersion reaches 1e-5, ``r`` 1e10) multiplies into an error of order ``r·1e-16``.

    >>> import numpy as np
    >>> p0 = outcome_zero_prob(np.array([2.0]), np.array([1e-6]))[0]  # r = 1e12
    >>> round(float(p0 / np.exp(-2.0)) - 1.0, 14)  # the Poisson's, up to rate²/(2r) = 2e-12
    2e-12
    """
    if od is None:
        return np.exp(-rate)
    r = 1.0 / od**2
    r = r.reshape(r.shape + (1,) * (rate.ndim - r.ndim))
    return np.exp(-r * np.log1p(rate / r))


def outcome_counts(rate: np.ndarray, od: np.ndarray | None, uniform: np.ndarray) -> np.ndarray:
    """Counts by inverse CDF from common uniforms (monotone in ``rate``: paired scenarios).

    A uniform of exactly 0 (``Generator.random`` can return it) is SciPy's ``ppf(0) = -1``: it
    is the count 0.

    Examples
    --------
    >>> outcome_counts(np.array([0.5, 0.5]), None, np.array([0.0, 0.99])).tolist()
    [0, 3]
    """
    if od is None:
        counts = stats.poisson.ppf(uniform, rate)
    else:
        r = 1.0 / od**2
        r = r.reshape(r.shape + (1,) * (rate.ndim - r.ndim))
        counts = stats.nbinom.ppf(uniform, r, r / (r + rate))
    return np.maximum(counts, 0).astype(np.int64)


def outcome_variance(rate: np.ndarray, od: np.ndarray | None) -> np.ndarray:
    """Var(count | rate): ``rate`` (Poisson) or ``rate + rate²·od²`` (NegBin)."""
    if od is None:
        return rate
    od = od.reshape(od.shape + (1,) * (rate.ndim - od.ndim))
    return rate + rate**2 * od**2


def _variance_parts(state: StateDraws, fit: "Fit", horizon: int, assumption: str,
                    overrides, streams: Streams, n_inner: int,
                    max_outer: int) -> dict[str, np.ndarray]:
    """Law-of-total-variance split of Var(hedging) into parameter, path and noise parts.

    Nested Monte Carlo: ``n_inner`` future paths (state shocks, drivers and hedging's level
    steps) per parameter draw
    on up to ``max_outer`` draws; ``Var_i(mean_j μ)`` is corrected by ``E_i[s²_i]/n_inner``.
    """
    rows = np.unique(np.linspace(0, state.n - 1, min(state.n, max_outer)).round().astype(int))
    sub = state.subset(rows).repeat(n_inner)
    raw = future_drivers(fit, horizon, sub.n, assumption, streams)
    if overrides is not None:
        raw = overrides.apply(raw)
    std = _standardise(fit, raw)
    A = fit.design.n_allies
    paths = simulate_paths(sub, std, Shocks.draw(sub.n, A, horizon, streams, outcome=False,
                                                 new_year=new_years(fit, horizon, sub)))
    rate = paths["rate"].reshape(len(rows), n_inner, A, horizon)
    od = None if sub.outcome_overdispersion is None else \
        sub.outcome_overdispersion.reshape(len(rows), n_inner)[:, :, None, None]
    noise = outcome_variance(rate, od).mean(axis=(0, 1))
    within = rate.var(axis=1, ddof=1)
    path = within.mean(axis=0)
    param = np.clip(rate.mean(axis=1).var(axis=0, ddof=1) - path / n_inner, 0.0, None)
    return {"var_parameter": param, "var_path": path, "var_noise": noise}


def new_years(fit: "Fit", horizon: int, state: StateDraws) -> np.ndarray | None:
    """``(horizon,)``: true where the month ``h`` ahead of the fit's last is a January (the
    hedging level's walk takes a step into it); None where the fit's hedging level does not
    drift.

    Examples
    --------
    >>> import forecast
    >>> sim = forecast.simulate(n_allies=2, n_months=23, seed=1)  # 2014-01 to 2015-11
    >>> fit = forecast.oracle_fit(sim, n_draws=4)
    >>> new_years(fit, 3, state_draws(fit)) is None
    True
    >>> drifting = state_draws(fit)
    >>> drifting = StateDraws(**{**vars(drifting), "outcome_drift": np.zeros(drifting.n)})
    >>> new_years(fit, 3, drifting).tolist()
    [False, True, False]
    """
    if state.outcome_drift is None:
        return None
    origin = pd.Period(fit.design.periods[-1], "M")
    return np.array([(origin + h).month == 1 for h in range(1, horizon + 1)])


def _standardise(fit: "Fit", raw: np.ndarray) -> np.ndarray:
    d = fit.design
    return (raw - d.driver_loc[None, None, :, None]) / d.driver_scale[None, None, :, None]


# ---------------------------------------------------------------------------------------------
# entry point
def forecast_fit(
    fit: "Fit",
    horizon: int = 12,
    scenario: "Scenario | str | Path | pd.DataFrame | list[dict] | None" = None,
    seed: int | None = None,
    driver_assumption: str = "recent",
    n_draws: int | None = None,
    n_inner: int = 16,
) -> "ForecastResult":
    """Forecast hedging and credibility ``horizon`` months past the fit's last month.

    Parameters
    ----------
    fit
        A fitted model (:func:`forecast.fit`).
    horizon
        Months ahead, 1 to 60.
    scenario
        Driver overrides: a :class:`~forecast.scenarios.Scenario`, a CSV/TOML path, a
        DataFrame or a list of ``{ally, period, signal, value}`` records.
    seed
        Seed of all random numbers. Two forecasts of one fit with one seed are paired draws.
        Without a seed one is drawn and stored, as text (``draws.attrs["seed"]``: netCDF
        holds no 128-bit integer), so any forecast can be reproduced:
        ``fit.forecast(seed=int(fc.draws.attrs["seed"]))``.
    driver_assumption
        ``"recent"`` (default), ``"history"`` or ``"hold"``; see the module docstring.
    n_draws
        Use at most this many posterior draws (evenly spaced); all by default, and all when
        the fit holds fewer.
    n_inner
        Inner paths per draw for the uncertainty decomposition (on up to 1000 draws), 2 to
        1000.

    Returns
    -------
    ForecastResult

    Examples
    --------
    With a fit of a simulated panel (``forecast.fit(sim.panel)``; here ``oracle_fit``, whose
    draws are the simulation's truth, so that the example needs no sampling):

    >>> import forecast
    >>> sim = forecast.simulate(n_allies=3, n_months=36, seed=1)
    >>> fc = forecast.oracle_fit(sim, n_draws=50).forecast(horizon=6, seed=7)
    >>> fc.hedging().columns.tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['ally', 'period', 'horizon', 'mean', 'p_any', 'q05', 'q25', 'q50', 'q75', 'q95',
     'mean_pareto_k']
    """
    from forecast.results import check_fit
    from forecast.scenarios import as_scenario

    check_fit(fit)
    check_horizon(horizon)
    if driver_assumption not in DRIVER_ASSUMPTIONS:
        raise InputError(f"unknown driver assumption; expected one of "
                         f"{', '.join(DRIVER_ASSUMPTIONS)}", parameter="driver_assumption",
                         value=driver_assumption)
    # a variance over each draw's inner paths; a million killed the process for its memory
    whole_number("n_inner", n_inner, 2, MAX_INNER)
    check_seed(seed)
    design = fit.design
    origin = pd.Period(design.periods[-1], "M")
    scen = as_scenario(scenario)
    overrides = scen.resolve(fit, horizon) if scen is not None else None

    seq = np.random.SeedSequence(seed)
    main, inner = (Streams.spawn(s, horizon) for s in seq.spawn(2))
    state = state_draws(fit, n_draws)
    n, A = state.n, design.n_allies
    raw = future_drivers(fit, horizon, n, driver_assumption, main)
    shocks = Shocks.draw(n, A, horizon, main, new_year=new_years(fit, horizon, state))
    if overrides is not None:
        raw = overrides.apply(raw)
    paths = simulate_paths(state, _standardise(fit, raw), shocks)
    od = state.outcome_overdispersion
    counts = outcome_counts(paths["rate"], od, shocks.uniform)
    p_zero = outcome_zero_prob(paths["rate"], od)
    parts = _variance_parts(state, fit, horizon, driver_assumption, overrides, inner,
                            n_inner=n_inner, max_outer=1000)

    periods = [str(origin + h) for h in range(1, horizon + 1)]
    driver_periods = [str(origin + k) for k in range(horizon)]
    dims3 = ("sample", "ally", "horizon")
    data: dict[str, Any] = {
        "hedging": (dims3, counts),
        "rate": (dims3, paths["rate"]),
        "p_zero": (dims3, p_zero),
        "credibility": (dims3, paths["credibility"]),
        "own_state": (dims3, paths["own"]),
        "common_factor": (("sample", "horizon"), paths["common_factor"]),
        "drivers": (("sample", "ally", "driver", "driver_period"), raw),
        # which origin values were observed (the rest of offset 0, and every later month, drawn)
        "drivers_observed": (("ally", "driver"), np.isfinite(design.driver_raw[:, :, -1])),
        **{k: (("ally", "horizon"), v) for k, v in parts.items()},
    }
    if od is not None:  # with ``rate``, each draw's predictive distribution (a log score's)
        data["outcome_overdispersion"] = (("sample",), np.asarray(od, float).reshape(n))
    data.update(_history(fit))
    ds = xr.Dataset(
        data,
        coords={
            "sample": np.arange(n), "draw_index": ("sample", state.index),
            "ally": list(design.allies), "horizon": np.arange(1, horizon + 1),
            "period": ("horizon", periods), "driver": list(design.drivers),
            "driver_period": driver_periods,
            "history_period": list(design.periods),
        },
        attrs={
            "origin": str(origin),
            "seed": str(seq.entropy),
            "driver_assumption": driver_assumption,
            "driver_assumption_text": DRIVER_ASSUMPTIONS[driver_assumption],
            "scenario": scen.to_json() if scen is not None else "",
            "scenario_name": scen.name if scen is not None else "",
            "spec": fit.spec.name,
            "data_hash": fit.panel.data_hash(),
            "posterior": state.fingerprint(),
            "outcome": design.outcome_name,
            "outcome_family": design.outcome_family,
            "n_inner": n_inner,
            "timing": "hedging at horizon h is the count in month origin+h and responds to "
                      "credibility in month origin+h-1; a driver value in month origin+k moves "
                      "credibility from month origin+k+1 on",
        },
    )
    return ForecastResult(ds)


def _history(fit: "Fit") -> dict[str, Any]:
    cred = fit.posterior["credibility"]
    flat = cred.stack(sample_=("chain", "draw")).transpose("ally", "period", "sample_").values
    qs = np.quantile(flat, list(QUANTILES.values()), axis=-1)
    out: dict[str, Any] = {"history_mean": (("ally", "history_period"), flat.mean(axis=-1))}
    for k, name in enumerate(QUANTILES):
        out[f"history_{name}"] = (("ally", "history_period"), qs[k])
    out["history_hedging"] = (("ally", "history_period"), _outcome_history(fit))
    return out


def _outcome_history(fit: "Fit") -> np.ndarray:
    sig = fit.panel.outcome
    return np.asarray(sig.values, dtype=float)[:, : fit.design.n_periods]


# ---------------------------------------------------------------------------------------------
# the result
def _quantiles(x: np.ndarray, method: str) -> np.ndarray:
    return np.quantile(x, list(QUANTILES.values()), axis=0, method=method)


def count_quantiles(counts: np.ndarray, p_zero: np.ndarray,
                    levels: Sequence[float]) -> np.ndarray:
    """Quantiles of simulated counts at ``levels``, each whether it is 0 following the exact
    ``p_zero`` (the forecast CDF at 0) rather than the simulated share of zeros.

    Parameters
    ----------
    counts
        Simulated counts, the samples on the first axis.
    p_zero
        The forecast's probability of no event, the shape of ``counts`` without its first axis.
    levels
        Probabilities in (0, 1).

    Returns
    -------
    numpy.ndarray
        One array per level (first axis): the smallest count whose CDF reaches the level, 0
        exactly where ``p_zero`` reaches it, and otherwise at least 1.

    Examples
    --------
    >>> import numpy as np
    >>> counts = np.array([[0], [0], [1], [3]])
    >>> count_quantiles(counts, np.array([0.6]), [0.05, 0.55, 0.65, 0.95]).ravel().tolist()
    [0, 0, 1, 3]
    """
    q = np.quantile(counts, list(levels), axis=0, method="inverted_cdf")
    level = np.asarray(levels, dtype=float).reshape(-1, *(1,) * np.ndim(p_zero))
    return np.where(p_zero >= level, 0, np.maximum(q, 1))


def reliable_mean(hedging: pd.DataFrame) -> pd.Series:
    """A hedging table's ``mean`` column, blank where its ``mean_pareto_k`` is above
    :data:`forecast.pareto.K_THRESHOLD` (a mean that a few draws decide,
    docs/decisions/0027): what a figure draws. A NaN k̂ (no tail to judge) keeps the mean, as
    does a table from before that column.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"mean": [0.2, 0.9, 0.4], "mean_pareto_k": [0.3, 0.95, None]})
    >>> reliable_mean(table).tolist()
    [0.2, nan, 0.4]
    """
    mean = hedging["mean"]
    if "mean_pareto_k" not in hedging:
        return mean
    k = pd.to_numeric(hedging["mean_pareto_k"], errors="coerce")  # a hand-edited "nan" is text
    return mean.where(~(k > K_THRESHOLD))


def _ally_horizon_frame(ds: xr.Dataset, cols: dict[str, np.ndarray]) -> pd.DataFrame:
    A, H = ds.sizes["ally"], ds.sizes["horizon"]
    frame = pd.DataFrame({
        "ally": np.repeat(ds["ally"].values.astype(str), H),
        "period": np.tile(ds["period"].values.astype(str), A),
        "horizon": np.tile(ds["horizon"].values.astype(int), A),
    })
    for k, v in cols.items():
        frame[k] = np.asarray(v).reshape(A * H)
    return frame


@dataclass(frozen=True)
class ForecastResult:
    """Forecast draws (an :class:`xarray.Dataset`) with tidy views.

    ``draws`` holds per sample (one per posterior draw used), ally and horizon: ``hedging``
    (simulated counts), ``rate`` (expected count given the path), ``p_zero`` (P(no event |
    path)), ``credibility``, ``own_state``; per sample and horizon ``common_factor``; per
    sample, for a negative-binomial outcome, ``outcome_overdispersion`` (with ``rate``, each
    draw's predictive distribution of the count); the driver values used (``drivers``); the
    variance decomposition and the history needed for plots; per ally and driver, whether the
    data held the origin month's value (``drivers_observed``: of the data, so a scenario that
    sets that value leaves it true).
    ``draws.attrs`` records the origin, seed, driver assumption and scenario.
    """

    draws: xr.Dataset

    # ------------------------------------------------------------------ basic facts
    @property
    def origin(self) -> str:
        """The last fitted month (``YYYY-MM``); horizon 1 is the month after it."""
        return str(self.draws.attrs["origin"])

    @property
    def horizon(self) -> int:
        return int(self.draws.sizes["horizon"])

    @property
    def allies(self) -> list[str]:
        return [str(a) for a in self.draws["ally"].values]

    # ------------------------------------------------------------------ tables
    def hedging(self, warn: bool = True) -> pd.DataFrame:
        """Forecast hedging counts per ally and month ahead.

        Parameters
        ----------
        warn
            Warn of the months whose ``mean`` has no finite estimate (below); the fan chart
            and the monthly run, which leave such a mean out themselves, pass ``False``.

        Returns
        -------
        pandas.DataFrame
            ``ally, period, horizon, mean, p_any, q05, q25, q50, q75, q95, mean_pareto_k``.
            ``mean`` and ``p_any`` (P(at least one event)) average the conditional mean and
            probability over draws (Rao-Blackwellised); quantiles are of the simulated counts
            (integers: the smallest count whose forecast CDF reaches the level), except that
            whether one is 0 follows ``p_any``: a quantile is 0 exactly when ``1 - p_any``
            reaches its level, so the two columns never disagree by the simulation's noise.
            ``mean_pareto_k`` is the Pareto k̂ of the conditional means' upper tail
            (:func:`forecast.pareto.tail_k`; NaN under 30 draws): above
            :data:`forecast.pareto.K_THRESHOLD` (0.7) ``mean`` rests on a few draws, its
            Monte Carlo error is unknown and another seed can give a very different value
            (runs of driver events at a high drawn rate, through the log link;
            docs/decisions/0027); the quantiles and ``p_any`` are then the figures to read.
            From :data:`forecast.pareto.K_NO_MEAN` (1) on, the tail has no finite mean, and
            a warning names those months.
        """
        ds = self.draws
        p_zero = ds["p_zero"].mean("sample").values
        cols = {"mean": ds["rate"].mean("sample").values, "p_any": 1.0 - p_zero}
        # the forecast CDF at 0 is known exactly (p_zero averaged over draws): a level it
        # reaches has quantile 0, one it does not at least 1, whatever the simulated share
        q = count_quantiles(ds["hedging"].values, p_zero, list(QUANTILES.values()))
        cols.update({k: q[i] for i, k in enumerate(QUANTILES)})
        cols["mean_pareto_k"] = tail_k(ds["rate"].transpose("sample", ...).values)
        frame = _ally_horizon_frame(ds, cols)
        if warn and (no_mean := frame[frame["mean_pareto_k"] >= K_NO_MEAN]).shape[0]:
            cells = [f"{a} {p}" for a, p in zip(no_mean["ally"], no_mean["period"])]
            many = len(cells) > 1
            warnings.warn(f"the mean{'s' * many} of {len(cells)} forecast month{'s' * many} "
                          f"({shortlist(cells, 3, counted=True)}; mean up to "
                          f"{no_mean['mean'].max():.3g}) {'are' if many else 'is'} decided by "
                          f"{'their' if many else 'its'} largest draws: the draws' tail has no "
                          f"finite mean (Pareto k̂ ≥ {K_NO_MEAN:g}, column "
                          "mean_pareto_k), so another seed can give another value; read p_any "
                          "and the quantiles (an approximate fit's draws, e.g. ADVI's, do this "
                          "most)", UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
        return frame

    def cumulative(self) -> pd.DataFrame:
        """P(at least one hedging event within the first ``h`` months), per ally and ``h``.

        Returns
        -------
        pandas.DataFrame
            ``ally, horizon, p_any_within``; ``1 - E[Π_{k≤h} P(no event in month k | path)]``.
        """
        p = self._within()
        frame = _ally_horizon_frame(self.draws, {"p_any_within": p})
        return frame.drop(columns="period")

    def _within(self) -> np.ndarray:
        return 1.0 - np.cumprod(self.draws["p_zero"].values, axis=-1).mean(axis=0)

    def credibility(self) -> pd.DataFrame:
        """Forecast credibility (the latent) per ally and month ahead.

        Returns
        -------
        pandas.DataFrame
            ``ally, period, horizon, mean, sd, q05, q25, q50, q75, q95``.
        """
        x = self.draws["credibility"].values
        q = _quantiles(x, "linear")
        cols = {"mean": x.mean(axis=0), "sd": x.std(axis=0)}
        cols.update({k: q[i] for i, k in enumerate(QUANTILES)})
        return _ally_horizon_frame(self.draws, cols)

    def uncertainty(self) -> pd.DataFrame:
        """Where each hedging forecast's spread comes from (law of total variance).

        ``Var(y) = Var_θ(E[μ | θ]) + E_θ[Var(μ | θ)] + E[Var(y | μ)]`` with ``θ`` a posterior
        draw (parameters and the state at the origin), ``μ`` the expected count given the
        future path (state shocks, common factor, future drivers and the steps of hedging's
        level into each new year), ``y`` the count.

        Returns
        -------
        pandas.DataFrame
            ``ally, period, horizon, variance, parameter, path, noise``; the last three are
            shares summing to 1. Where :meth:`hedging`'s ``mean_pareto_k`` is above 0.5 the
            conditional means' variance is itself effectively infinite, and a few draws decide
            these figures (docs/decisions/0027).
        """
        ds = self.draws
        parts = np.stack([ds[k].values for k in ("var_parameter", "var_path", "var_noise")])
        total = parts.sum(axis=0)
        share = parts / np.where(total > 0, total, 1.0)
        return _ally_horizon_frame(ds, {"variance": total, "parameter": share[0],
                                        "path": share[1], "noise": share[2]})

    def early_warning(self, threshold: float = 0.5, within: int = 3,
                      previous: "ForecastResult | pd.DataFrame | str | Path | None" = None
                      ) -> pd.DataFrame:
        """Allies whose probability of hedging within ``within`` months reaches ``threshold``.

        Parameters
        ----------
        threshold
            Probability in [0, 1].
        within
            Months ahead (1 to the forecast's horizon).
        previous
            Last month's forecast to report the change: a :class:`ForecastResult`, its saved
            path (``.nc``), a run's ``forecast.csv`` path, or a DataFrame with ``ally`` and
            ``probability`` or ``p_any_within`` (and ``horizon``: the rows at ``within`` are
            used), one row per ally.

        Returns
        -------
        pandas.DataFrame
            ``ally, probability, previous, change`` for the flagged allies, highest first
            (``previous``/``change`` NaN without a previous forecast, and for an ally it
            lacks; a warning where it holds none of the allies).
        """
        if not is_real(threshold) or not 0.0 <= threshold <= 1.0:
            raise InputError("threshold must be a probability in [0, 1]",
                             parameter="threshold", value=threshold)
        if is_real(within) and float(within).is_integer() and within > self.horizon >= 1:
            raise InputError(f"the forecast runs {self.horizon} month"
                             f"{'s' if self.horizon > 1 else ''} ahead: within at most that "
                             f"(a forecast with horizon={int(within)} or more has it)",
                             parameter="within", value=within)
        within = whole_number("within", within, 1, self.horizon)
        prob = pd.Series(self._within()[:, within - 1], index=self.allies)
        prev = _previous_probability(previous, within)
        if prev is not None and not set(prob.index) & set(prev.index):
            warnings.warn(f"the previous forecast holds none of this forecast's allies (it has "
                          f"{shortlist(list(prev.index), 6) or 'none'}; this one "
                          f"{shortlist(list(prob.index), 6)}): previous and change are NaN",
                          UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
        frame = pd.DataFrame({"ally": prob.index, "probability": prob.values})
        frame["previous"] = frame["ally"].map(prev) if prev is not None else np.nan
        frame["change"] = frame["probability"] - frame["previous"]
        frame = frame[frame["probability"] >= threshold]
        return frame.sort_values("probability", ascending=False, kind="stable").reset_index(
            drop=True)

    # ------------------------------------------------------------------ figures
    def plot(self, allies: list[str] | None = None, history: int = 36) -> "Figure":
        """Fan charts per ally: credibility (history and forecast) and hedging.

        See :func:`forecast.plots.fan_chart`.
        """
        from forecast.plots import fan_chart

        return fan_chart(self, allies=allies, history=history)

    # ------------------------------------------------------------------ persistence
    def to_dataset(self) -> xr.Dataset:
        """The draws and summaries as one :class:`xarray.Dataset` (a copy)."""
        return self.draws.copy()

    def save(self, path: str | Path) -> Path:
        """Write the forecast to one netCDF file (atomically); read it with
        :func:`load_forecast`."""
        from forecast.files import netcdf_path, write_atomically

        path = netcdf_path(path, "forecast")
        ds = self.draws.copy()
        for c in ("ally", "period", "driver", "driver_period", "history_period"):
            ds[c] = ds[c].astype(str)
        return write_atomically(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"),
                                "forecast")

    def scenario_records(self) -> list[dict]:
        """The scenario's override rows (empty for a baseline forecast)."""
        text = self.draws.attrs.get("scenario", "")
        return json.loads(text)["rows"] if text else []


def load_forecast(path: str | Path) -> ForecastResult:
    """Read a forecast written by :meth:`ForecastResult.save`.

    Examples
    --------
    >>> load_forecast("missing.nc")
    Traceback (most recent call last):
    ...
    forecast.errors.InputError: missing.nc: saved forecast not found
    """
    from forecast.files import read_saved

    # read_saved refuses what is no path, naming the parameter
    ds = read_saved(path, lambda p: xr.load_dataset(p, engine="h5netcdf"), "forecast")
    path = Path(path)
    if "p_zero" not in ds or "origin" not in ds.attrs:
        raise InputError("not a forecast saved by forecast (missing p_zero or origin)",
                         file=str(path))
    if missing := [v for v in FORECAST_VARIABLES if v not in ds]:
        raise InputError(f"incomplete forecast file (altered?): no {', '.join(missing)}",
                         file=str(path), column=missing[0])
    for name, lo, hi in (("p_zero", 0.0, 1.0), ("rate", 0.0, np.inf), ("var_noise", 0.0, np.inf),
                         ("var_parameter", 0.0, np.inf), ("var_path", 0.0, np.inf),
                         ("outcome_overdispersion", 0.0, np.inf)):
        if name not in ds:  # only an optional one
            continue
        values = ds[name].values
        if (values.dtype.kind not in "fiu" or not np.isfinite(values).all()  # NaN, inf, text
                or not ((values >= lo) & (values <= hi)).all()):
            raise InputError(f"damaged forecast file (altered?): {name} holds values that are "
                             f"not finite numbers from {lo:g} to {hi:g}", file=str(path),
                             column=name)
    if "drivers_observed" in ds and (ds["drivers_observed"].dtype != bool or
                                     ds["drivers_observed"].dims != ("ally", "driver")):
        raise InputError("damaged forecast file (altered?): drivers_observed holds values that "
                         "are not true or false per ally and driver", file=str(path),
                         column="drivers_observed")
    return ForecastResult(ds)


#: the draws' variables of every forecast (:func:`forecast_fit`), all of which the tables and
#: the figure read: a saved forecast without one is refused by :func:`load_forecast`
FORECAST_VARIABLES = (
    "common_factor", "credibility", "drivers", "hedging", "history_hedging", "history_mean",
    "history_q05", "history_q25", "history_q50", "history_q75", "history_q95", "own_state",
    "p_zero", "rate", "var_noise", "var_parameter", "var_path",
)
#: the draws' variables of some forecasts only: a negative-binomial outcome's overdispersion,
#: and which origin values of the drivers were observed (a forecast saved before either was
#: kept has none; :func:`load_forecast` checks them when there)
OPTIONAL_FORECAST_VARIABLES = ("outcome_overdispersion", "drivers_observed")


def _previous_probability(previous, within: int) -> pd.Series | None:
    if previous is None:
        return None
    if isinstance(previous, (str, Path)) and Path(previous).suffix.lower() == ".csv":
        # a run's forecast.csv: ally codes as written (NA, 036), not as pandas guesses them
        try:
            previous = run_table(Path(previous).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # pandas' ParserError is a ValueError
            raise InputError(f"cannot read the previous forecast's table: {exc}",
                             file=str(previous)) from None
    elif isinstance(previous, (str, Path)):
        previous = load_forecast(previous)
    if isinstance(previous, ForecastResult):
        if within > previous.horizon:
            raise InputError("the previous forecast's horizon is shorter than `within`",
                             parameter="within", value=within)
        return pd.Series(previous._within()[:, within - 1], index=previous.allies)
    if isinstance(previous, pd.DataFrame):
        return _previous_from_table(previous, within)
    raise InputError("previous must be a ForecastResult, a saved forecast path or a DataFrame",
                     parameter="previous", value=type(previous).__name__)


def horizons_shown(horizons: pd.Series) -> str:
    """The whole-number horizons of a table as a short list for a message (``inf`` or a
    figure too large for an integer left out).

    Examples
    --------
    >>> horizons_shown(pd.Series([1.0, 2.0, 2.0, float("inf"), None]))
    '1, 2'
    """
    finite = pd.to_numeric(horizons, errors="coerce")
    shown = sorted({int(h) for h in finite[np.isfinite(finite)]})
    return shortlist(shown, 12) or "none"


def _previous_from_table(frame: pd.DataFrame, within: int) -> pd.Series:
    """Each ally's previous probability from a table: a ``cumulative()`` or ``forecast.csv``
    table (``ally, horizon, p_any_within``: the rows at ``within``), or one row per ally with
    ``probability``. Ally codes are compared as text."""
    col = "probability" if "probability" in frame else "p_any_within"
    if "ally" not in frame or col not in frame:
        raise InputError("a previous table needs columns 'ally' and 'probability' or "
                         "'p_any_within'", parameter="previous")
    if "horizon" in frame:
        horizons = pd.to_numeric(frame["horizon"], errors="coerce")
        if not (horizons == within).any():
            raise InputError(f"the previous table has no row at horizon {within} (`within`); "
                             f"its horizons: {horizons_shown(horizons)}", parameter="within",
                             value=within)
        frame = frame[horizons == within]
    allies = frame["ally"].astype(str).str.strip()
    if allies.duplicated().any():
        raise InputError("the previous table has more than one row for an ally (at one "
                         "horizon): expected one", column="ally",
                         value=allies[allies.duplicated()].iloc[0])
    values = pd.to_numeric(frame[col], errors="coerce")
    bad = (values.isna() & frame[col].notna()) | (values < 0) | (values > 1)
    if bad.any():
        raise InputError("expected a probability from 0 to 1", column=col,
                         value=frame[col][bad].iloc[0])
    return pd.Series(values.to_numpy(dtype=float), index=allies.to_numpy())


# ---------------------------------------------------------------------------------------------
def oracle_fit(sim, end: str | None = None, n_draws: int = 200) -> "Fit":
    """A :class:`~forecast.results.Fit` whose "posterior" is the simulation's truth.

    Every draw equals the true parameters and latent path, so its forecasts show the best any
    fit of this model could do (only future shocks and outcome noise remain): a benchmark for
    evaluation and a fast, sampler-free check of the forecasting code.

    Parameters
    ----------
    sim
        A :class:`~forecast.simulate.Simulation` (default spec's process).
    end
        Forecast origin: the panel is truncated to it (``panel.truncate(end)``); default the
        last month.
    n_draws
        Identical draws to hold (the forecast's Monte Carlo size).

    Examples
    --------
    >>> import forecast
    >>> sim = forecast.simulate(n_allies=3, n_months=36, seed=2)
    >>> fc = oracle_fit(sim, end="2016-06", n_draws=50).forecast(horizon=3, seed=1)
    >>> fc.hedging()["period"].unique().tolist()
    ['2016-07', '2016-08', '2016-09']
    """
    from forecast.design import make_design
    from forecast.results import Fit
    from forecast.simulate import Simulation
    from forecast.spec import load_spec

    if not isinstance(sim, Simulation):
        raise InputError("expected a Simulation (forecast.simulate(...)): the oracle's draws "
                         "are its known truth", parameter="sim", value=type(sim).__name__)
    n_draws = whole_number("n_draws", n_draws, 2)
    # the default spec, with hedging's walk where the simulation drew one (docs/decisions/0032)
    walks = "outcome_drift" in sim.truth
    spec = load_spec("default").model_copy(update={"outcome_drift": walks})
    panel = sim.panel if end is None else sim.panel.truncate(end)
    design = make_design(panel, spec)
    truth = sim.truth.isel(period=slice(0, design.n_periods))
    if design.drivers:
        # the true effects are per unit of the driver standardised over the simulation's whole
        # panel; the design standardised the (truncated, perhaps gappy) panel it was given.
        # Standardise as the simulation did, so that the true effects apply unchanged, to the
        # history and to the future drivers the forecast standardises with the same numbers
        design = design.with_driver_standardisation(truth["driver_loc"].values,
                                                    truth["driver_scale"].values)
    beta = truth["driver_effect_ally"].values
    p = sim.params
    values = {
        "credibility": (("ally", "period"), truth["credibility"].values),
        "common_factor": (("period",), truth["common_factor"].values),
        "persistence": (("ally",), truth["persistence"].values),
        "credibility_sd": (("ally",), truth["credibility_sd"].values),
        "factor_share": (("ally",), truth["factor_share"].values),
        "factor_loading": (("ally",), truth["factor_loading"].values),
        "factor_persistence": ((), p.factor_persistence),
        "driver_effect_ally": (("ally", "driver"), beta),
        "outcome_intercept": (("ally",), truth["outcome_intercept"].values),
        "outcome_loading": (("ally",), truth["outcome_loading"].values),
        "outcome_overdispersion": ((), p.outcome_overdispersion),
    }
    # indicators: the design standardises normal signals, so their truth is rescaled too
    alpha = truth["intercept_raw"].values.copy()
    lam = truth["loading_raw"].values.copy()
    drifting = list(design.drift_signals)
    walk = np.zeros((len(design.allies), len(drifting), len(design.years)))
    if drifting:
        # the model centres each walk on the (possibly truncated) panel's years: the walk's
        # mean over those years moves into the intercept, as the model has it
        walk = truth["intercept_drift_raw"].sel(drift_signal=drifting,
                                                year=list(design.years)).values.copy()
        level = walk.mean(axis=2)
        walk -= level[:, :, None]
        alpha[:, [design.indicators.index(s) for s in drifting]] += level
    drift_sd = np.full(len(drifting), p.drift_tau)
    for k, name in enumerate(design.indicators):
        if name in design.normal_loc:
            loc, sc = design.normal_loc[name], design.normal_scale[name]
            alpha[:, k], lam[k] = (alpha[:, k] - loc) / sc, lam[k] / sc  # loc: per ally
            if name in drifting:
                walk[:, drifting.index(name)] /= sc
                drift_sd[drifting.index(name)] /= sc
    negbin = [s for s, f in zip(design.indicators, design.families_of) if f == "negbin"]
    normal = [s for s, f in zip(design.indicators, design.families_of) if f == "normal"]
    values.update({
        "intercept": (("ally", "signal"), alpha),
        "loading": (("signal",), lam),
        "overdispersion": (("negbin_signal",), np.full(len(negbin), p.overdispersion)),
        "noise": (("ally", "normal_signal"),
                  np.tile([p.noise / design.normal_scale[s] for s in normal],
                          (len(design.allies), 1))),
    })
    if drifting:
        values.update({"intercept_drift": (("ally", "drift_signal", "year"), walk),
                       "drift_tau": (("drift_signal",), drift_sd)})
    if walks:
        # centred on the panel's years as the model centres it, its mean in the intercepts
        h_walk = truth["outcome_drift"].sel(year=list(design.years)).values.copy()
        values["outcome_intercept"] = (("ally",), values["outcome_intercept"][1]
                                       + h_walk.mean())
        values.update({"outcome_drift": (("year",), h_walk - h_walk.mean()),
                       "outcome_drift_tau": ((), p.outcome_drift_tau)})
    post = xr.Dataset(
        {k: (("chain", "draw", *dims), np.broadcast_to(np.asarray(v, float),
                                                        (1, n_draws, *np.shape(v))))
         for k, (dims, v) in values.items()},
        coords={"chain": [0], "draw": np.arange(n_draws), "ally": list(design.allies),
                "period": list(design.periods), "driver": list(design.drivers),
                "signal": list(design.indicators), "negbin_signal": negbin,
                "normal_signal": normal,
                **({"drift_signal": drifting} if drifting else {}),
                **({"year": list(design.years)} if drifting or walks else {})},
    )
    return Fit(idata=xr.DataTree.from_dict({"posterior": post}), panel=panel, spec=spec,
               design=design, sampler="oracle")
