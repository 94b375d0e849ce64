"""Rolling-origin backtests: refit at each origin on the panel cut there, forecast, and
score the forecast against the hedging that followed, beside each ally's climatology and
the persistence of its recent rate.

An origin's fit sees no month after it (:meth:`forecast.Panel.truncate`: a quarterly or
annual value whose period ends later is dropped too). It sees today's values of the months
before, not the data as they stood then: a value revised since, or published after the
origin though dated before it (an annual figure out months later), is in the fit, which
flatters the forecast; replaying the run registry's vintages is later work (ROADMAP 2).
The fits share one compiled graph
(each origin's length costs PyTensor's rewrite, about 20 s on the embedded data, not a new
numba compile) and each starts from the previous origin's draws
(:class:`forecast.compiled.CompiledFitter`, docs/decisions/0021-shape-generic-graph.md and
0024-warm-start.md). Each origin's fit and forecast seeds come from ``seed`` and the
origin's month alone (:func:`origin_seeds`): the same seed, the same backtest, and an origin's
seeds whatever other origins are run beside it (its warm start does depend on the origin
before it). With a Dask scheduler (``scheduler=``, :mod:`forecast.scheduling`) every origin
is a task of its own, fitted cold on a worker: the same seed gives the same scores as the
origins fitted cold one after another here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import special, stats

from forecast.compiled import CompiledFitter
from forecast.design import make_design
from forecast.errors import MAX_SEED, SAMPLER_MOST, InputError, check_seed, whole_number
from forecast.forecasting import ForecastResult, check_horizon, count_quantiles
from forecast.panel import Panel, check_panel, format_period, month_argument
from forecast.spec import ModelSpec, load_spec

if TYPE_CHECKING:
    from forecast.results import Fit

__all__ = ["Backtest", "backtest", "check_origins", "origin_seeds", "predictive_log_score",
           "predictive_cdf", "climatology_log_score", "rolling_origins", "CLIMATOLOGY_MONTHS",
           "COVERAGE", "PERSISTENCE_MONTHS"]

#: each ally's climatology: its observed outcome counts of this many months up to the origin
CLIMATOLOGY_MONTHS = 24

#: the persistence baseline: each ally's rate of acts over this many months to the origin
PERSISTENCE_MONTHS = 12

#: the persistence baseline's scores (:meth:`Backtest.scores` averages them too)
PERSISTENCE_SCORES = ("crps_persistence", "log_score_persistence", "brier_persistence")
#: skill against the persistence baseline, ``1 - model / persistence``, in :meth:`Backtest.scores`
PERSISTENCE_SKILL = ("crps_skill_persistence", "brier_skill_persistence")

#: the central intervals whose coverage is scored: column name and probability
COVERAGE: dict[str, float] = {"covered50": 0.5, "covered80": 0.8, "covered90": 0.9,
                              "covered95": 0.95}

#: the per-row scores :meth:`Backtest.scores` averages (all lower is better but coverage)
SCORES = ("crps", "crps_climatology", "log_score", "log_score_climatology", "brier",
          "brier_climatology", *PERSISTENCE_SCORES, *COVERAGE)


def predictive_log_score(observed: np.ndarray, rate: np.ndarray,
                         overdispersion: np.ndarray | None) -> np.ndarray:
    """Negative log of the forecast's predictive probability of each observed count.

    The predictive distribution is the mixture over draws of the outcome's NegBin (``r =
    1 / overdispersion²``, mean ``rate``) or, without ``overdispersion``, Poisson.

    Parameters
    ----------
    observed
        Counts, shape ``(ally, horizon)``; NaN where not observed (then NaN).
    rate
        Expected counts per draw, shape ``(sample, ally, horizon)``.
    overdispersion
        One per draw, shape ``(sample,)``, or ``None`` for a Poisson outcome.

    Examples
    --------
    One draw of a Poisson rate 2: the score of 0 events is ``-log(exp(-2)) = 2``.

    >>> import numpy as np
    >>> predictive_log_score(np.array([[0.0]]), np.array([[[2.0]]]), None).round(6).tolist()
    [[2.0]]
    """
    y = np.asarray(observed, float)
    seen = np.isfinite(y)
    mixture = _mixture_log_mass(np.where(seen, y, 0.0).astype(np.int64), rate, overdispersion)
    return np.where(seen, -mixture, np.nan)


def predictive_cdf(observed: np.ndarray, rate: np.ndarray,
                   overdispersion: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The forecast's predictive CDF just below and at each observed count: ``F(y - 1)``
    and ``F(y)``, of the same mixture as :func:`predictive_log_score`.

    Under a calibrated forecast a count's PIT lies uniformly between the two
    (:meth:`Backtest.pit`).

    Parameters
    ----------
    observed, rate, overdispersion
        As :func:`predictive_log_score`.

    Examples
    --------
    One draw of a Poisson rate 2: ``F(0) = exp(-2)``, ``F(1) = 3·exp(-2)``.

    >>> import numpy as np
    >>> below, at = predictive_cdf(np.array([[1.0]]), np.array([[[2.0]]]), None)
    >>> round(float(below[0, 0]), 6), round(float(at[0, 0]), 6)
    (0.135335, 0.406006)
    """
    y = np.asarray(observed, float)
    seen = np.isfinite(y)
    k = np.where(seen, y, 0.0)
    rate = np.asarray(rate, float)
    below = np.where(k > 0, _mixture_cdf(k - 1.0, rate, overdispersion), 0.0)
    at = _mixture_cdf(k, rate, overdispersion)
    return np.where(seen, below, np.nan), np.where(seen, at, np.nan)


