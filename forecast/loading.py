"""Observations file (+ catalog, + optional event log) → validated :class:`~forecast.panel.Panel`.

:func:`read_observations` checks every row of a long table of observations against the catalog
and returns it as a clean frame; :func:`load_panel` adds the event log, the panel-level checks
and the month grid. Both stop at the first problem in file order with an
:class:`~forecast.errors.InputError` naming the file, row, column and value and saying what was
expected; nothing is built from bad input. The rules are listed in ``docs/data-contract.md``.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from forecast.catalog import COUNT_FAMILIES, Catalog, SignalSpec
from forecast.errors import (PACKAGE_FRAMES, DataWarning, InputError,
                             UnobservedEndWarning, shortlist)
from forecast.events import count_events, validated_events
from forecast.panel import Panel, format_period
from forecast.tabular import (
    INF_TOKENS,
    MAX_COUNT,
    MAX_VALUE,
    MONTH_PATTERN,
    NUMBER_RE,
    REPLAY_HINT,
    YEAR_PATTERN,
    Problems,
    as_catalog,
    check_choice,
    check_filled,
    check_repeated,
    format_month,
    outside_the_years,
    parse_until,
    read_table,
    require_file,
    table_from_frame,
)

__all__ = ["load_panel", "read_observations", "event_log_in", "EVENT_LOG_NAMES", "OBS_COLUMNS",
           "PERIOD_FORMATS"]

OBS_COLUMNS: tuple[str, ...] = ("ally", "period", "signal", "value")
OBS_OPTIONAL: tuple[str, ...] = ("source",)

# frequency → (pattern, how it is written, months per period)
PERIOD_FORMATS: dict[str, tuple[str, str, int]] = {
    "monthly": (MONTH_PATTERN, "YYYY-MM", 1),
    "quarterly": (rf"{YEAR_PATTERN}-Q([1-4])", "YYYY-Qn (n = 1 to 4)", 3),
    "annual": (YEAR_PATTERN, "YYYY", 12),
}
_MISSING_TOKENS = {"nan", "+nan", "-nan", "na", "n/a", "null", "none", "nil", "-", "?"}
_FREQ_NOUN = {"monthly": "month", "quarterly": "quarter", "annual": "year"}


def read_observations(
    path: str | Path | pd.DataFrame,
    catalog: str | Path | Catalog,
    *,
    until: str | None = None,
) -> pd.DataFrame:
    """Read and validate a long table of observations.

    Parameters
    ----------
    path
        ``.csv``, ``.parquet`` or ``.pq`` file, or a DataFrame, with columns
        ``ally, period, signal, value`` and optionally ``source`` (other columns are ignored).
    catalog
        Catalog path or :class:`~forecast.catalog.Catalog`.
    until
        Optional forecast month ``YYYY-MM``: a period ending after it is an error.

    Returns
    -------
    pandas.DataFrame
        Columns ``ally, period, signal, value (float), source`` in file order.

    Raises
    ------
    InputError
        The first problem in file order; ``err.problems`` holds up to 50 of them and
        ``err.n_problems`` counts the rows with one.

    Examples
    --------
    >>> from forecast.datasets import default_paths
    >>> paths = default_paths()
    >>> frame = read_observations(paths.observations, paths.catalog)
    >>> list(frame.columns)
    ['ally', 'period', 'signal', 'value', 'source']
    """
    cat = as_catalog(catalog)
    frame = _read_observations(path, cat, parse_until(until), event_signals=None)
    return frame.drop(columns=["first_month", "last_month", "row"])


#: the names an event log may have in a data directory, as the monthly run's ``--data`` reads it
EVENT_LOG_NAMES = ("events.csv", "events.parquet", "events.pq")


def event_log_in(directory: str | Path) -> Path | None:
    """The event log of a data directory: its ``events.csv``, ``events.parquet`` or
    ``events.pq``, or None.

    Raises
    ------
    InputError
        Both are there: which one holds the events is not for the package to guess.

    Examples
    --------
    >>> from forecast.datasets import default_paths
    >>> event_log_in(default_paths().observations.parent).name
    'events.csv'
    """
    found = [Path(directory) / n for n in EVENT_LOG_NAMES if (Path(directory) / n).is_file()]
    if len(found) > 1:
        raise InputError(f"{len(found)} event logs ({', '.join(p.name for p in found)}): "
                         "expected at most one", file=str(directory))
    return found[0] if found else None


#: how error messages name observations given as a DataFrame
FRAME_LABEL = "<observations frame>"


def load_panel(
    observations_path: str | Path | pd.DataFrame,
    catalog: str | Path | Catalog | None = None,
    events: str | Path | pd.DataFrame | Literal[False] | None = None,
    until: str | None = None,
) -> Panel:
    """Load observations (and an optional event log) into a validated :class:`Panel`.

    Parameters
    ----------
    observations_path
        Long table of observations (CSV or Parquet path, or a DataFrame with the same
        columns), see ``docs/data-contract.md``.
    catalog
        Catalog path or :class:`~forecast.catalog.Catalog`; by default ``signals.toml`` next to
        the observations file (as :meth:`Panel.write` leaves it).
    events
        Event log (CSV/Parquet path or DataFrame); its events become monthly counts of the
        signals the catalog maps them to, with 0 for months without an event from the
        catalog's ``[event_log] start`` to its ``end`` (or to the grid's end). Such signals must
        then not appear in the observations file. By default, where the catalog counts signals
        from events, the ``events.csv`` (or ``.parquet``, ``.pq``) next to the observations file,
        as the monthly run's data directory holds it; ``False`` (or no log there) leaves those
        signals to the observations, unobserved where it has no rows for them. Where no log
        was given or found and the observations have no row of such a signal, a
        ``UserWarning`` says so (not with ``False``: the log is then left out on purpose).
    until
        Optional forecast month ``YYYY-MM``. Data after it are an error and the grid ends there;
        by default it ends at the last month any period of the data (or the event log's
        declared ``end``) covers.

    Returns
    -------
    Panel
        Month grid from the earliest month of data (or the event log's start, if earlier and an
        event log is given) to ``until`` or the end of the data.

    Raises
    ------
    InputError
        Any problem in any input, with file, row, column, value and what was expected. Also
        an ally of the catalog with no observation and no event at all.

    Examples
    --------
    >>> from forecast.datasets import default_paths
    >>> paths = default_paths()
    >>> panel = load_panel(paths.observations, catalog=paths.catalog, events=paths.events)
    >>> panel.months.freqstr
    'M'
    >>> load_panel(paths.observations, catalog=paths.catalog) == panel   # the log beside it
    True
    """
    if isinstance(observations_path, pd.DataFrame):
        if catalog is None:
            raise InputError("observations given as a DataFrame need catalog=PATH or a "
                             "Catalog: there is no folder to find signals.toml in",
                             parameter="catalog")
        obs_file, source = Path(FRAME_LABEL), observations_path
    elif isinstance(observations_path, (str, os.PathLike)):
        obs_file = source = Path(observations_path)
        if obs_file.is_dir():
            inside = [p.name for p in (obs_file / "observations.csv",
                                       obs_file / "observations.parquet") if p.is_file()]
            raise InputError("a folder, not an observations file: expected the path of a CSV "
                             "or Parquet table"
                             + (f" (this folder holds {inside[0]})" if inside else ""),
                             file=str(obs_file))
    else:
        raise InputError("expected the path of an observations table (CSV or Parquet) or a "
                         "DataFrame", parameter="observations_path",
                         value=type(observations_path).__name__)
    cat = _resolve_catalog(catalog, obs_file)
    until_m = parse_until(until)
    found_beside = ""
    log_left_to_find = events is None  # not events=False: leaving it out was not said
    if events is None and any(s.events for s in cat.signals.values()) \
            and isinstance(source, Path):
        events = event_log_in(obs_file.parent)
        if events is not None:
            found_beside = (f" (the event log {events} was read because it lies beside the "
                            "observations; events=False ignores it)")
    elif events is False:
        events = None
    elif not isinstance(events, (str, Path, pd.DataFrame)) and events is not None:
        raise InputError("expected an event log: a CSV or Parquet path, a DataFrame, None (the "
                         "log beside the observations) or False (none)", parameter="events",
                         value=repr(events))
    event_signals = {s.name for s in cat.signals.values() if s.events} if events is not None \
        else None
    obs = _read_observations(source, cat, until_m, event_signals, found_beside)
    if log_left_to_find and events is None:
        _warn_counted_without_a_log(cat, obs, obs_file if isinstance(source, Path) else None)
    first = int(obs["first_month"].min())
    last = int(obs["last_month"].max())
    parts = [obs[["ally", "period", "signal", "value", "source"]]]
    have = set(obs["ally"])
    if events is not None:
        valid = validated_events(events, cat, until_m)
        # without `until`, the log's zeros run to the last month that a monthly observation or
        # a logged event falls in: an annual value for the current year extends the grid to
        # December, not what the log has been kept up to
        monthly = obs["signal"].map(lambda s: cat.signals[s].frequency == "monthly")
        covered = [int(obs.loc[monthly, "last_month"].max())] if monthly.any() else []
        if len(valid):
            last = max(last, int(valid["month_number"].max()))
            covered.append(int(valid["month_number"].max()))
        log_end = parse_until(cat.event_log_end)
        if log_end is not None:
            last = max(last, log_end)  # the log's zeros are data up to its end
            covered.append(log_end)
        end = until_m if until_m is not None else (max(covered) if covered else last)
        parts.append(count_events(valid, cat, end))
        first = min(first, _log_start(cat))
        have |= set(valid["ally"])
    missing = [a for a in cat.allies if a not in have]
    if missing:
        where = "the observations" + (" or the event log" if events is not None else "")
        raise InputError(
            f"ally {missing[0]!r} is listed in the catalog's [allies] but has no row in "
            f"{where}: expected at least one observation per ally (or remove the ally from "
            "the catalog)"
            + (f"; also without data: {', '.join(missing[1:])}" if len(missing) > 1 else ""),
            file=str(obs_file), column="ally", value=missing[0],
        )
    end = until_m if until_m is not None else last
    frame = pd.concat(parts, ignore_index=True)
    panel = Panel.from_frame(frame, cat, start=format_month(first), end=format_month(end))
    # past the last monthly signal: until, or a quarterly or annual period (an event log's
    # zeros are monthly data up to its end)
    _warn_unobserved_end(panel, "until" if until_m is not None and until_m > last
                         else "the last quarterly or annual period")
    _warn_constant_signals(panel)
    _warn_numeric_sources(obs, obs_file)
    _warn_outlying_values(obs, cat, obs_file)
    return panel


#: how far from an ally's other values of a normal signal a value is doubted, in robust
#: standard deviations (1.4826 × the median absolute deviation). The embedded data's farthest
#: is 8.5 (South Korea's defence spending); a slipped decimal point is hundreds away.
OUTLYING_Z = 25.0
#: a count is doubted from this many events in one period, where it is more than
#: :data:`OUTLYING_COUNT_RATIO` times the largest of the same ally's other values of the signal
#: (at least 1): 500 typed for 5, not a burst of a dozen hedging acts in a month. The embedded
#: data's largest monthly count is 3.
OUTLYING_COUNT = 100
OUTLYING_COUNT_RATIO = 10.0


def _warn_outlying_values(obs: pd.DataFrame, cat: Catalog, file: Path) -> None:
    """Warn of a normal signal's value far from the same ally's other values: ``180`` typed
    for ``1.80`` reads as a measurement, and moves the latent. A count is warned of where it is
    far above the ally's others (:data:`OUTLYING_COUNT`).

    Examples
    --------
    >>> import warnings, forecast
    >>> cat = forecast.synthetic_catalog(1)
    >>> rows = pd.DataFrame({"ally": "A00", "signal": "milex_share_gdp", "row": range(2, 12),
    ...                      "value": [1.8, 1.9, 1.7, 1.8, 2.0, 1.9, 1.8, 180.0, 1.7, 1.9]})
    >>> with warnings.catch_warnings(record=True) as said:
    ...     warnings.simplefilter("always")
    ...     _warn_outlying_values(rows, cat, Path("observations.csv"))
    >>> print(said[0].message)
    observations.csv, row 9: 'milex_share_gdp' 180 for A00, far from A00's other values (median 1.85, 2403 robust standard deviations away): a typo or another unit?
    """
    normal = [name for name, s in cat.signals.items() if s.family == "normal"]
    found = []
    for (signal, ally), group in obs[obs["signal"].isin(normal)].groupby(["signal", "ally"],
                                                                          sort=False):
        x = group["value"].to_numpy(dtype=float)
        if len(x) < 8:  # too few for a spread
            continue
        median = float(np.median(x))
        spread = 1.4826 * float(np.median(np.abs(x - median)))
        if spread == 0:
            continue
        with np.errstate(over="ignore"):  # a spread of 1e-300 and a value of 1e100
            z = np.abs(x - median) / spread
        for i in np.flatnonzero(z > OUTLYING_Z):
            found.append((int(group["row"].iloc[i]), signal, ally, x[i],
                          f"median {median:.3g}, {_many(z[i])} robust standard deviations away"))
    # a count has no spread to measure against where most months are 0: its ally's next
    # largest value of the signal is the yardstick
    counted = [name for name, s in cat.signals.items() if s.is_count]
    for (signal, ally), group in obs[obs["signal"].isin(counted)].groupby(["signal", "ally"],
                                                                           sort=False):
        x = group["value"].to_numpy(dtype=float)
        if len(x) < 8:
            continue
        order = np.argsort(x, kind="stable")
        top, second = x[order[-1]], x[order[-2]]
        if top >= OUTLYING_COUNT and top > OUTLYING_COUNT_RATIO * max(second, 1.0):
            found.append((int(group["row"].iloc[order[-1]]), signal, ally, top,
                          f"{top / max(second, 1.0):.3g} times the most of the others, "
                          f"{second:g}"))
    if not found:
        return
    row, signal, ally, value, far = min(found)
    more = f" (and {len(found) - 1} more value(s) like it)" if len(found) > 1 else ""
    warnings.warn(
        f"{file}, row {row}: {signal!r} {value:g} for {ally}, far from {ally}'s other values "
        f"({far}){more}: a typo or another unit?", DataWarning,
        skip_file_prefixes=PACKAGE_FRAMES)


def _many(z: float) -> str:
    """A number of standard deviations for a message: whole below a million, then in
    powers of ten; ``inf`` said in words.

    Examples
    --------
    >>> _many(2403.4), _many(3.2e12), _many(float("inf"))
    ('2403', '3.2e+12', 'over 1e308')
    """
    if not np.isfinite(z):
        return "over 1e308"
    return f"{z:.0f}" if z < 1e6 else f"{z:.2g}"


def _warn_numeric_sources(obs: pd.DataFrame, file: Path) -> None:
    """Warn of CSV rows whose source is one to three digits: an unquoted ``1,200`` (a
    thousands separator) or ``1,8`` (a decimal comma) in a file with a source column splits
    into the value 1 and the source 200 or 8, which reads without an error. A DataFrame or
    Parquet file has no commas to split, and a source of four digits is more likely a year.

    Examples
    --------
    >>> import warnings
    >>> rows = pd.DataFrame({"ally": ["KOR", "JPN"], "value": [1.0, 2.0], "row": [7, 9],
    ...                      "source": ["200", "MND white paper"]})
    >>> with warnings.catch_warnings(record=True) as said:
    ...     warnings.simplefilter("always")
    ...     _warn_numeric_sources(rows, Path("observations.csv"))
    >>> print(said[0].message)
    observations.csv, row 7: value 1 with source '200', a number: if 1,200 was one number, the comma split it into value and source; write numbers without a thousands separator, with '.' as the decimal point (or quote the value)
    """
    if str(file) == FRAME_LABEL or file.suffix.lower() in (".parquet", ".pq"):
        return
    numeric = obs["source"].astype(str).str.fullmatch(r"[0-9]{1,3}").to_numpy(dtype=bool)
    if not numeric.any():
        return
    rows = obs.loc[numeric]
    first = rows.iloc[0]
    more = f" (and {len(rows) - 1} more row(s) like it)" if len(rows) > 1 else ""
    warnings.warn(
        f"{file}, row {int(first['row'])}: value {float(first['value']):g} with source "
        f"{first['source']!r}, a number{more}: if {float(first['value']):g},{first['source']} "
        "was one number, the comma split it into value and source; write numbers without a "
        "thousands separator, with '.' as the decimal point (or quote the value)",
        DataWarning, skip_file_prefixes=PACKAGE_FRAMES)


def _warn_unobserved_end(panel: Panel, why: str) -> None:
    """Warn where the panel's months run past the last one with a monthly signal, which
    ``why`` ran them to: a fit reads nothing of those months and a forecast starts from the
    panel's last.

    Examples
    --------
    >>> import warnings, forecast
    >>> sim = forecast.simulate(n_allies=2, n_months=24, seed=1)
    >>> with warnings.catch_warnings(record=True) as said:
    ...     warnings.simplefilter("always")
    ...     panel = forecast.load_panel(sim.panel.to_frame(), catalog=sim.panel.catalog,
    ...                                 until="2016-03")
    >>> print(said[0].message)  # doctest: +NORMALIZE_WHITESPACE
    no monthly signal is observed after 2015-12: the panel runs 3 months further, to 2016-03
    (until), months with no data for a fit to read; a forecast starts from 2016-03 (horizon 1
    is 2016-04); to forecast from the data's last month, leave until out, or cut the panel
    there: panel.truncate('2015-12')
    """
    observed, last = panel.last_observed_month, panel.last_month
    if observed is None or observed >= last:
        return
    n = panel.n_months - 1 - panel.months.get_loc(pd.Period(observed, "M"))
    after = format_period(panel.months[-1] + 1)
    leave = "leave until out, or " if why == "until" else ""
    warnings.warn(
        f"no monthly signal is observed after {observed}: the panel runs {n} month"
        f"{'' if n == 1 else 's'} further, to {last} ({why}), months with no data for a fit "
        f"to read; a forecast starts from {last} (horizon 1 is {after}); to forecast from "
        f"the data's last month, {leave}cut the panel there: panel.truncate({observed!r})",
        UnobservedEndWarning, skip_file_prefixes=PACKAGE_FRAMES)


def _warn_constant_signals(panel: Panel) -> None:
    """Warn of signals whose values never change within any ally (an indicator stuck at one
    value, an outcome or a count that is always 0): the model reads a signal's movements
    within an ally (each ally has its own intercept), so such a signal tells it nothing, and
    its fit and forecasts look like any other's.

    Examples
    --------
    >>> import warnings, forecast
    >>> sim = forecast.simulate(n_allies=2, n_months=24, seed=1)
    >>> frame = sim.panel.to_frame()
    >>> frame.loc[frame["signal"] == "us_troops", "value"] = 1.0
    >>> with warnings.catch_warnings(record=True) as said:
    ...     warnings.simplefilter("always")
    ...     panel = forecast.load_panel(frame, catalog=sim.panel.catalog)
    >>> print(said[0].message)
    'us_troops' never changes within an ally (1 for every ally observed): its values tell the model nothing of credibility's movements
    """
    for sig in panel.signals.values():
        a, _, v = sig.long()
        if len(v) < 2 or np.bincount(a).max() < 2:
            continue  # too few values to call them constant
        lo = np.full(len(panel.allies), np.inf)
        hi = np.full(len(panel.allies), -np.inf)
        np.minimum.at(lo, a, v)
        np.maximum.at(hi, a, v)
        seen = np.isfinite(lo)
        if (lo[seen] != hi[seen]).any():
            continue
        levels = [f"{ally} {x:g}" for ally, x in zip(np.asarray(panel.allies)[seen], lo[seen],
                                                      strict=True)]
        values = {f"{x:g}" for x in lo[seen]}
        said = (f"{values.pop()} for every ally observed" if len(values) == 1 else
                shortlist(levels, 12))
        warnings.warn(f"{sig.name!r} never changes within an ally ({said}): its values tell "
                      "the model nothing of credibility's movements", DataWarning,
                      skip_file_prefixes=PACKAGE_FRAMES)


def _warn_counted_without_a_log(cat: Catalog, obs: pd.DataFrame, file: Path | None) -> None:
    """Warn of signals the catalog counts from an event log that none was given for (or found
    beside the observations) and that the observations have no row of: left unobserved, they
    fail the model's build later, far from the cause."""
    seen = set(obs["signal"])
    empty = [s.name for s in cat.signals.values() if s.events and s.name not in seen]
    if not empty:
        return
    where = (f"nor found beside {file.name} (events.csv, .parquet or .pq)" if file is not None
             else "(observations given as a DataFrame have no folder to find one in)")
    warnings.warn(f"the catalog counts {', '.join(map(repr, empty))} from an event log, but no "
                  f"log was given {where} and the observations have no row of "
                  f"{'it' if len(empty) == 1 else 'them'}: unobserved in this panel. Pass "
                  "events=PATH or a DataFrame, or events=False to leave the log out on purpose",
                  DataWarning, skip_file_prefixes=PACKAGE_FRAMES)


