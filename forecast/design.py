"""From a panel and a spec to the arrays the model consumes (pure numpy, no PyMC).

Keeping this apart from :mod:`forecast.model` makes the preprocessing testable on its own and
lets forecasting and scenarios reuse exactly the transforms the fit used (driver scaling,
standardisation of normal signals).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from forecast.errors import SpecError
from forecast.panel import Panel, format_period
from forecast.spec import ModelSpec, refuse_contradictions

__all__ = ["Design", "FamilyBlock", "make_design"]


@dataclass(frozen=True)
class FamilyBlock:
    """All observed values of the indicator signals of one family, in long form.

    ``signal`` indexes :attr:`Design.indicators`; ``start``/``stop`` are the span of panel months
    the value measures (the latent is averaged over them).
    """

    family: str
    ally: np.ndarray
    signal: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    year: np.ndarray
    value: np.ndarray

    @property
    def single_month(self) -> bool:
        return bool(np.all(self.stop - self.start == 1))


@dataclass(frozen=True)
class Design:
    """Model-ready arrays for one panel under one spec.

    Attributes
    ----------
    allies, periods, years
        Coordinates (``periods`` as ``YYYY-MM`` strings).
    indicators
        Names of indicator signals, in catalog order (the ``signal`` dimension).
    families
        One :class:`FamilyBlock` per family present among indicators.
    signs, families_of, centers
        Per indicator: catalog sign, effective family, prior centre of the intercept.
    normal_loc, normal_scale
        Standardisation of each normal indicator (value = loc[ally] + scale · standardised).
    drivers
        Driver names; ``driver_values`` is ``(ally, driver, period)`` standardised, missing
        months filled with the ally's mean (recorded in ``driver_imputed``).
    outcome
        Long arrays of the outcome: ``outcome_ally``, ``outcome_t`` (month index, ≥ 1, since
        hedging at t responds to credibility at t-1) and ``outcome_value``.
    """

    allies: tuple[str, ...]
    periods: tuple[str, ...]
    years: tuple[int, ...]
    indicators: tuple[str, ...]
    signs: np.ndarray
    families_of: tuple[str, ...]
    centers: np.ndarray
    families: dict[str, FamilyBlock]
    normal_loc: dict[str, np.ndarray]
    normal_scale: dict[str, float]
    drivers: tuple[str, ...]
    driver_signs: np.ndarray
    driver_values: np.ndarray
    driver_raw: np.ndarray
    driver_imputed: np.ndarray
    driver_loc: np.ndarray
    driver_scale: np.ndarray
    outcome_name: str
    outcome_family: str
    outcome_sign: int
    outcome_center: float
    outcome_ally: np.ndarray
    outcome_t: np.ndarray
    outcome_value: np.ndarray
    drift_signals: tuple[str, ...] = field(default=())

    @property
    def n_allies(self) -> int:
        return len(self.allies)

    def with_driver_standardisation(self, loc, scale) -> "Design":
        """This design with its drivers standardised by ``loc`` and ``scale`` (one each per
        driver) in place of the panel's own mean and sd: how a fit whose driver effects are
        per unit of another standardisation (:func:`forecast.oracle_fit`'s, the simulation's
        whole panel) reads its drivers, in the history and in the forecasts.

        Examples
        --------
        >>> import forecast
        >>> sim = forecast.simulate(n_allies=2, n_months=24, seed=1)
        >>> d = make_design(sim.panel, forecast.load_spec("default"))
        >>> e = d.with_driver_standardisation(d.driver_loc + 1, d.driver_scale)
        >>> bool(np.allclose(e.driver_values, d.driver_values - 1 / d.driver_scale[None, :, None]))
        True
        """
        loc = np.asarray(loc, dtype=float)
        scale = np.asarray(scale, dtype=float)
        raw = (self.driver_values * self.driver_scale[None, :, None]
               + self.driver_loc[None, :, None])
        return replace(self, driver_loc=loc, driver_scale=scale,
                       driver_values=(raw - loc[None, :, None]) / scale[None, :, None])

    @property
    def n_periods(self) -> int:
        return len(self.periods)

    @property
    def month_year(self) -> np.ndarray:
        """Each month's year as an index into ``years``, ``(n_periods,)``.

        Examples
        --------
        >>> import forecast
        >>> sim = forecast.simulate(n_allies=2, n_months=14, start="2020-12", seed=1)
        >>> make_design(sim.panel, forecast.load_spec("default")).month_year.tolist()
        [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]
        """
        return np.array([int(p[:4]) for p in self.periods], dtype=np.int64) - self.years[0]

    def intercept_events(self) -> np.ndarray:
        """Events behind each ally's intercept of each indicator, ``(ally, signal)``.

        A count signal's events are its summed counts; a binary signal's, the rarer outcome's
        number (months of 1 or of 0, whichever is fewer); a normal signal's, its number of
        observed values. Each is what pins the intercept: the information in a count's
        log-rate grows with the counts, in a binary logit with the rarer outcome.
        (docs/decisions/0013)

        Examples
        --------
        >>> import forecast
        >>> from forecast.design import make_design
        >>> sim = forecast.simulate(n_allies=2, n_months=24, seed=1)
        >>> d = make_design(sim.panel, forecast.load_spec("default"))
        >>> d.intercept_events().shape == (d.n_allies, len(d.indicators))
        True
        """
        events = np.zeros((self.n_allies, len(self.indicators)))
        for fam, b in self.families.items():
            if fam == "bernoulli":
                ones = np.zeros_like(events)
                seen = np.zeros_like(events)
                np.add.at(ones, (b.ally, b.signal), b.value)
                np.add.at(seen, (b.ally, b.signal), 1.0)
                events += np.minimum(ones, seen - ones)
            else:
                np.add.at(events, (b.ally, b.signal), b.value if fam != "normal" else 1.0)
        return events

    @property
    def shape_key(self) -> tuple:
        """What a compiled model depends on besides values (for reuse across fits)."""
        return (
            self.n_allies, self.n_periods, self.indicators, self.drivers,
            tuple((k, len(b.value)) for k, b in self.families.items()), len(self.outcome_value),
        )


def _what_to_give(signal) -> str:
    """What to do when a signal has no observation: give its rows, or (one the catalog
    counts from events) the event log."""
    if not signal.events:
        return (": expected its rows in the observations, or the signal taken out of the "
                "catalog (signals.toml)")
    return (f" (the catalog counts it from an event log, event types {', '.join(signal.events)}:"
            " was the panel loaded without one? load_panel(..., events=PATH))")


def make_design(panel: Panel, spec: ModelSpec) -> Design:
    """Arrays for :func:`forecast.model.build_model`.

    Examples
    --------
    >>> import forecast
    >>> sim = forecast.simulate(n_allies=3, n_months=24, seed=1)
    >>> d = make_design(sim.panel, forecast.load_spec("default"))
    >>> d.driver_values.shape[0], d.driver_values.shape[2]
    (3, 24)
    """
    spec.validated()
    refuse_contradictions(spec, parameter="spec", value=spec.name)
    n_a, n_t = panel.n_allies, panel.n_months
    years_all = np.array([p.year for p in panel.months])
    year0 = int(years_all[0])
    years = tuple(range(year0, int(years_all[-1]) + 1))

    indicators = panel.indicators
    drift_signals = []
    for name in spec.drift:
        if name == "coarse":
            drift_signals += [i.name for i in indicators if i.spec.frequency != "monthly"]
        elif name == "catalog":
            drift_signals += [i.name for i in indicators if i.spec.drifts]
        else:
            drift_signals.append(name)
    drift_signals = list(dict.fromkeys(drift_signals))
    unknown = [s for s in drift_signals if s not in {i.name for i in indicators}]
    if unknown:
        raise SpecError(
            f"spec {spec.name!r} asks for drift in {', '.join(unknown)}, which the catalog does "
            f"not declare as indicators", key="drift", value=list(unknown))

    fam_of: list[str] = []
    centers: list[float] = []
    normal_loc: dict[str, np.ndarray] = {}
    normal_scale: dict[str, float] = {}
    parts: dict[str, list[tuple]] = {}
    for k, sig in enumerate(indicators):
        fam = sig.spec.family
        if sig.spec.is_count and spec.count_family != "catalog":
            fam = spec.count_family
        fam_of.append(fam)
        a, p, v = sig.long()
        if len(v) == 0:
            raise SpecError(f"indicator {sig.name!r} has no observations in this panel"
                            + _what_to_give(sig.spec), column="signal", value=sig.name)
        if fam == "normal":
            # scale: the pooled within-ally sd (what the latent, relative to each ally's own
            # level, can explain). With ally intercepts each ally's values are centred on the
            # ally's own mean, so the intercepts' prior is on the same footing for every signal;
            # with shared intercepts the levels between allies are kept (one global centre).
            n_obs = np.bincount(a, minlength=n_a)
            ally_means = np.bincount(a, weights=v, minlength=n_a) / np.maximum(n_obs, 1)
            scale = float(np.std(v - ally_means[a])) or float(np.std(v)) or 1.0
            loc = (np.where(n_obs > 0, ally_means, float(np.mean(v))) if spec.intercepts == "ally"
                   else np.full(n_a, float(np.mean(v))))
            normal_loc[sig.name], normal_scale[sig.name] = loc, scale
            v = (v - loc[a]) / scale
            centers.append(0.0)
        elif fam == "bernoulli":
            m = np.clip(np.mean(v), 0.02, 0.98)
            centers.append(float(np.log(m / (1 - m))))
        else:
            centers.append(float(np.log(np.mean(v) + 0.1)))
        start, stop = sig.month_start[p], sig.month_stop[p]
        keep = stop > start
        year = years_all[np.minimum(start, n_t - 1)] - year0
        parts.setdefault(fam, []).append(
            (a[keep], np.full(keep.sum(), k), start[keep], stop[keep], year[keep], v[keep]))
    families = {
        fam: FamilyBlock(fam, *(np.concatenate(col) for col in zip(*chunks)))
        for fam, chunks in parts.items()
    }
    for fam, block in families.items():
        families[fam] = FamilyBlock(
            fam, block.ally.astype(np.int64), block.signal.astype(np.int64),
            block.start.astype(np.int64), block.stop.astype(np.int64),
            block.year.astype(np.int64),
            block.value.astype(np.int64 if fam in ("poisson", "negbin", "bernoulli") else float),
        )

    drivers = panel.drivers if spec.drivers else []
    raw = np.stack([d.values for d in drivers], axis=1) if drivers else np.zeros((n_a, 0, n_t))
    imputed = np.isnan(raw)
    filled = raw.copy()
    loc = np.zeros(len(drivers))
    scale = np.ones(len(drivers))
    for j, driver in enumerate(drivers):
        block = raw[:, j, :]
        seen = np.isfinite(block)
        if not seen.any():
            raise SpecError(f"driver {driver.name!r} has no observations in this panel"
                            + _what_to_give(driver.spec), column="signal",
                            value=driver.name)
        loc[j] = float(np.mean(block[seen]))
        scale[j] = float(np.std(block[seen])) or 1.0
        # a missing month takes the ally's mean; an ally with no value at all takes every
        # ally's, as its forecast does (forecast.forecasting.observed_window)
        counts = seen.sum(axis=1)
        ally_mean = np.where(counts > 0, np.where(seen, block, 0.0).sum(axis=1)
                             / np.maximum(counts, 1), loc[j])
        filled[:, j, :] = np.where(seen, block, ally_mean[:, None])
    standardised = (filled - loc[None, :, None]) / scale[None, :, None]

    out = panel.outcome
    oa, ot, ov = out.long()
    keep = ot >= 1
    if not keep.any():
        raise SpecError(f"the outcome {out.name!r} has no observations after the panel's first "
                        "month in this panel (hedging responds to the month before)",
                        column="signal", value=out.name)
    ofam = out.spec.family
    return Design(
        allies=tuple(panel.allies),
        periods=tuple(format_period(p) for p in panel.months),
        years=years,
        indicators=tuple(s.name for s in indicators),
        signs=np.array([s.spec.sign for s in indicators], dtype=np.int64),
        families_of=tuple(fam_of),
        centers=np.array(centers),
        families=families,
        normal_loc=normal_loc,
        normal_scale=normal_scale,
        drivers=tuple(d.name for d in drivers),
        driver_signs=np.array([d.spec.sign for d in drivers], dtype=np.int64),
        driver_values=standardised,
        driver_raw=raw,
        driver_imputed=imputed,
        driver_loc=loc,
        driver_scale=scale,
        outcome_name=out.name,
        outcome_family=ofam,
        outcome_sign=out.spec.sign,
        outcome_center=float(np.log(np.mean(ov) + 0.1)) if len(ov) else 0.0,
        outcome_ally=oa[keep].astype(np.int64),
        outcome_t=ot[keep].astype(np.int64),
        outcome_value=ov[keep].astype(np.int64),
        drift_signals=tuple(drift_signals),
    )