#: past this NegBin size ``r`` the regularised incomplete beta function loses the digits that
#: tell the NegBin's CDF from the Poisson's (off by 1e-8 at r = 1e10), and the two differ by
#: less than rate / r: the Poisson's CDF is taken
_POISSON_SIZE = 1e8


def _mixture_cdf(k: np.ndarray, rate: np.ndarray,
                 overdispersion: np.ndarray | None) -> np.ndarray:
    """The mixture over draws (first axis of ``rate``) of the outcome's CDF at counts ``k``
    (at least 0), in closed form: Poisson ``Q(k + 1, rate)``, NegBin ``I_p(r, k + 1)`` with
    ``p = r / (r + rate)``."""
    poisson = special.pdtr(k, rate)
    if overdispersion is None:
        return poisson.mean(axis=0)
    r = (1.0 / np.asarray(overdispersion, float) ** 2).reshape(-1, *(1,) * (rate.ndim - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        negbin = special.betainc(np.minimum(r, _POISSON_SIZE), k + 1.0, r / (r + rate))
    return np.where(r > _POISSON_SIZE, poisson, negbin).mean(axis=0)


def _mixture_log_mass(k: np.ndarray, rate: np.ndarray,
                      overdispersion: np.ndarray | None) -> np.ndarray:
    """Log of the mixture over draws (first axis of ``rate``) of the outcome's mass at ``k``."""
    rate = np.asarray(rate, float)
    logp = special.xlogy(k, rate) - rate - special.gammaln(k + 1.0)  # Poisson
    if overdispersion is not None:
        logp = logp + _negbin_excess(k, rate, np.asarray(overdispersion, float))
    return special.logsumexp(logp, axis=0) - np.log(rate.shape[0])


def _negbin_excess(k: np.ndarray, rate: np.ndarray, od: np.ndarray) -> np.ndarray:
    """NegBin(mean ``rate``, ``r = 1/od²``) log-mass minus Poisson(``rate``)'s at ``k``, in
    a form without cancellation as ``r`` grows (a nearly Poisson count: ``od`` of 1e-8, ``r``
    1e16, where SciPy's NegBin log-mass is off by 100): ``Σ_{j<k} log1p(j/r) - (k + r) ·
    log1p(rate/r) + rate``, each term small where ``r`` is large."""
    r = (1.0 / od**2).reshape(-1, *(1,) * (rate.ndim - 1))
    steps = np.arange(max(int(k.max(initial=0)), 1))
    rising = np.concatenate([np.zeros((r.shape[0], 1)), np.cumsum(
        np.log1p(steps[None, :] / r.reshape(-1, 1)), axis=1)], axis=1)  # (sample, k_max + 1)
    shrink = np.log1p(rate / r)
    # r·log1p(rate/r) - rate = -rate²/(2r) + …: from log1p's series where it would cancel
    x = rate / r
    tail = np.where(x < 1e-4, -rate * x / 2 + rate * x**2 / 3, r * shrink - rate)
    return rising[:, k] - k * shrink - tail


@dataclass(frozen=True)
class Backtest:
    """A backtest's forecasts beside what followed, and its fits' diagnostics.

    Attributes
    ----------
    table
        One row per origin, ally and month ahead: ``origin, ally, period, horizon, observed``
        (NaN where the data hold no count for that month, e.g. after the panel's last month),
        the forecast's ``mean, p_any, q05, q50, q95``, and its scores: ``crps`` (of the
        simulated counts), ``log_score`` (negative log predictive probability of the count),
        ``brier`` (of ``p_any``), ``covered50``, ``covered80``, ``covered90`` and
        ``covered95`` (1 where the count lies in the central interval of that probability,
        drawn as the table's ``q05``-``q95`` is: ``covered90`` is 1 where it lies in
        ``[q05, q95]``; whole counts fill at least the nominal share), ``pit_lower`` and
        ``pit_upper`` (the predictive CDF below and at the count, :meth:`pit`), and the
        climatology's ``crps_climatology``, ``brier_climatology`` and
        ``log_score_climatology`` (the ally's observed counts of the
        :data:`CLIMATOLOGY_MONTHS` months up to the origin as an ensemble, their share of
        months with an event, and a NegBin fitted to them, :func:`climatology_log_score`), and
        the persistence baseline's ``crps_persistence``, ``log_score_persistence`` and
        ``brier_persistence`` (the ally's rate of the :data:`PERSISTENCE_MONTHS` months up
        to the origin going on: a Poisson of mean ``(Σ + 0.5) / n``). Lower is better but
        for coverage.
    origins
        One row per origin: ``origin, last_fitted`` (the fit's last month), ``converged,
        max_rhat, min_ess_bulk, divergences``, the ``fit_seed`` and ``forecast_seed`` drawn
        for it, and ``sampling_s``.
    """

    table: pd.DataFrame
    origins: pd.DataFrame

    def scores(self, by: str | Sequence[str] | None = "horizon") -> pd.DataFrame:
        """Mean scores over the observed held-out months, grouped ``by`` columns of
        :attr:`table` (``"horizon"``, ``"ally"``, ``"origin"`` or a list of them; ``None``:
        one row, ``all``, over every month), with the skill against climatology
        (``crps_skill``, ``brier_skill``: ``1 - model / climatology``, above 0 the model is
        better), against persistence where the table has its scores
        (``crps_skill_persistence``, ``brier_skill_persistence``) and ``n``, the number of
        months scored. A month whose ally had no observed count in
        the climatology's window (an ally that entered late) is left out, so that the model
        and the climatology are averaged over the same months.

        Examples
        --------
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"horizon": [1, 1], "observed": [0.0, 2.0], "crps": [0.1, 0.5],
        ...                      "crps_climatology": [0.2, 1.0], "log_score": [0.2, 1.5],
        ...                      "brier": [0.01, 0.36], "brier_climatology": [0.04, 0.64],
        ...                      "covered90": [1.0, 1.0]})
        >>> s = Backtest(rows, pd.DataFrame()).scores().loc[1]
        >>> round(float(s["crps"]), 6), round(float(s["crps_skill"]), 6), int(s["n"])
        (0.3, 0.5, 2)
        >>> Backtest(rows, pd.DataFrame()).scores(None).index.tolist()
        ['all']
        """
        if by is None:
            whole = self.table.assign(all="all")
            return Backtest(whole, self.origins).scores("all").rename_axis(None)
        keys = [by] if isinstance(by, str) else list(by)
        unknown = [k for k in keys if k not in self.table.columns or k in SCORES]
        if unknown or not keys:
            raise InputError("expected columns of the backtest's table to group by, e.g. "
                             "'horizon', 'ally' or 'origin'", parameter="by", value=by)
        seen = self._scored_months()
        out = seen.groupby(keys)[[c for c in SCORES if c in seen]].mean()
        for baseline, suffix in (("climatology", ""), ("persistence", "_persistence")):
            for score in ("crps", "brier"):
                if f"{score}_{baseline}" in out:
                    out[f"{score}_skill{suffix}"] = 1.0 - out[score] / out[f"{score}_{baseline}"]
        out["n"] = seen.groupby(keys).size()
        order = ["crps", "crps_climatology", "crps_skill", "log_score", "log_score_climatology",
                 "brier", "brier_climatology", "brier_skill", *PERSISTENCE_SCORES,
                 *PERSISTENCE_SKILL, *COVERAGE, "n"]
        return out[[c for c in order if c in out]]

    def _scored_months(self) -> pd.DataFrame:
        """The rows of :attr:`table` that :meth:`scores` and :meth:`pit` read: a count was
        observed and the ally's climatology has a history to score it by."""
        return self.table[self.table["observed"].notna()
                          & self.table["crps_climatology"].notna()]

    def pit(self, bins: int = 10) -> pd.DataFrame:
        """The non-randomised PIT histogram of the observed counts (Czado, Gneiting and Held
        2009): each bin's share of the scored months, the months a count's PIT spreads over
        uniformly between ``pit_lower`` (the forecast CDF below the count) and
        ``pit_upper`` (at it). A calibrated forecast gives every bin ``1 / bins``; a
        U shape says the intervals are too narrow, a hump too wide, a slope a bias.

        Parameters
        ----------
        bins
            The number of bins of equal width over [0, 1].

        Returns
        -------
        pandas.DataFrame
            ``lower, upper, share`` per bin; the shares sum to 1. The months are those
            :meth:`scores` averages.

        Examples
        --------
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"observed": [0.0, 1.0], "crps_climatology": [0.1, 0.2],
        ...                      "pit_lower": [0.0, 0.5], "pit_upper": [0.5, 1.0]})
        >>> Backtest(rows, pd.DataFrame()).pit(bins=4)["share"].tolist()
        [0.25, 0.25, 0.25, 0.25]
        """
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise InputError("expected a whole number of bins of at least 1", parameter="bins",
                             value=bins)
        if not {"pit_lower", "pit_upper"} <= set(self.table.columns):
            raise InputError("expected a backtest table with the columns pit_lower and "
                             "pit_upper (a table scored before 2026-12-05 has none)",
                             parameter="table", value=sorted(self.table.columns))
        seen = self._scored_months()
        lo = seen["pit_lower"].to_numpy(float)[:, None]
        hi = seen["pit_upper"].to_numpy(float)[:, None]
        edges = np.linspace(0.0, 1.0, int(bins) + 1)
        # each month's PIT CDF at the edges: 0 below F(y-1), 1 above F(y), linear between
        width = np.where(hi > lo, hi - lo, 1.0)
        below = np.clip((edges[None, :] - lo) / width, 0.0, 1.0)
        below = np.where(hi > lo, below, (edges[None, :] >= hi).astype(float))
        below[:, 0], below[:, -1] = 0.0, 1.0  # a PIT at 0 falls in the first bin, at 1 the last
        share = np.diff(below.mean(axis=0)) if len(seen) else np.full(int(bins), np.nan)
        return pd.DataFrame({"lower": edges[:-1], "upper": edges[1:], "share": share})


def check_origins(panel: Panel, origins: Sequence) -> list[str]:
    """``origins`` as sorted months ``YYYY-MM``, each a month of ``panel`` before its last,
    none twice; :class:`~forecast.errors.InputError` naming ``origins`` otherwise.

    Examples
    --------
    >>> import forecast
    >>> panel = forecast.simulate(n_allies=2, n_months=24, seed=1).panel
    >>> check_origins(panel, ["2015-06", "2014-12"])
    ['2014-12', '2015-06']
    """
    if isinstance(origins, (str, pd.Period)) or not isinstance(
            origins, (Sequence, np.ndarray, pd.Index)) or not len(origins):
        raise InputError("expected a list of months YYYY-MM, e.g. ['2024-06', '2025-06']",
                         parameter="origins", value=origins)
    origins = list(origins)  # e.g. panel.months[-24::6]
    months = [format_period(month_argument(o, "origins")) for o in origins]
    first, last = format_period(panel.months[0]), format_period(panel.months[-1])
    for given, month in zip(origins, months):
        if not first <= month < last:
            raise InputError(f"an origin must be a month of the panel before its last, "
                             f"{last} (a month after it is scored): expected {first} to "
                             f"{format_period(panel.months[-2])}", parameter="origins",
                             value=given)
    if len(set(months)) < len(months):
        raise InputError("an origin is given twice", parameter="origins", value=origins)
    return sorted(months)


def rolling_origins(panel: Panel, count: int = 4, every: int = 6,
                    horizon: int = 12) -> list[str]:
    """The latest ``count`` origins, ``every`` months apart, whose ``horizon`` months ahead
    all lie in the panel: the last origin is ``horizon`` months before the panel's last month
    with a hedging count observed (months after it would score nothing).

    Raises
    ------
    InputError
        Where the panel has too few months for ``count`` origins ``every`` months apart.

    Examples
    --------
    >>> import forecast
    >>> panel = forecast.simulate(n_allies=2, n_months=48, seed=1).panel
    >>> str(panel.months[-1]), rolling_origins(panel, count=3, every=6, horizon=12)
    ('2017-12', ['2015-12', '2016-06', '2016-12'])
    """
    whole_number("count", count, 1, 1000)
    whole_number("every", every, 1, 1000)
    check_horizon(horizon)
    months = [format_period(m) for m in panel.months]
    counted = np.flatnonzero(np.isfinite(panel.outcome.values).any(axis=0))
    last = (int(counted[-1]) if counted.size else 0) - horizon
    first = last - (count - 1) * every
    if first < 0:
        apart = f", {every} month{'s' if every > 1 else ''} apart," if count > 1 else ""
        seen = months[int(counted[-1])] if counted.size else "none"
        raise InputError(f"the panel's {len(months)} months ({months[0]} to {months[-1]}; "
                         f"last with a hedging count: {seen}) have no room for {count} "
                         f"origin{'s' if count > 1 else ''}{apart} before the last "
                         f"{horizon} counted: expected fewer origins, closer together, or a "
                         "shorter horizon", parameter="count", value=count)
    return months[first:last + 1:every]


def origin_seeds(seed: "int | np.random.SeedSequence | None", origin: str) -> tuple[int, int]:
    """The fit's and the forecast's seeds of a backtest's ``origin``: drawn from ``seed``
    and the origin's month alone, so that an origin gets the same seeds whichever other
    origins are run beside it.

    Examples
    --------
    >>> origin_seeds(1, "2024-03") == origin_seeds(1, "2024-03") != origin_seeds(1, "2024-04")
    True
    """
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    month = pd.Period(origin, "M").ordinal  # months since 1970-01, negative before it
    # a SeedSequence's keys are non-negative: a month before 1970 is keyed beyond every
    # month a 32-bit count reaches, so it never meets a later month's key
    # (a root that is itself a spawned child, which backtest() never passes, could meet it)
    key = month if month >= 0 else 2**32 - month
    child = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, key))
    fit_seed, forecast_seed = child.generate_state(2, dtype=np.uint32)
    return int(fit_seed), int(forecast_seed)