def _log_start(cat: Catalog) -> int:
    """The event log's start as a month number."""
    start = parse_until(cat.event_log_start)
    assert start is not None
    return start


# ---------------------------------------------------------------------- internals
def _resolve_catalog(catalog: str | Path | Catalog | None, obs_file: Path) -> Catalog:
    if catalog is not None:
        return as_catalog(catalog)
    require_file(obs_file)  # said of the observations, not of a catalog beside them
    sibling = obs_file.parent / "signals.toml"
    if not sibling.is_file():
        raise InputError(
            f"no catalog given and no signals.toml next to the observations: expected "
            f"catalog=PATH or {sibling}",
            file=str(obs_file),
        )
    return as_catalog(sibling)


def _read_observations(
    path: str | Path | pd.DataFrame,
    cat: Catalog,
    until: int | None,
    event_signals: set[str] | None,
    log_note: str = "",
) -> pd.DataFrame:
    """Validated rows plus each period's first and last month number and its row number."""
    if isinstance(path, pd.DataFrame):
        table = table_from_frame(path, file=FRAME_LABEL, required=OBS_COLUMNS,
                                 optional=OBS_OPTIONAL)
    else:
        table = read_table(path, required=OBS_COLUMNS, optional=OBS_OPTIONAL)
    problems = Problems(table)
    ally = table.column("ally")
    signal = table.column("signal")
    period = table.column("period")
    value = table.column("value")

    check_filled(problems, table, "ally", "ally")
    check_choice(problems, table, "ally", cat.allies, "unknown ally")
    check_filled(problems, table, "signal", "signal")
    check_choice(problems, table, "signal", cat.signals, "unknown signal")
    specs = [cat.signals.get(s) for s in signal]
    if event_signals:
        derived = np.array([s in event_signals for s in signal], dtype=bool)
        problems.check(derived, "signal", signal, lambda i: (
            f"signal {signal[i]!r} is counted from the event log (event types: "
            f"{', '.join(cat.signals[signal[i]].events)}): expected it only there, not also in "
            "the observations (two sources of truth)" + log_note))

    first, last = _check_periods(problems, period, signal, specs)
    numbers = _check_values(problems, value, signal, specs)

    ok = problems.ok
    if until is not None:
        late = ok & (last > until)
        problems.check(late, "period", period, lambda i: _after_until(
            period[i], specs[i].frequency, int(last[i]), until))
    check_repeated(problems, (ally, signal, period), "period", period, lambda i, first: (
        f"duplicate observation of signal {signal[i]!r} for ally {ally[i]!r} in {period[i]}: "
        f"already given in row {first}; expected one row per (ally, period, signal)"))
    problems.raise_first()

    frame = pd.DataFrame({
        "ally": ally.astype(str),
        "period": period.astype(str),
        "signal": signal.astype(str),
        "value": numbers,
        "source": table.column("source").astype(str),
        "first_month": first,
        "last_month": last,
        "row": table.rows,
    })
    return frame


