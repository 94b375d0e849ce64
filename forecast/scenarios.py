"""What-if scenarios as data: driver overrides, and paired comparisons of forecasts.

A scenario is a small table of ``(ally, period, signal, value)`` rows, optionally with
``op`` = ``set`` (default: the month's value becomes ``value``) or ``add`` (``value`` is added
to whatever the driver assumption drew: a whole number for a count driver, the sum floored at
0; -1, 0 or 1 for a binary driver, the sum kept within 0 and 1). It is read from CSV or TOML::

    # scenario.toml
    name = "KOR consultation lapse"
    description = "The U.S. acts without consulting Seoul in December"

    [[override]]
    ally = "KOR"
    period = "2026-12"
    signal = "consultation_lapse"
    value = 1

Only *driver* signals can be overridden: drivers are U.S. actions that move credibility
through the state equation. Indicators and the outcome measure credibility; setting a future
value of one would be conditioning on an observation, not an intervention, and is refused
with a message saying so. A driver value in month ``origin + k`` moves credibility from month
``origin + k + 1`` and hedging from month ``origin + k + 2`` (hedging responds to last month's
credibility), so periods run from the forecast origin (the fit's last month) to
``origin + horizon - 1``.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np
import pandas as pd

from forecast.catalog import COUNT_FAMILIES, read_toml
from forecast.errors import InputError, as_path, expected_one_of, is_real, raise_first
from forecast.tabular import (
    INF_TOKENS,
    NUMBER_RE,
    format_month,
    month_text,
    not_a_month,
    parse_month,
    read_table,
)

if TYPE_CHECKING:
    from forecast.catalog import Catalog
    from forecast.design import Design
    from forecast.forecasting import ForecastResult
    from forecast.results import Fit

__all__ = ["Scenario", "Overrides", "read_scenario", "as_scenario", "compare", "driver_changes",
           "OPS"]

COLUMNS = ("ally", "period", "signal", "value")
#: labels a row may carry for the analyst (kept with a run, shown in its report; they change
#: nothing in the forecast, nor the scenario's identity)
LABELS = ("source", "note")
OPTIONAL = ("op", *LABELS)
OPS = ("set", "add")


@dataclass(frozen=True)
class Scenario:
    """Driver overrides, validated for form (types, duplicates); checked against a fit's
    catalog and horizon by :meth:`resolve`.

    Attributes
    ----------
    rows
        DataFrame ``ally, period, signal, value, op, source, note`` (the last two as
        labels, blank when not given) plus ``row``: the row number in the source (the file's
        line for CSV, the ``[[override]]`` entry for TOML, the record's 1-based position
        otherwise).
    name, description
        Labels for reports.
    file
        Where the scenario was read from, for error messages.

    Examples
    --------
    >>> s = Scenario.from_records([
    ...     {"ally": "KOR", "period": "2026-12", "signal": "consultation_lapse", "value": 1}],
    ...     name="KOR lapse")
    >>> s.rows[["ally", "period", "value", "op"]].to_dict("records")
    [{'ally': 'KOR', 'period': '2026-12', 'value': 1.0, 'op': 'set'}]
    """

    rows: pd.DataFrame
    name: str = "scenario"
    description: str = ""
    file: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # built directly rather than by from_records / read_scenario: the rows must be the
        # validated table those make, with its row numbers
        needed = (*COLUMNS, "op", "row")
        if not isinstance(self.rows, pd.DataFrame) or any(c not in self.rows for c in needed):
            raise InputError("a Scenario's rows are the validated table that "
                             "Scenario.from_records(records) or read_scenario(path) makes "
                             f"(columns {', '.join(needed)}); build it with one of those",
                             parameter="rows")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_records(cls, records: Iterable[dict], name: str = "scenario",
                     description: str = "", file: str | None = None,
                     first_row: int = 1, rows: Iterable[int] | None = None) -> "Scenario":
        """A scenario from ``{ally, period, signal, value[, op]}`` dicts.

        ``first_row`` is the row number given to the first record in error messages, the
        others following it; ``rows`` gives each record's own (a file's lines).
        """
        records = list(records)
        numbers = (list(rows) if rows is not None
                   else list(range(first_row, first_row + len(records))))
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise InputError("each scenario row must be a table/dict with keys "
                                 + ", ".join(COLUMNS), file=file, row=numbers[i])
            if "row" in rec:  # the table's own column: a record's would be replaced unread
                raise _unexpected_key("row", file, numbers[i])
        frame = pd.DataFrame(records, columns=list(dict.fromkeys(
            [*COLUMNS, "op", *(k for r in records for k in r)])))
        frame["row"] = np.asarray(numbers, dtype=np.int64)
        return cls(_validate(frame, file), name=name, description=description, file=file)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, name: str = "scenario",
                   description: str = "") -> "Scenario":
        """A scenario from a DataFrame with columns ``ally, period, signal, value[, op]``."""
        if not isinstance(frame, pd.DataFrame):
            raise InputError("expected a pandas DataFrame (from_records takes a list of dicts)",
                             parameter="frame", value=type(frame).__name__)
        return cls.from_records(frame.to_dict("records"), name=name, description=description)

    def table(self) -> pd.DataFrame:
        """What the scenario assumes, as a run keeps it (``scenario_overrides.csv``):
        ``ally, period, signal, op, value`` and the labels ``source, note`` (blank when not
        given)."""
        out = self.rows.reindex(columns=["ally", "period", "signal", "op", "value", *LABELS])
        return out.fillna({label: "" for label in LABELS})

    def to_json(self) -> str:
        """Canonical JSON (stored with every forecast made under the scenario)."""
        rows = self.rows[["ally", "period", "signal", "value", "op"]].to_dict("records")
        return json.dumps({"name": self.name, "description": self.description, "rows": rows},
                          sort_keys=True)

    # ------------------------------------------------------------------ against a fit
    def resolve(self, fit: "Fit", horizon: int) -> "Overrides":
        """Check every row against the fit's allies, drivers and forecast months.

        Raises
        ------
        InputError
            Naming the file, row, column and value of the first bad row, with every bad
            row's problem in its ``problems``.
        """
        return self.resolve_for(fit.design, fit.panel.catalog, horizon)

    def resolve_for(self, design: "Design", catalog: "Catalog", horizon: int) -> "Overrides":
        """:meth:`resolve` against a design and its catalog, before any fit (the monthly run
        checks a scenario before sampling)."""
        origin = pd.Period(design.periods[-1], "M")
        allies = {a: i for i, a in enumerate(design.allies)}
        drivers = {d: j for j, d in enumerate(design.drivers)}

        def resolved(rec) -> tuple:
            where = dict(file=self.file, row=int(rec.row))
            if rec.ally not in allies:
                raise InputError("unknown ally, not in the fitted panel"
                                 + expected_one_of(str(rec.ally), list(design.allies)),
                                 column="ally", value=rec.ally, **where)
            if rec.signal not in catalog.signals:
                raise InputError("unknown signal, not in the fit's catalog (only its drivers "
                                 "can be overridden)"
                                 + expected_one_of(rec.signal, list(design.drivers)),
                                 column="signal", value=rec.signal, **where)
            role = catalog.signals[rec.signal].role
            if rec.signal not in drivers:
                why = ("it is an indicator: indicators measure credibility, they do not move "
                       "it, so a future value is an observation, not an intervention"
                       if role == "indicator" else
                       "it is the forecast outcome" if role == "outcome" else
                       "the fitted spec has drivers switched off")
                raise InputError(f"only driver signals can be overridden ({why}); drivers: "
                                 f"{', '.join(design.drivers) or 'none'}",
                                 column="signal", value=rec.signal, **where)
            k = pd.Period(rec.period, "M").ordinal - origin.ordinal
            if not 0 <= k < horizon:
                last = origin + (horizon - 1)
                why = ("its data, which a scenario does not rewrite, come before it" if k < 0
                       else f"a longer horizon reaches further; a value in {last} moves "
                            "credibility in the last forecast month")
                raise InputError(
                    f"period outside the forecast: a driver can be set from the origin "
                    f"{origin} (the fit's last month) to {last}, {horizon - 1} months after "
                    f"it, with a horizon of {horizon} month{'' if horizon == 1 else 's'} "
                    f"({why})", column="period",
                    value=rec.period, **where)
            family = catalog.signals[rec.signal].family
            _check_support(rec.value, family, where, rec.op)
            observed = design.driver_raw[:, drivers[rec.signal], :]
            if family in COUNT_FAMILIES:
                _check_within_reach(rec.value, observed, where)
            elif family == "normal":
                _check_within_range(rec.value, observed, where, rec.op)
            return (allies[rec.ally], drivers[rec.signal], k, float(rec.value), rec.op)

        out = _each_row(self.rows.itertuples(index=False), resolved)
        return Overrides(tuple(out), tuple(catalog.signals[d].family for d in design.drivers))


@dataclass(frozen=True)
class Overrides:
    """Resolved overrides: ``(ally index, driver index, month offset, value, op)`` tuples."""

    items: tuple[tuple[int, int, int, float, str], ...]
    families: tuple[str, ...] = ()

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Apply to raw driver draws ``(n, A, D, H)``; returns a new array."""
        out = raw.copy()
        for a, j, k, value, op in self.items:
            if op == "set":
                out[:, a, j, k] = value
            else:
                out[:, a, j, k] = out[:, a, j, k] + value
                if self.families and self.families[j] in COUNT_FAMILIES:
                    out[:, a, j, k] = np.maximum(out[:, a, j, k], 0.0)
                elif self.families and self.families[j] == "bernoulli":
                    out[:, a, j, k] = np.clip(out[:, a, j, k], 0.0, 1.0)
        return out


