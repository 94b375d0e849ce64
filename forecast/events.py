"""Event log → monthly count observations.

Analysts keep a dated log of events (``date, ally, event_type, description, source``). The
catalog maps event types to signals (``events = [...]`` in a signal's table) and says over which
months the log is complete (``[event_log] start`` and, optionally, ``end``). Each month of that
coverage up to the forecast month is then an *observed* count for every ally and every
event-derived signal: a month with no logged event is a 0, not a gap. Months outside the
coverage stay unobserved.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.catalog import Catalog
from forecast.errors import PACKAGE_FRAMES, DataWarning, InputError, shortlist
from forecast.tabular import (
    MONTH_PATTERN,
    REPLAY_HINT,
    Problems,
    RawTable,
    as_catalog,
    check_choice,
    check_filled,
    check_repeated,
    format_month,
    not_a_month,
    parse_month,
    parse_until,
    read_table,
    table_from_frame,
)

__all__ = [
    "events_to_observations",
    "read_events",
    "validated_events",
    "count_events",
    "EVENT_COLUMNS",
]

EVENT_COLUMNS: tuple[str, ...] = ("date", "ally", "event_type")
EVENT_OPTIONAL: tuple[str, ...] = ("description", "source")
NO_EVENT_SOURCE = "event log: no event recorded"

_DATE_RE = rf"{MONTH_PATTERN}(?:-([0-9]{{2}}))?"
_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def read_events(
    events: str | Path | pd.DataFrame,
    catalog: str | Path | Catalog,
    *,
    until: str | None = None,
) -> pd.DataFrame:
    """Read and validate an event log.

    Parameters
    ----------
    events
        CSV or Parquet path, or a DataFrame, with columns ``date, ally, event_type`` and
        optionally ``description, source``. ``date`` is ``YYYY-MM-DD`` or ``YYYY-MM``.
    catalog
        Catalog path or :class:`~forecast.catalog.Catalog`; it must map at least one event type
        and declare ``[event_log] start``.
    until
        Optional forecast month ``YYYY-MM``; a later event is an error.

    Returns
    -------
    pandas.DataFrame
        One row per event in file order: ``date, month (YYYY-MM), ally, event_type, signal,
        description, source``.

    Raises
    ------
    InputError
        The first problem in file order (file, row, column, value and what was expected).

    Examples
    --------
    >>> cat = Catalog.from_dict({
    ...     "allies": {"KOR": "South Korea"},
    ...     "event_log": {"start": "2025-01"},
    ...     "signals": {
    ...         "lapse": {"role": "driver", "family": "poisson", "frequency": "monthly", "sign": -1,
    ...                   "events": ["consultation_lapse"]},
    ...         "drills": {"role": "indicator", "family": "poisson", "frequency": "monthly",
    ...                    "sign": 1},
    ...         "hedging": {"role": "outcome", "family": "negbin", "frequency": "monthly",
    ...                     "sign": -1},
    ...     },
    ... })
    >>> log = pd.DataFrame({"date": ["2025-02-14"], "ally": ["KOR"],
    ...                     "event_type": ["consultation_lapse"]})
    >>> read_events(log, cat)[["month", "ally", "signal"]].to_dict("records")
    [{'month': '2025-02', 'ally': 'KOR', 'signal': 'lapse'}]
    """
    cat = as_catalog(catalog)
    return validated_events(events, cat, parse_until(until)).drop(columns="month_number")


def events_to_observations(
    events: str | Path | pd.DataFrame,
    catalog: str | Path | Catalog,
    end: str,
) -> pd.DataFrame:
    """Turn a dated event log into monthly count observations.

    Parameters
    ----------
    events
        Event log: CSV/Parquet path or DataFrame (see :func:`read_events`).
    catalog
        Catalog path or :class:`~forecast.catalog.Catalog`.
    end
        Last month (``YYYY-MM``) the log covers, normally the forecast month. Events after it
        are an error.

    Returns
    -------
    pandas.DataFrame
        Columns ``ally, period, signal, value, source``: one row per ally, event-derived signal
        and month from the catalog's ``[event_log] start`` to ``end``, the value being the number
        of logged events (0 when none). Months after the catalog's ``[event_log] end``, when
        it declares one, are not covered and get no row, nor the months of an ally before its
        ``[event_log.ally_start]``, when it has one. Sorted by signal and ally (catalog
        order), then month.

    Examples
    --------
    >>> cat = Catalog.from_dict({
    ...     "allies": {"KOR": "South Korea"},
    ...     "event_log": {"start": "2025-01"},
    ...     "signals": {
    ...         "lapse": {"role": "driver", "family": "poisson", "frequency": "monthly", "sign": -1,
    ...                   "events": ["consultation_lapse"]},
    ...         "drills": {"role": "indicator", "family": "poisson", "frequency": "monthly",
    ...                    "sign": 1},
    ...         "hedging": {"role": "outcome", "family": "negbin", "frequency": "monthly",
    ...                     "sign": -1},
    ...     },
    ... })
    >>> log = pd.DataFrame({"date": ["2025-02-14", "2025-02"], "ally": ["KOR", "KOR"],
    ...                     "event_type": ["consultation_lapse"] * 2})
    >>> events_to_observations(log, cat, end="2025-03")[["period", "value"]].to_dict("list")
    {'period': ['2025-01', '2025-02', '2025-03'], 'value': [0.0, 2.0, 0.0]}
    """
    cat = as_catalog(catalog)
    end_month = parse_until(end)
    if end_month is None:
        raise InputError("events_to_observations needs the last month: expected YYYY-MM",
                         column="end")
    return count_events(validated_events(events, cat, end_month), cat, end_month)


# ---------------------------------------------------------------------- building blocks
def validated_events(
    events: str | Path | pd.DataFrame,
    cat: Catalog,
    until: int | None,
) -> pd.DataFrame:
    """:func:`read_events` with ``until`` as a month number, keeping a ``month_number`` column
    (``year * 12 + month - 1``) for :func:`count_events`."""
    cat_file = cat.path or "<catalog>"
    types = cat.event_types
    if not types:
        raise InputError(
            "an event log was given but no signal maps event types: expected "
            "events = [\"...\"] in at least one monthly count signal",
            file=cat_file, column="events",
        )
    start = parse_month(cat.event_log_start or "")
    if start is None:  # catalog.py already requires it when events are mapped
        raise InputError("the catalog has no [event_log] start month: expected YYYY-MM",
                         file=cat_file, column="event_log.start")
    if isinstance(events, pd.DataFrame):
        table = table_from_frame(events, file="<events frame>", required=EVENT_COLUMNS,
                                 optional=EVENT_OPTIONAL, allow_no_rows=True)
    else:
        table = read_table(events, required=EVENT_COLUMNS, optional=EVENT_OPTIONAL,
                           allow_no_rows=True)
    problems = Problems(table)
    dates = table.column("date")
    check_filled(problems, table, "date", "date")
    parts = pd.Series(dates, dtype=object).astype(str).str.fullmatch(_DATE_RE)
    problems.check(~parts.to_numpy(dtype=bool), "date", dates,
                   lambda i: not_a_month("date", str(dates[i]), "expected YYYY-MM-DD or YYYY-MM",
                                         _DATE_RE))
    year, month, day = _date_parts(dates)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days_in = _DAYS[np.clip(month - 1, 0, 11)] + ((month == 2) & leap)
    problems.check((day != 0) & ((day < 1) | (day > days_in)), "date", dates,
                   "not a calendar date: expected YYYY-MM-DD with a day that exists")
    allies = table.column("ally")
    check_filled(problems, table, "ally", "ally")
    check_choice(problems, table, "ally", cat.allies, "unknown ally")
    kinds = table.column("event_type")
    check_filled(problems, table, "event_type", "event type")
    check_choice(problems, table, "event_type", types,
                 "event type not mapped to any signal in the catalog (add it to a signal's "
                 "events = [...] list)")
    months = year * 12 + month - 1
    problems.check(months < start, "date", dates,
                   f"event before the event log's start month {format_month(start)} "
                   "([event_log] start in the catalog): expected dates from then on, when the "
                   "log is complete")
    for code, joined in cat.event_log_ally_start.items():
        problems.check((allies == code) & (months >= start) & (months < parse_month(joined)),
                       "date", dates,
                       f"event before {joined}, from when the event log covers {code} "
                       "([event_log.ally_start] in the catalog): expected dates from then on, "
                       "or an earlier month there")
    log_end = parse_month(cat.event_log_end or "")
    if log_end is not None:
        problems.check(months > log_end, "date", dates,
                       f"event after the event log's end month {format_month(log_end)} "
                       "([event_log] end in the catalog): expected dates up to then, or move "
                       "end forward once the log is complete to a later month")
    if until is not None:
        problems.check(months > until, "date", dates,
                       f"event after the forecast month {format_month(until)}: expected dates "
                       f"up to {format_month(until)}" + REPLAY_HINT)
    # a pasted duplicate would count the event twice; rows without a description are not
    # compared (nothing tells two such events of one day and type apart)
    description = table.column("description")
    check_repeated(problems, (dates, allies, kinds, description), "description", description,
                   lambda i, first: (
                       f"the same event as row {first} (date, ally, event type and description "
                       "equal): it would be counted twice; expected each event once (two events "
                       "of one day need descriptions that tell them apart)"),
                   among=np.array([str(d).strip() != "" for d in description], dtype=bool))
    problems.raise_first()
    _warn_undescribed_repeats(table, (dates, allies, kinds), description)
    return pd.DataFrame({
        "date": dates.astype(str),
        "month": [format_month(int(m)) for m in months],
        "ally": allies.astype(str),
        "event_type": kinds.astype(str),
        "signal": [types[k] for k in kinds],
        "description": table.column("description").astype(str),
        "source": table.column("source").astype(str),
        "month_number": months.astype(np.int64),
    })


def _warn_undescribed_repeats(table: RawTable, keys: tuple[np.ndarray, ...],
                              description: np.ndarray) -> None:
    """Warn of rows without a description whose date, ally and event type equal an earlier
    such row's: two events of one day, or one row pasted twice. Nothing tells which, so each
    is counted (a repeat with a description is refused by :func:`validated_events`)."""
    blank = np.array([str(d).strip() == "" for d in description], dtype=bool)
    if blank.sum() < 2:
        return
    joined = pd.Series(["\x1f".join(map(str, k)) for k in zip(*keys)], dtype=object)[blank]
    rows = table.rows[blank]
    repeated = joined.duplicated(keep="first").to_numpy(dtype=bool)
    if not repeated.any():
        return
    first: dict[str, int] = {}
    for key, row in zip(joined, rows):
        first.setdefault(key, int(row))
    pairs = [f"row {int(row)} (as row {first[key]})"
             for key, row in zip(joined[repeated], rows[repeated])]
    shown = shortlist(pairs, 5, counted=True)
    rows = "1 row repeats" if len(pairs) == 1 else f"{len(pairs)} rows repeat"
    warnings.warn(f"{table.file}: {rows} an earlier row's date, ally and "
                  f"event type, neither with a description: {shown}; each is counted as "
                  "another event. If a row was pasted twice, remove it; if the events are "
                  "distinct, a description for each tells them apart", DataWarning,
                  skip_file_prefixes=PACKAGE_FRAMES)


def _date_parts(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day (0 when absent) of each date; 0s where malformed."""
    got = pd.Series(dates, dtype=object).astype(str).str.extract(f"^{_DATE_RE}$")
    year = pd.to_numeric(got[0], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    month = pd.to_numeric(got[1], errors="coerce").fillna(1).to_numpy(dtype=np.int64)
    day = pd.to_numeric(got[2], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    return year, month, day


def count_events(valid: pd.DataFrame, cat: Catalog, end: int) -> pd.DataFrame:
    """Monthly counts of :func:`validated_events` up to month number ``end`` (see
    :func:`events_to_observations`)."""
    start = parse_month(cat.event_log_start or "")
    assert start is not None
    log_end = parse_month(cat.event_log_end or "")
    if log_end is not None:
        end = min(end, log_end)  # later months are not covered: unobserved, not zero
    months = np.arange(start, end + 1, dtype=np.int64)
    signals = [s.name for s in cat.signals.values() if s.events]
    allies = list(cat.allies)
    index = pd.MultiIndex.from_product([signals, allies, months],
                                       names=["signal", "ally", "month_number"])
    inside = valid[valid["month_number"].between(start, end)]
    grouped = inside.groupby(["signal", "ally", "month_number"], sort=False)
    counts = grouped.size().reindex(index, fill_value=0)
    sources = grouped["source"].agg(_join_sources).reindex(index, fill_value=NO_EVENT_SOURCE)
    flat = counts.reset_index(name="value")
    # an ally the log covers from later (one that joined late): unobserved before, not zero
    joined = {a: parse_month(m) for a, m in cat.event_log_ally_start.items()}
    covered = (flat["month_number"] >= flat["ally"].map(joined).fillna(start)).to_numpy()
    flat, sources = flat[covered], sources[covered]
    return pd.DataFrame({
        "ally": flat["ally"].astype(str),
        "period": [format_month(int(m)) for m in flat["month_number"]],
        "signal": flat["signal"].astype(str),
        "value": flat["value"].to_numpy(dtype=float),
        "source": sources.to_numpy(dtype=object).astype(str),
    })


def _join_sources(sources: pd.Series) -> str:
    seen = [s for s in dict.fromkeys(sources) if s]
    return "event log: " + "; ".join(seen) if seen else "event log"