# what a period written by another tool looks like: a date (a spreadsheet's, or pandas'
# Timestamp), "2022Q2" (str of a pandas quarter), a year read as a float ("2022.0"), a month
# without its zero ("2022-1") or with another separator ("2022/01")
_OTHER_PERIOD = re.compile(
    r"\s*(?P<year>[12][0-9]{3})(?:\.0+"
    r"|\s*[-/.]?\s*[Qq](?P<quarter>[1-4])"
    r"|(?P<sep>[-/.])(?P<month>[0-9]{1,2})(?:[-/.](?P<day>[0-9]{1,2})(?:[ T]00:00(?::00)?)?)?)?"
    r"\s*")


def meant_period(text: str, frequency: str) -> str | None:
    """The period that ``text``, written another way, most likely means for a signal of
    ``frequency``, in the data contract's form; ``None`` where there is none (or it is
    ``text`` itself). A date is read as the period it falls in.

    Examples
    --------
    >>> meant_period("2022Q2", "quarterly"), meant_period("2022-01-01", "monthly")
    ('2022-Q2', '2022-01')
    >>> meant_period("2022.0", "annual"), meant_period("2022-07-01", "quarterly")
    ('2022', '2022-Q3')
    >>> meant_period("2020-13", "monthly") is None
    True
    """
    parts = _OTHER_PERIOD.fullmatch(text)
    if parts is None:
        return None
    year, quarter, month, day = (parts[k] for k in ("year", "quarter", "month", "day"))
    if month is not None and not (1 <= int(month) <= 12 and (day is None or 1 <= int(day) <= 31)):
        return None
    if parts["sep"] == "." and day is None and len(month) < 2:
        return None  # 2022.1: October read as a float as much as January
    if frequency == "annual":
        meant = year if quarter is None and (month is None or day is not None) else None
    elif quarter is not None:
        meant = f"{year}-Q{quarter}" if frequency == "quarterly" else None
    elif month is None:
        meant = None  # a year alone says no month or quarter
    elif frequency == "quarterly":
        meant = f"{year}-Q{(int(month) - 1) // 3 + 1}" if day is not None else None
    else:
        meant = f"{year}-{int(month):02d}"
    return meant if meant != text else None