def _fittable(past: Panel, spec: ModelSpec, origin: str) -> Panel:
    """``past`` (the panel cut at ``origin``), or the error that fitting it would raise, said of
    the origin before any origin is fitted (e.g. a signal not yet observed then)."""
    try:
        make_design(past, spec)
    except InputError as err:
        raise InputError(f"the panel cut at this origin cannot be fitted: {err.reason}",
                         parameter="origins", value=origin) from None
    return past


def climatology_log_score(history: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Negative log probability of each ``observed`` count under a NegBin fitted to an ally's
    ``history`` of counts (its climatology): mean ``(Σ history + 0.5) / n`` (the Jeffreys
    prior's posterior mean, never 0, as the forecast draws a driver's rate) and, where the
    history's variance exceeds its mean, that excess over a Poisson's variance; else a
    Poisson. NaN without a history.

    Examples
    --------
    No act in 24 months: a Poisson of mean 0.5/24, so a month without one scores about 0.021.

    >>> import numpy as np
    >>> climatology_log_score(np.zeros(24), np.array([0.0, 1.0])).round(3).tolist()
    [0.021, 3.892]
    """
    h = np.asarray(history, float)
    y = np.asarray(observed, float)
    seen = np.isfinite(y)
    if not h.size:  # no history, no climatology
        return np.full(y.shape, np.nan)
    k = np.where(seen, y, 0.0)
    mean = _jeffreys_rate(h)
    excess = (h.var(ddof=1) if h.size > 1 else 0.0) - h.mean()
    if excess > 0:
        r = mean**2 / excess
        logp = stats.nbinom.logpmf(k, r, r / (r + mean))
    else:
        logp = stats.poisson.logpmf(k, mean)
    return np.where(seen, -logp, np.nan)


def _recent_counts(panel: Panel, t: int, months: int) -> list[np.ndarray]:
    """Each ally's observed counts of the last ``months`` months up to the panel's month
    ``t`` (an origin's index): the climatology's history, or the persistence baseline's."""
    window = panel.outcome.values[:, max(0, t + 1 - months):t + 1]
    return [row[np.isfinite(row)] for row in window]


def _jeffreys_rate(counts: np.ndarray) -> float:
    """The Jeffreys prior's posterior mean of a Poisson rate, ``(Σ counts + 0.5) / n``: never
    0, as the forecast draws a driver's rate."""
    return (counts.sum() + 0.5) / counts.size


def _coverage(observed: np.ndarray, counts: np.ndarray,
              p_zero: np.ndarray) -> dict[str, np.ndarray]:
    """Per :data:`COVERAGE` column, 1.0 where an observed count lies in the central interval
    of that probability of the simulated ``counts`` (samples first), each bound drawn as
    the hedging table's quantiles are (:func:`forecast.forecasting.count_quantiles`)."""
    tails = [t for level in COVERAGE.values() for t in ((1 - level) / 2, (1 + level) / 2)]
    bounds = count_quantiles(counts, p_zero, tails)
    return {name: ((observed >= bounds[2 * i]) & (observed <= bounds[2 * i + 1])).astype(float)
            for i, name in enumerate(COVERAGE)}


def _scored(panel: Panel, fc: ForecastResult, origin: str) -> pd.DataFrame:
    import scoringrules as sr

    # the scores read the draws, not the mean, whose tail hedging() would warn of per origin
    table = fc.hedging(warn=False)[["ally", "period", "horizon", "mean", "p_any", "q05", "q50",
                                    "q95"]]
    months = [format_period(m) for m in panel.months]
    t0 = months.index(origin)
    H = fc.horizon
    y = np.full((panel.n_allies, H), np.nan)
    ahead = panel.outcome.values[:, t0 + 1:t0 + 1 + H]
    y[:, :ahead.shape[1]] = ahead
    seen = np.isfinite(y)
    y0 = np.where(seen, y, 0.0)  # what a scoring function reads where nothing was seen
    counts = np.moveaxis(fc.draws["hedging"].values.astype(float), 0, -1)  # (ally, h, sample)
    # the exact CRPS of the draws as a distribution (scoringrules' default estimator has
    # changed between releases; "fair" would score another quantity)
    crps = np.asarray(sr.crps_ensemble(y0, counts, estimator="nrg"))
    od = fc.draws["outcome_overdispersion"].values if "outcome_overdispersion" in fc.draws \
        else None
    p_any = table["p_any"].to_numpy().reshape(y.shape)
    rate = fc.draws["rate"].values
    pit_lower, pit_upper = predictive_cdf(y, rate, od)
    crps_clim = np.full(y.shape, np.nan)
    log_clim = np.full(y.shape, np.nan)
    brier_clim = np.full(y.shape, np.nan)
    persistence = {name: np.full(y.shape, np.nan) for name in PERSISTENCE_SCORES}
    for a, history in enumerate(_recent_counts(panel, t0, CLIMATOLOGY_MONTHS)):
        if history.size:
            ens = np.broadcast_to(history, (H, history.size))
            crps_clim[a] = sr.crps_ensemble(y0[a], ens, estimator="nrg")
            brier_clim[a] = ((history > 0).mean() - (y[a] > 0)) ** 2
            log_clim[a] = climatology_log_score(history, y[a])
    for a, recent in enumerate(_recent_counts(panel, t0, PERSISTENCE_MONTHS)):
        if recent.size:
            # the trailing rate goes on: a Poisson of its Jeffreys posterior mean
            m = _jeffreys_rate(recent)
            persistence["crps_persistence"][a] = sr.crps_poisson(y0[a], m)
            persistence["log_score_persistence"][a] = -stats.poisson.logpmf(y0[a], m)
            persistence["brier_persistence"][a] = (-np.expm1(-m) - (y[a] > 0)) ** 2
    scores = {
        "crps": crps,
        "crps_climatology": crps_clim,
        "log_score": predictive_log_score(y, rate, od),
        "log_score_climatology": log_clim,
        "brier": (p_any - (y > 0)) ** 2,
        "brier_climatology": brier_clim,
        **_coverage(y, fc.draws["hedging"].values, 1.0 - p_any),
        **persistence,
        "pit_lower": pit_lower,
        "pit_upper": pit_upper,
    }
    table = table.copy()
    table.insert(0, "origin", origin)
    table.insert(4, "observed", y.ravel())
    for name, values in scores.items():
        table[name] = np.where(seen, values, np.nan).ravel()
    return table


def _score_origin(panel: Panel, fit: Fit, month: str, fit_seed: int, fc_seed: int,
                  horizon: int) -> tuple[pd.DataFrame, dict]:
    """One origin's scored table and its row of :attr:`Backtest.origins`."""
    fc = fit.forecast(horizon=horizon, seed=fc_seed)
    d = fit.diagnostics()
    row = {"origin": month, "last_fitted": format_period(fit.panel.months[-1]),
           "converged": d.converged, "max_rhat": d.max_rhat, "min_ess_bulk": d.min_ess_bulk,
           "divergences": d.divergences, "fit_seed": fit_seed, "forecast_seed": fc_seed,
           "sampling_s": fit.timings["sampling_s"]}
    return _scored(panel, fc, month), row


#: one origin's fit at a time in a process. PyTensor's configuration is the process's, and
#: PyMC changes it for the length of a call (``cxx=""`` while it infers shapes): two fits
#: in threads of one process (a Dask worker with several threads) could leave C compiling
#: switched off for every later compile of the process, as a test of two threaded workers
#: did. A worker's further threads wait; the worker processes still fit side by side.
_ONE_FIT_AT_A_TIME = threading.Lock()


def _origin_task(panel: Panel, past: Panel, spec: ModelSpec, month: str, fit_seed: int,
                 fc_seed: int, horizon: int, draws: int, tune: int, chains: int,
                 warn: bool) -> tuple[pd.DataFrame, dict]:
    """One origin as a task of its own on a scheduler's worker: a cold fit (the worker's
    compiled graph reused across its tasks), its forecast and scores."""
    with _ONE_FIT_AT_A_TIME:
        fit = CompiledFitter(spec).fit(past, seed=fit_seed, draws=draws, tune=tune,
                                       chains=chains, warn=warn)
        return _score_origin(panel, fit, month, fit_seed, fc_seed, horizon)


def backtest(panel: Panel, origins: Sequence[str], spec: "str | ModelSpec" = "default", *,
             horizon: int = 12, draws: int = 1000, tune: int = 1000, chains: int = 4,
             seed: int | None = None, warm_start: bool | None = None, progress: bool = False,
             warn: bool = False, scheduler: Any = None,
             on_origin: Callable[[dict], None] | None = None) -> Backtest:
    """Refit ``spec`` at each origin on the panel cut there, forecast ``horizon``
    months ahead and score the forecast against the panel's later months.

    Parameters
    ----------
    panel
        The whole panel; each origin's fit sees its months up to the origin only.
    origins
        Months ``YYYY-MM`` of the panel before its last (a month after an origin is scored
        where the panel observes it).
    spec
        Spec name, TOML path or :class:`~forecast.spec.ModelSpec`: one spec, every origin.
    horizon
        Months ahead, 1 to 60.
    draws, tune, chains
        As :func:`forecast.fit` (nutpie); a warm-started origin tunes for fewer steps
        (:meth:`forecast.compiled.CompiledFitter.fit_many`).
    seed
        Seeds every origin's fit and forecast (same seed, same backtest).
    warm_start
        Start each origin's fit from the previous origin's draws: the default without a
        scheduler. With one, every origin is a task of its own and starts cold (``True`` is
        refused).
    progress
        Show the sampler's progress bar for each fit (not with a scheduler: its workers
        have no terminal).
    warn
        Warn of each fit that fails the diagnostics (they are in :attr:`Backtest.origins`
        either way). With a scheduler the warnings are the workers', not shown here.
    scheduler
        ``None`` (default): the origins one after another in this process. ``"local"``: each
        origin a task of a Dask cluster started on this machine for them; a scheduler's
        address (``tcp://host:8786``), or a ``dask.distributed.Client``: tasks of that
        scheduler's workers (:func:`forecast.scheduling.scheduler_client`; needs the
        ``distributed`` extra; its workers need the package, in this version, and fit one
        origin at a time each: start them with ``dask worker ADDRESS --nthreads 1``). The same
        seed gives the same scores as ``warm_start=False`` without a scheduler.
    on_origin
        Called with each origin's row of :attr:`Backtest.origins` once it is scored (e.g. to
        say how far a long backtest has come); with a scheduler, in the order the origins
        finish.

    Returns
    -------
    Backtest

    Examples
    --------
    >>> import forecast
    >>> sim = forecast.simulate(n_allies=3, n_months=48, seed=5)
    >>> bt = forecast.backtest(sim.panel, ["2017-06", "2017-09"], horizon=3, draws=200,
    ...                        tune=200, chains=2, seed=1)                  # doctest: +SKIP
    >>> bt.scores("horizon")[["crps", "crps_skill", "covered90"]]          # doctest: +SKIP
    """
    check_panel(panel)
    months = check_origins(panel, origins)
    check_horizon(horizon)
    for name, value, least in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
        whole_number(name, value, least, SAMPLER_MOST[name])
    check_seed(seed, MAX_SEED)
    root = np.random.SeedSequence(seed)
    fit_seeds, fc_seeds = zip(*(origin_seeds(root, month) for month in months))
    if scheduler is not None and warm_start:
        raise InputError("a warm start chains each origin to the one before it; with a "
                         "scheduler every origin is a task of its own: expected "
                         "warm_start=False or None", parameter="warm_start", value=warm_start)
    spec = load_spec(spec)
    panels = [_fittable(panel.truncate(month), spec, month) for month in months]
    if scheduler is not None:
        done = _on_scheduler(scheduler, panel, panels, spec, months, fit_seeds, fc_seeds,
                             horizon=horizon, draws=draws, tune=tune, chains=chains, warn=warn,
                             on_origin=on_origin)
    else:
        done = []
        fits = CompiledFitter(spec).iter_fits(panels, warm_start=bool(warm_start is None
                                                                     or warm_start),
                                              seeds=fit_seeds, draws=draws, tune=tune,
                                              chains=chains, warn=warn, progress=progress)
        for month, fit, fit_seed, fc_seed in zip(months, fits, fit_seeds, fc_seeds):
            done.append(_score_origin(panel, fit, month, fit_seed, fc_seed, horizon))
            if on_origin is not None:
                on_origin(dict(done[-1][1]))
            del fit  # the next origin samples with this one's draws let go
    return Backtest(table=pd.concat([t for t, _ in done], ignore_index=True),
                    origins=pd.DataFrame([row for _, row in done]))


def _on_scheduler(scheduler: Any, panel: Panel, panels: list[Panel], spec: ModelSpec,
                  months: list[str], fit_seeds, fc_seeds, *, horizon: int, draws: int,
                  tune: int, chains: int, warn: bool,
                  on_origin: Callable[[dict], None] | None) -> list[tuple[pd.DataFrame, dict]]:
    """Every origin a task of ``scheduler``; the results in the origins' order."""
    from forecast.scheduling import scheduler_client

    with scheduler_client(scheduler, chains=chains) as client:
        from dask.distributed import as_completed

        whole = client.scatter(panel, broadcast=True)
        futures = [client.submit(_origin_task, whole, past, spec, month, fit_seed, fc_seed,
                                 horizon, draws, tune, chains, warn, pure=False)
                   for past, month, fit_seed, fc_seed in zip(panels, months, fit_seeds,
                                                              fc_seeds)]
        done = {}
        try:
            for future, result in as_completed(futures, with_results=True):
                done[future.key] = result
                if on_origin is not None:
                    on_origin(dict(result[1]))
        finally:
            # a task that failed, or Ctrl-C: the tasks not started are dropped (one that is
            # fitting on a worker runs to its end), and the scattered panel is let go
            client.cancel([*futures, whole])
        return [done[future.key] for future in futures]
