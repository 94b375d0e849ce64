"""A validated panel: observations aligned on an ally × month grid, with masks.

:class:`Panel` is what the model consumes. It is built from a validated long table of
observations (see :mod:`forecast.loading`) or by :func:`forecast.simulate`. Each signal keeps its
own period grid (months, quarters or years) plus, for every one of its periods, the span of
panel months it covers, so a coarse value can measure the average latent of its months.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import pandas as pd

from forecast.catalog import Catalog, SignalSpec
from forecast.errors import InputError, as_path, expected_one_of
from forecast.tabular import format_month, month_text, not_a_month, parse_month

__all__ = ["Panel", "SignalData", "check_panel", "format_period", "month_period",
           "month_argument", "month_index"]

OBS_COLUMNS = ("ally", "period", "signal", "value", "source")


def format_period(p: pd.Period) -> str:
    """Period as written in the data contract: ``YYYY-MM``, ``YYYY-Qn`` or ``YYYY``."""
    freq = p.freqstr[0]
    if freq == "M":
        return f"{p.year:04d}-{p.month:02d}"
    if freq == "Q":
        return f"{p.year:04d}-Q{p.quarter}"
    return f"{p.year:04d}"


def month_period(text: object) -> pd.Period | None:
    """``YYYY-MM`` text (spaces around it allowed) or a monthly ``pd.Period`` as a monthly
    period; None for anything else, though pandas reads "2020" as its January, "2020-01-15" as
    its month and a quarter as its last month.

    Examples
    --------
    >>> month_period(" 2026-02"), month_period("2020"), month_period(202602)
    (Period('2026-02', 'M'), None, None)
    >>> month_period(pd.Period("2026-02", "M")), month_period(pd.Period("2026Q1", "Q"))
    (Period('2026-02', 'M'), None)
    """
    if isinstance(text, pd.Period):
        text = month_text(text)
    number = parse_month(text)  # the data contract's YYYY-MM, as the loader reads it
    return None if number is None else pd.Period(format_month(number), "M")


def month_argument(value: object, parameter: str) -> pd.Period:
    """The month a caller passed as ``parameter`` (:func:`month_period`), or
    :class:`~forecast.InputError` saying whether its year is out of range or it is malformed.

    Examples
    --------
    >>> month_argument("2026-02", "start")
    Period('2026-02', 'M')
    >>> month_argument("9999-02", "start")
    Traceback (most recent call last):
    forecast.errors.InputError: parameter 'start', value '9999-02': start out of range: year 9999 is outside 1000 to 2999, the years the package reads
    """
    period = month_period(value)
    if period is None:
        raise InputError(not_a_month(parameter, value, "expected a month as YYYY-MM"),
                         parameter=parameter, value=value)
    return period


def month_index(start: str, end: str) -> pd.PeriodIndex:
    """All months from ``start`` to ``end`` inclusive (``YYYY-MM``)."""
    return pd.period_range(pd.Period(start, "M"), pd.Period(end, "M"), freq="M")


@dataclass(frozen=True)
class SignalData:
    """One signal's observations on its own period grid.

    Attributes
    ----------
    spec
        The catalog entry.
    periods
        The signal's periods (monthly, quarterly or annual) that overlap the panel's months.
    values
        ``(n_allies, n_periods)`` float array, NaN where not observed.
    mask
        ``(n_allies, n_periods)`` bool array, True where observed.
    month_start, month_stop
        For each period, the first panel month it covers and one past the last (so a coarse
        period at the edge of the panel covers only its months inside the panel).
    """

    spec: SignalSpec
    periods: pd.PeriodIndex
    values: np.ndarray
    mask: np.ndarray
    month_start: np.ndarray
    month_stop: np.ndarray

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def n_observed(self) -> int:
        return int(self.mask.sum())

    def long(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Observed entries as ``(ally_index, period_index, value)`` arrays (row-major order)."""
        a, p = np.nonzero(self.mask)
        return a, p, self.values[a, p]