def _check_support(value: float, family: str, where: dict, op: str = "set") -> None:
    """A set value must be a value of the driver; an added one must keep the drawn values
    values of the driver (added to a count: a whole number, the sum floored at 0; added to
    a binary driver: -1, 0 or 1, the sum kept within 0 and 1)."""
    if family in COUNT_FAMILIES:
        if op == "set" and (value < 0 or value != math.floor(value)):
            raise InputError("a count driver needs a non-negative integer", column="value",
                             value=f"{value:.12g}", **where)
        if value != math.floor(value):
            raise InputError("adding to a count driver needs a whole number", column="value",
                             value=f"{value:.12g}", **where)
    if family == "bernoulli" and value not in ((0.0, 1.0) if op == "set" else (-1.0, 0.0, 1.0)):
        raise InputError("a binary driver needs 0 or 1" if op == "set" else
                         "adding to a binary driver needs -1, 0 or 1", column="value",
                         value=f"{value:.12g}", **where)


#: how far past the most a count driver has been observed at a scenario may set or add
REACH = 10


def _check_within_reach(value: float, observed: np.ndarray, where: dict) -> None:
    """Refuse a count more than :data:`REACH` times the most the driver has been observed at
    in one ally-month (at least 1): the model has never seen such a month, and its forecast
    there is an extrapolation of a straight line (1e23 lapses moved credibility by -1.7e22)."""
    seen = observed[np.isfinite(observed)]
    most = max(float(seen.max()) if seen.size else 0.0, 1.0)
    if abs(value) > REACH * most:
        raise InputError(f"a count more than {REACH} times the most this driver has been "
                         f"observed at in one month ({most:g}): the model has no data near it",
                         column="value", value=value, **where)