def _check_periods(
    problems: Problems,
    period: np.ndarray,
    signal: np.ndarray,
    specs: list[SignalSpec | None],
) -> tuple[np.ndarray, np.ndarray]:
    """First and last month number of each period; flags malformed ones."""
    n = len(period)
    text = pd.Series(period, dtype=object).astype(str)
    freq = np.array([s.frequency if s is not None else "" for s in specs], dtype=object)
    matches = {f: text.str.fullmatch(pat).to_numpy(dtype=bool)
               for f, (pat, _, _) in PERIOD_FORMATS.items()}
    first = np.zeros(n, dtype=np.int64)
    last = np.zeros(n, dtype=np.int64)
    good = np.zeros(n, dtype=bool)
    for f, (pat, _, width) in PERIOD_FORMATS.items():
        sel = (freq == f) & matches[f]
        if not sel.any():
            continue
        parts = text[sel].str.extract(f"^{pat}$")
        year = parts[0].astype(np.int64).to_numpy()
        sub = parts[1].astype(np.int64).to_numpy() if parts.shape[1] > 1 else np.ones(len(year),
                                                                                     np.int64)
        start = year * 12 + (sub - 1) * width
        first[sel] = start
        last[sel] = start + width - 1
        good |= sel

    check_filled(problems, problems.table, "period", "period")
    known = freq != ""

    def why(i: int) -> str:
        f = str(freq[i])
        _, shape, _ = PERIOD_FORMATS[f]
        other = next((g for g in PERIOD_FORMATS if g != f and matches[g][i]), None)
        if other is not None:
            return (f"{other} period for {f} signal {signal[i]!r} (the catalog declares "
                    f"frequency = \"{f}\"): expected {shape}")
        if why := outside_the_years(text.iloc[i], PERIOD_FORMATS[f][0]):
            return f"period out of range for {f} signal {signal[i]!r}: {why}"
        meant = meant_period(text.iloc[i], f)
        return (f"malformed period for {f} signal {signal[i]!r}: expected {shape}"
                + (f" (did you mean {meant!r}?)" if meant else ""))

    problems.check(known & ~good, "period", period, why)
    return first, last