@dataclass(frozen=True)
class Panel:
    """Observations of every signal for every ally, aligned on a monthly grid.

    Attributes
    ----------
    catalog
        Allies and signals.
    allies
        Ally codes, in catalog order (the ``ally`` dimension of every array).
    months
        Monthly ``PeriodIndex`` from the first month of data to the last (the forecast origin).
    signals
        Signal name → :class:`SignalData`, in catalog order.

    Examples
    --------
    >>> import forecast
    >>> panel = forecast.load_default()
    >>> panel.allies[:2]
    ('JPN', 'KOR')
    >>> panel.signals["hedging"].values.shape == (len(panel.allies), len(panel.months))
    True
    """

    catalog: Catalog
    allies: tuple[str, ...]
    months: pd.PeriodIndex
    signals: Mapping[str, SignalData]
    sources: pd.Series | None = field(default=None, compare=False, repr=False)

    def __repr__(self) -> str:
        """One line (a notebook shows it instead of every array).

        Examples
        --------
        >>> import forecast
        >>> forecast.load_default()
        Panel(4 allies JPN, KOR, AUS, PHL; 315 months 2000-01 to 2026-03; 8 indicators, 1 driver, outcome 'hedging')
        """
        n_ind, n_drv = len(self.indicators), len(self.drivers)
        return (f"Panel({len(self.allies)} allies {', '.join(self.allies)}; {len(self.months)} "
                f"months {self.months[0]} to {self.months[-1]}; {n_ind} indicator"
                f"{'s' * (n_ind != 1)}, {n_drv} driver{'s' * (n_drv != 1)}, outcome "
                f"{self.catalog.outcome.name!r})")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        catalog: Catalog,
        *,
        start: str | None = None,
        end: str | None = None,
    ) -> "Panel":
        """Align an already validated long table of observations.

        Parameters
        ----------
        frame
            Columns ``ally, period, signal, value`` (``source`` optional); periods as strings in
            the contract's formats. Validation is the caller's job (:func:`forecast.load_panel`).
        catalog
            The catalog the frame was validated against.
        start, end
            First and last month of the grid (``YYYY-MM``); by default the span of the data.
        """
        allies = tuple(catalog.allies)
        periods = {
            name: pd.PeriodIndex(
                frame.loc[frame["signal"] == name, "period"].astype(str).to_numpy(),
                freq=spec.pandas_freq,
            )
            for name, spec in catalog.signals.items()
        }
        if start is None or end is None:
            firsts = [p.min().asfreq("M", how="start") for p in periods.values() if len(p)]
            lasts = [p.max().asfreq("M", how="end") for p in periods.values() if len(p)]
            start = start or format_period(min(firsts))
            end = end or format_period(max(lasts))
        months = month_index(start, end)
        m0, m1 = months[0], months[-1]
        ally_pos = {a: i for i, a in enumerate(allies)}
        signals: dict[str, SignalData] = {}
        for name, spec in catalog.signals.items():
            sig_periods = pd.period_range(m0.asfreq(spec.pandas_freq), m1.asfreq(spec.pandas_freq),
                                          freq=spec.pandas_freq)
            first_month = np.array([p.asfreq("M", how="start").ordinal for p in sig_periods])
            last_month = np.array([p.asfreq("M", how="end").ordinal for p in sig_periods])
            start_idx = np.clip(first_month - m0.ordinal, 0, len(months))
            stop_idx = np.clip(last_month - m0.ordinal + 1, 0, len(months))
            values = np.full((len(allies), len(sig_periods)), np.nan)
            sub = frame.loc[frame["signal"] == name]
            if len(sub):
                p_idx = periods[name].asi8 - sig_periods[0].ordinal
                a_idx = sub["ally"].map(ally_pos).to_numpy()
                keep = (p_idx >= 0) & (p_idx < len(sig_periods))
                values[a_idx[keep], p_idx[keep]] = sub["value"].to_numpy(dtype=float)[keep]
            signals[name] = SignalData(
                spec=spec,
                periods=sig_periods,
                values=values,
                mask=~np.isnan(values),
                month_start=start_idx.astype(np.int64),
                month_stop=stop_idx.astype(np.int64),
            )
        sources = None
        if "source" in frame:
            # keyed by (ally, period, signal), the period as to_frame writes it
            keys = np.empty(len(frame), dtype=object)
            for name, idx in periods.items():
                keys[(frame["signal"] == name).to_numpy()] = [format_period(p) for p in idx]
            sources = pd.Series(frame["source"].to_numpy(dtype=object), index=pd.MultiIndex
                                .from_arrays([frame["ally"].astype(str).to_numpy(), keys,
                                              frame["signal"].astype(str).to_numpy()]))
        return cls(catalog=catalog, allies=allies, months=months, signals=signals, sources=sources)

    # ------------------------------------------------------------------ views
    @property
    def n_allies(self) -> int:
        return len(self.allies)

    @property
    def n_months(self) -> int:
        return len(self.months)

    @property
    def last_month(self) -> str:
        return format_period(self.months[-1])

    @property
    def last_observed_month(self) -> str | None:
        """The last month in which some monthly signal is observed (``None`` if none is).

        Months after it, up to :attr:`last_month`, hold no monthly data: a forecast origin
        there is a forecast from earlier months.

        Examples
        --------
        >>> import forecast
        >>> forecast.load_default().last_observed_month
        '2026-03'
        """
        seen = self.monthly_observed()
        return format_period(self.months[seen[-1]]) if seen.size else None

    def first_data_months(self) -> dict[str, str | None]:
        """Each ally's first month with data other than an event log's counts (which read 0
        in every month the log covers, the months before an ally joined included): before
        it, the ally's credibility rests on the priors and the other allies alone. ``None``
        for an ally with no such data. A quarterly or annual value's month is its first.

        Examples
        --------
        >>> import forecast
        >>> sim = forecast.simulate(n_allies=2, n_months=24, ragged=True, seed=1)
        >>> sim.panel.first_data_months()
        {'A00': '2014-01', 'A01': '2015-01'}
        """
        first: dict[str, str | None] = {}
        for a, ally in enumerate(self.allies):
            starts = [int(s.month_start[s.mask[a]].min()) for s in self.signals.values()
                      if not s.spec.events and s.mask[a].any()]
            first[ally] = format_period(self.months[min(starts)]) if starts else None
        return first

    def monthly_observed(self) -> np.ndarray:
        """Grid indices (ascending) of the months in which some monthly signal is observed.

        Examples
        --------
        >>> import forecast
        >>> panel = forecast.load_default()
        >>> str(panel.months[panel.monthly_observed()[0]])
        '2000-01'
        """
        seen = np.zeros(self.n_months, dtype=bool)
        for sig in self.signals.values():
            if sig.spec.frequency == "monthly":
                seen[sig.month_start[sig.mask.any(axis=0)]] = True
        return np.flatnonzero(seen)

    @property
    def outcome(self) -> SignalData:
        return self.signals[self.catalog.outcome.name]

    def by_role(self, role: str) -> list[SignalData]:
        return [s for s in self.signals.values() if s.spec.role == role]

    @property
    def indicators(self) -> list[SignalData]:
        return self.by_role("indicator")

    @property
    def drivers(self) -> list[SignalData]:
        return self.by_role("driver")

    def __iter__(self) -> Iterator[SignalData]:
        return iter(self.signals.values())

    def to_frame(self, sources: bool = False) -> pd.DataFrame:
        """The panel as the contract's long table (``ally, period, signal, value``), with each
        row's ``source`` when ``sources`` (empty where the panel has none)."""
        rows = []
        for sig in self.signals.values():
            a, p, v = sig.long()
            rows.append(pd.DataFrame({
                "ally": np.asarray(self.allies, dtype=object)[a],
                "period": [format_period(sig.periods[i]) for i in p],
                "signal": sig.name,
                "value": v,
            }))
        out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=OBS_COLUMNS[:4])
        out = out.astype({"ally": str, "period": str, "signal": str, "value": float})
        if sources:
            found = (self.sources.reindex(pd.MultiIndex.from_frame(out[["ally", "period",
                                                                        "signal"]]))
                     if self.sources is not None else pd.Series([None] * len(out)))
            out["source"] = [v if isinstance(v, str) else "" for v in found.to_numpy()]
        return out

    def coverage(self) -> pd.DataFrame:
        """Share of ally-periods observed, one row per signal × ally.

        Columns: ``signal, ally, role, frequency, first, last, n_observed, share_observed``.
        ``share_observed`` is the share of all the panel's periods of the signal that are
        observed (an ally that enters late has a lower share).
        """
        rows = []
        for sig in self.signals.values():
            for i, ally in enumerate(self.allies):
                m = sig.mask[i]
                first = int(np.argmax(m)) if m.any() else None
                rows.append({
                    "signal": sig.name,
                    "ally": ally,
                    "role": sig.spec.role,
                    "frequency": sig.spec.frequency,
                    "first": format_period(sig.periods[first]) if first is not None else None,
                    "last": format_period(sig.periods[len(m) - 1 - int(np.argmax(m[::-1]))])
                    if m.any() else None,
                    "n_observed": int(m.sum()),
                    "share_observed": float(m.mean()),
                })
        return pd.DataFrame(rows)

    def __eq__(self, other: object) -> bool:
        """Panels are equal when they hold the same data: the same catalog, grid and observed
        values (:meth:`data_hash`). The comparison dataclasses write compared numpy arrays
        and raised "The truth value of an array ... is ambiguous".

        Examples
        --------
        >>> import forecast
        >>> a = forecast.simulate(n_allies=2, n_months=12, seed=1).panel
        >>> a == forecast.simulate(n_allies=2, n_months=12, seed=1).panel, a == a.truncate("2014-06")
        (True, False)
        """
        if not isinstance(other, Panel):
            return NotImplemented
        return self is other or self.data_hash() == other.data_hash()

    def __hash__(self) -> int:
        """A hash that agrees with ``==``: the leading bits of :meth:`data_hash`, so equal
        panels can key a dict or share a set (the dataclass hash of the fields raised
        "unhashable type: 'dict'").

        Examples
        --------
        >>> import forecast
        >>> a = forecast.simulate(n_allies=2, n_months=12, seed=1).panel
        >>> len({a, forecast.simulate(n_allies=2, n_months=12, seed=1).panel, a.truncate("2014-06")})
        2
        """
        return int(self.data_hash()[:16], 16)

    def data_hash(self) -> str:
        """SHA-256 of the panel's content (catalog and every observed value).

        Two panels with the same hash hold the same data; a saved fit stores it so that loading
        against other data is refused.
        """
        h = hashlib.sha256()
        h.update(self.catalog.to_toml().encode())
        h.update(f"{self.months[0]}:{self.months[-1]}".encode())
        frame = self.to_frame().sort_values(["signal", "ally", "period"], kind="stable")
        h.update(frame.to_csv(index=False, float_format="%.12g").encode())
        return h.hexdigest()

    # ------------------------------------------------------------------ derived panels
    def truncate(self, end: str) -> "Panel":
        """The panel as it stood at month ``end``: later months and periods dropped.

        A coarse period that ends after ``end`` is dropped too (its value was not yet known).
        Used for rolling-origin backtests.

        Raises
        ------
        forecast.InputError
            When ``end`` is not a month ``YYYY-MM`` of the panel.

        Examples
        --------
        >>> import forecast
        >>> forecast.simulate(n_allies=2, n_months=24, seed=1).panel.truncate("2015-06").n_months
        18
        """
        first, last = format_period(self.months[0]), format_period(self.months[-1])
        # a Period of the panel's months is one (not a quarter); pandas reads a number as a
        # year, and will as an ordinal
        end_m = month_argument(end, "end")
        if not first <= format_period(end_m) <= last:
            raise InputError(f"end outside the panel: expected a month from {first} to {last}",
                             parameter="end", value=end)
        frame = self.to_frame()
        keep = []
        for sig in self.signals.values():
            sub = frame[frame["signal"] == sig.name]
            last = pd.PeriodIndex(sub["period"].to_numpy(), freq=sig.spec.pandas_freq).asfreq(
                "M", how="end")
            keep.append(sub[last.asi8 <= end_m.ordinal])
        return Panel.from_frame(pd.concat(keep), self.catalog, start=format_period(self.months[0]),
                                end=end)

    def without(self, *names: str) -> "Panel":
        """The panel with the signals ``names`` left out of its data and its catalog.

        A held-out-signal check fits this panel and asks how well the fit predicts what was
        left out; months and allies stay as they are.

        Raises
        ------
        forecast.InputError
            For no name, for a name that is not a signal of the panel, for the outcome (what
            the model forecasts) and where no indicator with a sign would be left (the
            latent's orientation, as the catalog requires).

        Examples
        --------
        >>> import forecast
        >>> panel = forecast.simulate(n_allies=2, n_months=24, seed=1).panel
        >>> list(panel.signals)
        ['exercise_tempo', 'joint_statements', 'us_troops', 'milex_share_gdp', 'consultation_lapse', 'hedging']
        >>> list(panel.without("us_troops", "consultation_lapse").signals)
        ['exercise_tempo', 'joint_statements', 'milex_share_gdp', 'hedging']
        """
        if not names:  # e.g. an empty list unpacked: the check would compare a panel to itself
            raise InputError("name at least one signal to leave out: panel.without('a', 'b')",
                             parameter="names", value=[])
        for name in names:
            if not isinstance(name, str):
                # a signal itself (panel.indicators holds them): its name, not its repr
                its = f" (a {type(name).__name__}: pass its .name)" \
                    if isinstance(getattr(name, "name", None), str) else ""
                raise InputError("expected signal names, each its own argument: "
                                 f"panel.without('a', 'b'){its}", parameter="names",
                                 value=type(name).__name__)
            if name not in self.signals:
                raise InputError("not a signal of the panel"
                                 + expected_one_of(str(name), list(self.signals)),
                                 parameter="names", value=name)
            if name == self.catalog.outcome.name:
                raise InputError("the outcome cannot be left out: it is what the model "
                                 "forecasts", parameter="names", value=name)
        raw = self.catalog.to_dict()
        raw["signals"] = {n: t for n, t in raw["signals"].items() if n not in names}
        try:
            catalog = Catalog.from_dict(raw)  # no longer the file's
        except InputError as exc:
            raise InputError(f"cannot leave these out, the catalog left would be refused: "
                             f"{exc.reason}",
                             parameter="names", value=list(names)) from None
        return Panel(catalog=catalog, allies=self.allies, months=self.months,
                     signals={n: s for n, s in self.signals.items() if n not in names},
                     sources=self.sources)  # read by row: the left-out rows' are never asked

    def write(self, directory: str | Path) -> tuple[Path, Path]:
        """Write ``observations.csv`` and ``signals.toml`` in the documented format.

        Returns the two paths; :func:`forecast.load_panel` reads them back to an equal panel.
        """
        directory = as_path(directory, "a folder to write the panel in", "directory")
        if directory.exists() and not directory.is_dir():
            raise InputError("a panel is written into a folder (observations.csv and "
                             "signals.toml), not a file", file=str(directory))
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise InputError(f"cannot make the folder ({exc.strerror}: a file in the way?)",
                             file=str(directory)) from None
        obs = directory / "observations.csv"
        cat = directory / "signals.toml"
        frame = self.to_frame(sources=self.sources is not None)
        if self.sources is None:
            frame["source"] = "simulated"
        # every value as Python writes it, the shortest text that reads back the same float:
        # with 10 digits a simulated panel read back had another data hash than its fit's
        frame.to_csv(obs, index=False)
        cat.write_text(self.catalog.to_toml(), encoding="utf-8")
        return obs, cat


def check_panel(value: object, name: str = "panel") -> None:
    """Refuse, with :class:`~forecast.errors.InputError` naming the argument, a value that is
    not a :class:`Panel` (a path, say), before any work is done with it.

    Examples
    --------
    >>> check_panel("observations.csv")
    Traceback (most recent call last):
    ...
    forecast.errors.InputError: parameter 'panel', value 'observations.csv': expected a Panel (forecast.load_panel(observations, catalog=...) reads one), got str
    """
    if not isinstance(value, Panel):
        # a simulation holds its panel: say where
        held = ("; it holds one: pass its .panel" if isinstance(getattr(value, "panel", None),
                                                                Panel) else "")
        raise InputError("expected a Panel (forecast.load_panel(observations, catalog=...) "
                         f"reads one), got {type(value).__name__}{held}", parameter=name,
                         value=str(value) if isinstance(value, (str, Path)) else None)