def _check_within_range(value: float, observed: np.ndarray, where: dict, op: str) -> None:
    """Refuse a continuous driver's value further outside its observed values (an added one:
    a change larger) than :data:`REACH` times their range: as for counts
    (:func:`_check_within_reach`), the forecast there would be a straight line extrapolated
    (a value of 1e23 had moved credibility by -6e22)."""
    seen = observed[np.isfinite(observed)]
    if not seen.size:
        return
    lo, hi = float(seen.min()), float(seen.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    beyond = abs(value) if op == "add" else max(lo - value, value - hi, 0.0)
    if beyond > REACH * span:
        what = "a change" if op == "add" else "a value"
        raise InputError(f"{what} more than {REACH} times the range of this driver's observed "
                         f"values ({lo:.4g} to {hi:.4g}) beyond them: the model has no data "
                         "near it", column="value", value=value, **where)


def _unexpected_key(key: str, file: str | None, row: int | None) -> InputError:
    """The error for a column or ``[[override]]`` key that is not a scenario's."""
    return InputError("unexpected key (a column of a CSV, a key of an [[override]] entry)"
                      + expected_one_of(key, [*COLUMNS, *OPTIONAL]), file=file, row=row,
                      column=key)


def _stripped(value: object) -> object:
    """Text without surrounding whitespace, ``None`` for blank text; other values as given."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def label_text(value) -> str:
    """An optional label (:data:`LABELS`) as text: blank when not given (``None``, NaN).

    Examples
    --------
    >>> label_text(2026), label_text(float("nan")), label_text(None)
    ('2026', '', '')
    """
    return "" if value is None or pd.isna(value) else str(value)


def _each_row(records, check: Callable) -> list:
    """``check`` of every record; the problems of every row are gathered and the first raised
    with them all, as a data file's row checks do (a mistake made in many rows is seen at
    once)."""
    out, found = [], []
    for rec in records:
        try:
            out.append(check(rec))
        except InputError as exc:
            found.append(exc)
    raise_first(found)
    return out


def _validate(frame: pd.DataFrame, file: str | None) -> pd.DataFrame:
    in_toml = file is not None and str(file).lower().endswith(".toml")
    extra = [c for c in frame.columns if c not in (*COLUMNS, *OPTIONAL, "row")]
    if extra:
        set_in = frame.loc[frame[extra[0]].notna(), "row"]
        raise _unexpected_key(str(extra[0]), file,
                              int(set_in.iloc[0]) if len(set_in) else None)
    if len(frame) == 0:
        raise InputError("a scenario needs at least one override row", file=file)
    if frame["op"].isna().all():
        frame["op"] = "set"

    def parsed(rec: dict) -> dict:
        rec = {k: _stripped(v) for k, v in rec.items()}
        where = dict(file=file, row=int(rec["row"]))
        for col in COLUMNS:
            v = rec[col]
            if v is None or (isinstance(v, float) and math.isnan(v)) or v == "":
                raise InputError(f"missing {col}", column=col, **where)
        if isinstance(rec["period"], pd.Period):  # a monthly one, as attribution(month=) takes
            rec["period"] = month_text(rec["period"]) or str(rec["period"])
        for col in ("ally", "signal", "period"):
            # TOML reads an unquoted date or time as one (datetime.date, datetime.time); a
            # frame or records may hold a Timestamp
            if isinstance(rec[col], (datetime.date, datetime.time)):
                text = rec[col].isoformat()
                quoted = " in quotes" if in_toml else ""
                raise InputError(f"expected a month{quoted}, such as \"2026-04\"" if col == "period"
                                 else f"expected text{quoted}", column=col, value=text, **where)
            if not isinstance(rec[col], str):
                raise InputError("expected text", column=col, value=rec[col], **where)
        month = parse_month(rec["period"])
        if month is None:
            raise InputError(not_a_month(
                "period", rec["period"], "expected YYYY-MM, a month such as 2026-04 (driver "
                "overrides are monthly: no quarters or years)"),
                column="period", value=rec["period"], **where)
        try:
            if isinstance(rec["value"], (bool, np.bool_)):
                raise TypeError  # TOML's true or a bool column: 1 by accident, not a count
            if isinstance(rec["value"], str) and not re.fullmatch(NUMBER_RE, rec["value"]) \
                    and rec["value"].lower() not in INF_TOKENS:
                raise ValueError  # "３" or "1_0", which float() reads, as the data do not
            value = float(rec["value"])
        except (TypeError, ValueError):
            raise InputError("expected a number", column="value", value=rec["value"],
                             **where) from None
        if not math.isfinite(value):
            raise InputError("expected a finite number", column="value", value=rec["value"],
                             **where)
        op = rec.get("op")
        op = "set" if op is None or (isinstance(op, float) and math.isnan(op)) else op
        if op not in OPS:
            raise InputError(f"unknown op; expected one of {', '.join(OPS)}", column="op",
                             value=op, **where)
        return {"ally": rec["ally"], "period": format_month(month),
                "signal": rec["signal"], "value": value, "op": op,
                **{k: label_text(rec.get(k)) for k in LABELS},
                "row": int(rec["row"])}

    out = pd.DataFrame(_each_row(frame.to_dict("records"), parsed))
    dup = out.duplicated(["ally", "period", "signal"], keep="first")
    if dup.any():
        bad = out[dup].iloc[0]
        same = out[(out["ally"] == bad["ally"]) & (out["period"] == bad["period"])
                   & (out["signal"] == bad["signal"])]
        raise InputError(f"a second override of {bad['signal']} for {bad['ally']} in "
                         f"{bad['period']} (the first is at row {int(same['row'].iloc[0])}); "
                         "give each ally, period and signal once", file=file,
                         row=int(bad["row"]))
    return out


def read_scenario(path: str | Path) -> Scenario:
    """Read a scenario from CSV (columns ``ally, period, signal, value[, op, source, note]``)
    or TOML (``[[override]]`` tables, optional ``name`` and ``description``).

    Raises
    ------
    InputError
        Naming the file, row, column and value of what is wrong.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "lapse.csv"
    >>> _ = p.write_text("ally,period,signal,value\\nKOR,2026-12,consultation_lapse,2\\n")
    >>> read_scenario(p).rows[["ally", "value"]].to_dict("records")
    [{'ally': 'KOR', 'value': 2.0}]
    """
    if isinstance(path, pd.DataFrame):  # rows in hand: no file to read
        raise InputError("expected the path of a scenario file; a DataFrame of rows is a "
                         "scenario as it is (fit.forecast(scenario=frame), or "
                         "Scenario.from_frame(frame))", parameter="path", value="DataFrame")
    path = as_path(path, "a scenario file")
    file = str(path)
    if not path.exists():
        raise InputError("scenario file not found", file=file)
    if not path.is_file():
        raise InputError("not a file: expected a scenario .csv or .toml file", file=file)
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return _read_toml(path, file)
    if suffix == ".csv":
        return _read_csv(path, file)
    raise InputError("unsupported scenario format; expected .csv or .toml", file=file)


def _read_toml(path: Path, file: str) -> Scenario:
    """A scenario from ``[[override]]`` tables (a UTF-8 byte-order mark is dropped)."""
    raw = read_toml(path, "scenario")
    if not raw:
        raise InputError("empty scenario file", file=file)
    unknown = [k for k in raw if k not in ("name", "description", "override")]
    if unknown:
        raise InputError("unexpected key; expected name, description and [[override]] "
                         "tables", file=file, column=unknown[0])
    for key in ("name", "description"):
        if key in raw and not isinstance(raw[key], str):
            raise InputError("expected text (in quotes)", file=file, column=key, value=raw[key])
    records = raw.get("override", [])
    if not isinstance(records, list):
        raise InputError("'override' must be an array of tables ([[override]])",
                         file=file, column="override")
    # TOML's nan is written, not left out: not "missing", as a key not given is
    for row, rec in enumerate(records, start=1):
        for key, v in rec.items() if isinstance(rec, dict) else ():
            if isinstance(v, float) and math.isnan(v):
                raise InputError("nan is not a value: expected a number; leave the override "
                                 "out where the forecast's own value should stay", file=file,
                                 row=row, column=key, value=v)
        # a TOML value has its own type, as in spec files: "2" is text, not the number 2
        if isinstance(rec, dict) and isinstance(rec.get("value"), str):
            raise InputError("expected a number without quotes (value = 2, not \"2\")",
                             file=file, row=row, column="value", value=rec["value"])
    return Scenario.from_records(records, name=str(raw.get("name", path.stem)),
                                 description=str(raw.get("description", "")), file=file)


def _read_csv(path: Path, file: str) -> Scenario:
    """A scenario from a CSV, read as the observations are (:func:`forecast.tabular.read_table`:
    byte-order mark dropped, header names and cells stripped, blank lines skipped, each row
    numbered by its line in the file, a row with more fields than the header refused, one
    that stops before the optional op, source or note read with them empty)."""
    table = read_table(path, required=COLUMNS, optional=OPTIONAL, allow_no_rows=True,
                       short_rows=True)
    extra = [c for c in table.header if c not in (*COLUMNS, *OPTIONAL)]
    if extra:
        raise _unexpected_key(extra[0], file, row=1)
    records = [dict(zip(table.cells, cells)) for cells in zip(*table.cells.values())]
    return Scenario.from_records(records, name=path.stem, file=file, rows=table.rows)


def as_scenario(scenario) -> Scenario | None:
    """Accept a :class:`Scenario`, a path, a DataFrame or a list of records (or None)."""
    if scenario is None or isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, (str, Path)):
        return read_scenario(scenario)
    if isinstance(scenario, pd.DataFrame):
        return Scenario.from_frame(scenario)
    if isinstance(scenario, (list, tuple)):
        return Scenario.from_records(scenario)
    raise InputError("a scenario must be a Scenario, a CSV/TOML path, a DataFrame or a list "
                     "of records", parameter="scenario", value=type(scenario).__name__)


# ---------------------------------------------------------------------------------------------
#: what makes two forecasts paired, in the order checked, each with what to keep the same
_PAIRED_BY = (
    ("origin", "forecast both from the same fit"),
    ("data_hash", "forecast both from the same fit"),
    ("spec", "forecast both from the same fit"),
    # the posterior draws used (n_draws picks them): forecasts saved before it was recorded
    # have none
    ("posterior", "forecast both from the same fit with the same n_draws"),
    ("seed", "forecast both with the same seed"),
    ("driver_assumption", "forecast both with the same driver_assumption"),
)


def _check_paired(base: "ForecastResult", alt: "ForecastResult") -> None:
    from forecast.forecasting import ForecastResult
    from forecast.results import Fit

    for name, value in (("base", base), ("alt", alt)):
        if not isinstance(value, ForecastResult):
            fits = isinstance(value, Fit) or (isinstance(value, Mapping) and any(
                isinstance(v, Fit) for v in value.values()))
            got = ("nothing: compare(base, alt) takes two forecasts" if value is None
                   else type(value).__name__)
            raise InputError("expected a forecast (fit.forecast(...) or "
                             f"forecast.load_forecast(path) gives one), got {got}"
                             + ("; to compare fits by their predictive accuracy: "
                                "forecast.compare_fits({'name': fit, ...})" if fits else ""),
                             parameter=name)
    a, b = base.draws, alt.draws
    if a.sizes["horizon"] != b.sizes["horizon"]:
        raise InputError(f"the two forecasts are not paired: their horizons differ "
                         f"({a.sizes['horizon']} vs {b.sizes['horizon']} months); forecast both "
                         "with the same horizon", parameter="horizon")
    for key, advice in _PAIRED_BY:
        if key == "posterior" and not np.array_equal(a["draw_index"].values,
                                                     b["draw_index"].values):
            raise InputError(f"the two forecasts are not paired: they use different posterior "
                             f"draws ({a.sizes['sample']} vs {b.sizes['sample']}); forecast "
                             "both with the same n_draws", parameter="n_draws")
        if a.attrs.get(key) != b.attrs.get(key):
            raise InputError(
                f"the two forecasts are not paired: their {key} differs "
                f"({a.attrs.get(key)!r} vs {b.attrs.get(key)!r}); {advice}", parameter=key)


def compare(base: "ForecastResult", alt: "ForecastResult | None" = None,
            level: float = 0.9) -> pd.DataFrame:
    """Difference ``alt - base`` in hedging probability and credibility, on paired draws.

    Both forecasts must come from the same fit with the same seed (and ``n_draws``): each
    posterior draw then carries the same state shocks, future drivers and outcome noise in both,
    so the difference is the scenario's effect alone, with no Monte Carlo noise from unpaired
    simulation.

    Parameters
    ----------
    base, alt
        Forecasts (e.g. without and with a scenario); both are needed (one given alone, or
        fits, are refused saying what to pass).
    level
        Width of the reported interval of the difference across draws.

    Returns
    -------
    pandas.DataFrame
        ``ally, period, horizon, p_any_base, p_any_alt, p_any_change, p_any_change_lo,
        p_any_change_hi, credibility_change, credibility_change_lo, credibility_change_hi,
        p_any_within_change``. ``p_any_change`` is the mean over draws of the change in
        P(at least one event | draw, path); ``_lo``/``_hi`` bound the central ``level`` interval
        of that change across draws; ``p_any_within_change`` is the change in P(at least one
        event within ``horizon`` months).

    Examples
    --------
    With a fit of a simulated panel (``forecast.fit(sim.panel)``; here ``oracle_fit``, whose
    draws are the simulation's truth, so that the example needs no sampling), and a scenario
    of three consultation lapses for A00 in the first forecast month (a file works too:
    ``scenario="kor_lapse.toml"``):

    >>> import forecast
    >>> sim = forecast.simulate(n_allies=3, n_months=36, seed=1)
    >>> fit = forecast.oracle_fit(sim, n_draws=100)
    >>> lapses = [{"ally": "A00", "period": "2017-01", "signal": "consultation_lapse",
    ...            "value": 3}]
    >>> base = fit.forecast(horizon=6, seed=1)
    >>> alt = fit.forecast(horizon=6, seed=1, scenario=lapses)
    >>> table = compare(base, alt)
    >>> bool((table.query("ally != 'A00'")["p_any_change"] == 0).all())  # the others unmoved
    True
    """
    from forecast.forecasting import _ally_horizon_frame

    _check_paired(base, alt)
    if not is_real(level) or not 0 < level < 1:
        raise InputError("level must be a probability between 0 and 1 (0.9: the central 90%)",
                         parameter="level", value=level)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    p0b, p0a = base.draws["p_zero"].values, alt.draws["p_zero"].values
    dp = p0b - p0a  # change in P(any) = (1 - p0a) - (1 - p0b)
    dc = alt.draws["credibility"].values - base.draws["credibility"].values
    within_b = 1 - np.cumprod(p0b, axis=-1).mean(axis=0)
    within_a = 1 - np.cumprod(p0a, axis=-1).mean(axis=0)
    cols = {
        "p_any_base": 1 - p0b.mean(axis=0),
        "p_any_alt": 1 - p0a.mean(axis=0),
        "p_any_change": dp.mean(axis=0),
        "p_any_change_lo": np.quantile(dp, lo_q, axis=0),
        "p_any_change_hi": np.quantile(dp, hi_q, axis=0),
        "credibility_change": dc.mean(axis=0),
        "credibility_change_lo": np.quantile(dc, lo_q, axis=0),
        "credibility_change_hi": np.quantile(dc, hi_q, axis=0),
        "p_any_within_change": within_a - within_b,
    }
    return _ally_horizon_frame(base.draws, cols)


def driver_changes(base: "ForecastResult", alt: "ForecastResult") -> pd.DataFrame:
    """The driver values a scenario changed, against what the baseline assumed there.

    The baseline draws each future driver value from its assumption (each ally's recent rate,
    by default), so a scenario that sets one lapse in a month where the baseline draws 0.7 on
    average changes that month by 0.3 on average: its effect is that difference, not one lapse.

    Returns
    -------
    pandas.DataFrame
        ``ally, period, signal, base, alt, observed``: one row per ally, month and driver where
        the two forecasts' driver values differ in any draw; ``base`` and ``alt`` are their
        means over draws; ``observed`` says the baseline's value is the data's (the origin
        month's, where observed), not a draw: a scenario that sets it asks what if that month
        had gone otherwise (false throughout where neither forecast records it: both saved
        before 2026-12-04).

    Examples
    --------
    >>> import forecast
    >>> sim = forecast.simulate(n_allies=3, n_months=36, seed=1)
    >>> fit = forecast.oracle_fit(sim, n_draws=100)
    >>> base = fit.forecast(horizon=3, seed=1)
    >>> alt = fit.forecast(horizon=3, seed=1, scenario=[
    ...     {"ally": "A00", "period": month, "signal": "consultation_lapse", "value": 3}
    ...     for month in ("2016-12", "2017-02")])  # the last observed month, and one ahead
    >>> changed = driver_changes(base, alt)
    >>> for r in changed.itertuples():
    ...     print(r.ally, r.period, r.signal, r.alt, r.observed)
    A00 2016-12 consultation_lapse 3.0 True
    A00 2017-02 consultation_lapse 3.0 False
    """
    _check_paired(base, alt)
    b, a = base.draws["drivers"], alt.draws["drivers"]
    # ally, driver: at offset 0 only; of the data, so either forecast's (paired: one fit);
    # both saved before it was kept: none known
    kept = [f.draws["drivers_observed"] for f in (base, alt) if "drivers_observed" in f.draws]
    seen = kept[0].values if kept else np.zeros(b.shape[1:3], bool)
    changed = (b.values != a.values).any(axis=0)  # ally, driver, period
    rows = [{"ally": str(b["ally"].values[i]), "period": str(b["driver_period"].values[t]),
             "signal": str(b["driver"].values[j]),
             "base": float(b.values[:, i, j, t].mean()), "alt": float(a.values[:, i, j, t].mean()),
             "observed": bool(t == 0 and seen[i, j])}
            for i, j, t in zip(*np.nonzero(changed))]
    return pd.DataFrame(rows, columns=["ally", "period", "signal", "base", "alt", "observed"])