def _check_values(
    problems: Problems,
    value: np.ndarray,
    signal: np.ndarray,
    specs: list[SignalSpec | None],
) -> np.ndarray:
    """Values as floats; flags non-numbers, NaN/inf and values outside the family's support."""
    text = pd.Series(value, dtype=object).astype(str)
    lower = text.str.lower()
    is_number = text.str.fullmatch(NUMBER_RE).to_numpy(dtype=bool)
    is_missing = lower.isin(_MISSING_TOKENS).to_numpy(dtype=bool)
    is_inf = np.array(lower.isin(INF_TOKENS), dtype=bool)
    numbers = np.full(len(value), np.nan)
    with np.errstate(over="ignore"):
        numbers[is_number] = text[is_number].astype(float).to_numpy()
    is_inf |= is_number & ~np.isfinite(numbers)  # e.g. 1e999
    family = np.array([s.family if s is not None else "" for s in specs], dtype=object)

    problems.check(value == "", "value", value,
                   "missing value: expected a number; leave the row out if the value was not "
                   "observed (a missing row means not observed)")
    problems.check(is_missing, "value", value,
                   "NaN/missing marker is not a value: leave the row out if the value was not "
                   "observed (a missing row means not observed)")
    problems.check(is_inf, "value", value, "infinite value: expected a finite number")
    problems.check(np.abs(np.where(np.isfinite(numbers), numbers, 0.0)) > MAX_VALUE, "value",
                   value, f"a value beyond ±{MAX_VALUE:g}, too large to compute with: expected "
                   "a measurement (a typo, or another unit?)")
    percent = text.str.fullmatch(r"\s*[-+]?[0-9]*\.?[0-9]+\s*%\s*").to_numpy(dtype=bool)
    problems.check(percent, "value", value, lambda i: (
        f"not a number: a percent sign; expected the number alone "
        f"({text.iloc[i].strip().rstrip('%').strip()} for {text.iloc[i].strip()}: the unit is "
        "the catalog's)"))
    problems.check(~is_number & ~is_missing & ~is_inf, "value", value,
                   "not a number: expected a decimal number such as 3 or 0.25 "
                   "('.' as the decimal point, no thousands separator)")
    counts = np.isin(family, COUNT_FAMILIES)
    finite = np.where(np.isfinite(numbers), numbers, 0.0)
    problems.check(counts & (finite < 0), "value", value, lambda i: (
        f"negative count for {family[i]} signal {signal[i]!r}: expected a non-negative "
        "integer"))
    fractional = counts & (finite != np.round(finite))
    # most of a signal's values fractional: the catalog's family, more likely than the rows
    shares = pd.Series(fractional).groupby(np.asarray(signal, dtype=object)).agg(["sum", "size"])
    problems.check(fractional, "value", value, lambda i: (
        f"fractional count for {family[i]} signal {signal[i]!r}: expected a non-negative "
        "integer" + (
            f" (or the catalog's family: {shares.loc[signal[i], 'sum']} of its "
            f"{shares.loc[signal[i], 'size']} values are fractional; a measurement of any value "
            'is family = "normal")'
            if 2 * shares.loc[signal[i], "sum"] > shares.loc[signal[i], "size"] else "")))
    problems.check(counts & (finite > MAX_COUNT), "value", value, lambda i: (
        f"a count beyond 2**53 ({MAX_COUNT:.3g}) for {family[i]} signal {signal[i]!r}, too "
        "large to count exactly: expected the number of events in one period (a typo?)"))
    problems.check((family == "bernoulli") & ~np.isin(finite, (0.0, 1.0)), "value", value,
                   lambda i: f"value outside the support of bernoulli signal {signal[i]!r}: "
                             "expected 0 or 1")
    return numbers


def _after_until(period: str, frequency: str, last: int, until: int) -> str:
    text = (f"observation after the forecast month {format_month(until)}: expected periods "
            f"ending by {format_month(until)}")
    if frequency != "monthly":
        text += f" ({_FREQ_NOUN[frequency]} {period} ends {format_month(last)})"
    return text + REPLAY_HINT



