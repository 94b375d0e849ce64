"""The signal catalog: which allies and signals a panel holds, and how to read each signal.

The catalog is a TOML file (``signals.toml``) with an ``[allies]`` table, an optional
``[event_log]`` table and one ``[signals.NAME]`` table per signal. See ``docs/data-contract.md``.
"""

from __future__ import annotations

import tomllib
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping

from forecast.errors import PACKAGE_FRAMES, DataWarning, InputError, as_path, expected_one_of

__all__ = ["Catalog", "SignalSpec", "read_catalog", "read_toml", "ROLES", "FAMILIES", "FREQUENCIES"]

Role = Literal["indicator", "driver", "outcome"]
Family = Literal["poisson", "negbin", "normal", "bernoulli"]
Frequency = Literal["monthly", "quarterly", "annual"]

ROLES: tuple[str, ...] = ("indicator", "driver", "outcome")
FAMILIES: tuple[str, ...] = ("poisson", "negbin", "normal", "bernoulli")
FREQUENCIES: tuple[str, ...] = ("monthly", "quarterly", "annual")
COUNT_FAMILIES: tuple[str, ...] = ("poisson", "negbin")
#: what attribution tables call the part of a change no signal explains; no signal may be named so
RESERVED_SIGNAL = "other"


@dataclass(frozen=True)
class SignalSpec:
    """How one signal is read and what it means.

    Attributes
    ----------
    name
        Signal name, as used in the observations' ``signal`` column.
    role
        ``indicator`` (reflects credibility), ``driver`` (U.S. action that moves it) or
        ``outcome`` (hedging, the forecast target).
    family
        Observation family: ``poisson``, ``negbin``, ``normal`` or ``bernoulli``.
    frequency
        ``monthly``, ``quarterly`` or ``annual``; coarser values measure the period's average
        latent credibility.
    sign
        Expected direction against credibility: ``1`` or ``-1`` fixes the latent's orientation,
        ``0`` leaves the loading free (disputed meaning).
    drifts
        Whether the signal's meaning is known to drift over the years (an indicator only; a spec
        whose ``drift`` lists ``"catalog"`` gives such signals a slowly walking intercept).
    """

    name: str
    role: Role
    family: Family
    frequency: Frequency
    sign: int
    unit: str = ""
    description: str = ""
    events: tuple[str, ...] = ()
    source: str = ""
    drifts: bool = False

    @property
    def is_count(self) -> bool:
        """Whether values must be non-negative integers."""
        return self.family in COUNT_FAMILIES

    @property
    def pandas_freq(self) -> str:
        """The pandas period frequency code of the signal's periods."""
        return {"monthly": "M", "quarterly": "Q", "annual": "Y"}[self.frequency]

    def to_toml_table(self) -> dict[str, object]:
        """The signal as a TOML table (inverse of parsing)."""
        table: dict[str, object] = {
            "role": self.role,
            "family": self.family,
            "frequency": self.frequency,
            "sign": self.sign,
            "unit": self.unit,
            "description": self.description,
        }
        if self.events:
            table["events"] = list(self.events)
        if self.source:
            table["source"] = self.source
        if self.drifts:
            table["drifts"] = True
        return table


@dataclass(frozen=True)
class Catalog:
    """Allies and signals of a panel.

    Examples
    --------
    >>> cat = Catalog.from_dict({
    ...     "allies": {"JPN": "Japan"},
    ...     "signals": {
    ...         "exercises": {"role": "indicator", "family": "poisson", "frequency": "monthly", "sign": 1},
    ...         "hedging": {"role": "outcome", "family": "negbin", "frequency": "monthly", "sign": -1},
    ...     },
    ... })
    >>> cat.outcome.name
    'hedging'
    """

    allies: Mapping[str, str]
    signals: Mapping[str, SignalSpec]
    event_log_start: str | None = None
    path: str | None = field(default=None, compare=False)
    event_log_end: str | None = None
    event_log_ally_start: Mapping[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ views
    def by_role(self, role: str) -> list[SignalSpec]:
        """Signals of one role, in catalog order."""
        return [s for s in self.signals.values() if s.role == role]

    @property
    def indicators(self) -> list[SignalSpec]:
        return self.by_role("indicator")

    @property
    def drivers(self) -> list[SignalSpec]:
        return self.by_role("driver")

    @property
    def outcome(self) -> SignalSpec:
        return self.by_role("outcome")[0]

    @property
    def event_types(self) -> dict[str, str]:
        """Event type → signal it is counted into."""
        return {e: s.name for s in self.signals.values() for e in s.events}

    # ------------------------------------------------------------------ (de)serialisation
    @classmethod
    def from_dict(cls, raw: Mapping[str, object], *, path: str | None = None) -> "Catalog":
        """Parse and validate a catalog given as a dict (as read from TOML)."""
        file = path or "<catalog>"
        if not isinstance(raw, Mapping):
            raise InputError("the catalog must be a TOML table", file=file)
        _no_unknown_keys(raw, ("allies", "signals", "event_log"), file, "")
        allies_raw = raw.get("allies")
        if not isinstance(allies_raw, Mapping) or not allies_raw:
            raise InputError(
                "the catalog needs a non-empty [allies] table of CODE = \"Name\"",
                file=file, column="allies",
            )
        allies: dict[str, str] = {}
        for code, name in allies_raw.items():
            if not isinstance(name, str) or not str(code).strip() or not name.strip():
                raise InputError("ally entries must be CODE = \"Name\"", file=file,
                                 column="allies", value=code)
            _bare(str(code), "an ally code", "no row", "the code", file, "allies")
            _printable(name, "an ally's name", "the report's titles would show it as a missing "
                       "glyph; write the name in plain text", file, f"allies.{code}")
            allies[str(code)] = name
        signals_raw = raw.get("signals")
        if not isinstance(signals_raw, Mapping) or not signals_raw:
            raise InputError("the catalog needs at least one [signals.NAME] table",
                             file=file, column="signals")
        signals: dict[str, SignalSpec] = {}
        for name, table in signals_raw.items():
            _bare(str(name), "a signal name", "no row", "the name", file, "signals")
            if str(name) == RESERVED_SIGNAL:
                raise InputError(f"the signal name {RESERVED_SIGNAL!r} is reserved: attribution "
                                 "tables name what no signal explains so; choose another",
                                 file=file, column="signals", value=name)
            signals[name] = _parse_signal(str(name), table, file)
        event_log = raw.get("event_log", {}) or {}
        if not isinstance(event_log, Mapping):
            raise InputError("[event_log] must be a table", file=file, column="event_log")
        _no_unknown_keys(event_log, ("start", "end", "ally_start"), file, "event_log")
        start = event_log.get("start")
        if start is not None:
            start = str(start)
            _check_month(start, file, "event_log.start")
        end = event_log.get("end")
        if end is not None:
            end = str(end)
            _check_month(end, file, "event_log.end")
            if start is not None and end < start:
                raise InputError(f"[event_log] end is before its start {start!r}: expected a "
                                 "month from the start on", file=file, column="event_log.end",
                                 value=end)
        ally_start = _parse_ally_start(event_log.get("ally_start"), allies, start, end, file)
        cat = cls(allies=allies, signals=signals, event_log_start=start, path=path,
                  event_log_end=end, event_log_ally_start=ally_start)
        cat._check_structure(file)
        return cat

    def to_dict(self) -> dict[str, object]:
        """The catalog as a TOML-ready dict (inverse of :meth:`from_dict`)."""
        out: dict[str, object] = {"allies": dict(self.allies)}
        if self.event_log_start or self.event_log_end:
            out["event_log"] = {k: v for k, v in (("start", self.event_log_start),
                                                  ("end", self.event_log_end),
                                                  ("ally_start", dict(self.event_log_ally_start)))
                                if v}
        out["signals"] = {n: s.to_toml_table() for n, s in self.signals.items()}
        return out

    def to_toml(self) -> str:
        """Serialise as TOML text (stable order, so equal catalogs give equal text)."""
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    def _check_structure(self, file: str) -> None:
        outcomes = self.by_role("outcome")
        if len(outcomes) != 1:
            raise InputError(
                f"the catalog must declare exactly one signal with role = \"outcome\" "
                f"(the hedging series to forecast); found {len(outcomes)}",
                file=file, column="role",
            )
        if not self.indicators:
            raise InputError("the catalog declares no indicator signal", file=file, column="role")
        if not any(s.sign != 0 for s in self.indicators):
            raise InputError(
                "at least one indicator needs sign = 1 or -1 to fix the latent's orientation "
                "(all indicators have sign = 0)",
                file=file, column="sign",
            )
        seen: dict[str, str] = {}
        for s in self.signals.values():
            for e in s.events:
                if e in seen:
                    raise InputError(
                        f"event type {e!r} is listed twice in this signal's events"
                        if seen[e] == s.name else
                        f"event type {e!r} is mapped to two signals ({seen[e]!r} and {s.name!r})",
                        file=file, column=f"signals.{s.name}.events", value=e,
                    )
                seen[e] = s.name
        if seen and self.event_log_start is None:
            raise InputError(
                "signals map event types but [event_log] has no start month "
                "(from when is the log complete?)",
                file=file, column="event_log.start",
            )


#: what a catalog's author may write for a family or frequency, and its name here (no
#: spelling is near enough for "did you mean")
_OTHER_NAMES = {
    "frequency": {"yearly": "annual", "annually": "annual", "year": "annual",
                  "quarter": "quarterly", "month": "monthly"},
    "family": {"gaussian": "normal", "binary": "bernoulli", "negative_binomial": "negbin",
               "negativebinomial": "negbin", "negative binomial": "negbin", "nb": "negbin"},
}

#: the keys a [signals.NAME] table may hold
SIGNAL_KEYS = ("role", "family", "frequency", "sign", "unit", "description", "events", "source",
               "drifts")


def _no_unknown_keys(table: Mapping, allowed: tuple[str, ...], file: str, where: str) -> None:
    """An unknown key is an error, not ignored: a misspelt ``drifts`` would silently change
    the model."""
    for key in table:
        if key not in allowed:
            place = f"[{where}]" if where else "the catalog's top level"
            raise InputError(f"unknown key in {place}{expected_one_of(str(key), list(allowed))}",
                             file=file, column=f"{where}.{key}" if where else str(key),
                             value=key)


def _parse_ally_start(raw: object, allies: Mapping[str, str], start: str | None,
                      end: str | None, file: str) -> dict[str, str]:
    """``[event_log.ally_start]``: the month from which the log covers an ally that joined
    later than ``start`` (before it, that ally's months are unobserved, not counts of 0)."""
    if raw is None:
        return {}
    column = "event_log.ally_start"
    if not isinstance(raw, Mapping):
        raise InputError('[event_log.ally_start] must be a table of CODE = "YYYY-MM"',
                         file=file, column=column)
    if raw and start is None:
        raise InputError("[event_log.ally_start] needs the log's own start: expected "
                         "[event_log] start = \"YYYY-MM\"", file=file, column="event_log.start")
    out: dict[str, str] = {}
    for code, month in raw.items():
        where = f"{column}.{code}"
        if str(code) not in allies:
            raise InputError("unknown ally" + expected_one_of(str(code), list(allies)),
                             file=file, column=column, value=code)
        if not isinstance(month, str):
            raise InputError('expected a month as "YYYY-MM", in quotes', file=file,
                             column=where, value=month)
        _check_month(month, file, where)
        if start is not None and month <= start:
            raise InputError(f"not after the log's start {start!r}: the log covers every ally "
                             "from its start; expected a later month, or no entry for this ally",
                             file=file, column=where, value=month)
        if end is not None and month > end:
            raise InputError(f"after the log's end {end!r}: expected a month up to it",
                             file=file, column=where, value=month)
        out[str(code)] = month
    return out


def _check_month(text: str, file: str, column: str) -> None:
    # the data's own reading of a month; imported here because the tabular layer reads
    # catalogs, so a module-level import would be circular
    from forecast.tabular import exact_month, outside_the_years

    if exact_month(text) is None:
        why = outside_the_years(text)
        raise InputError("expected a month as YYYY-MM" + (f"; {why}" if why else ""), file=file,
                         column=column, value=text)


def _bare(text: str, what: str, matched: str, alone: str, file: str, column: str) -> None:
    """Refuse a catalog name that data cells, read without surrounding spaces, cannot match:
    one with a control character (which strip() may take for a space), with spaces around
    it, or an empty one."""
    _printable(text, what, f"no cell of a CSV file written by hand holds it, and tools differ "
               f"on keeping it; write {alone} in plain text", file, column)
    if text != text.strip() or not text:
        raise InputError(f"{what} with spaces around it (or empty): data cells are read without "
                         f"them, so {matched} could match; write {alone} alone", file=file,
                         column=column, value=text)


def _printable(text: str, what: str, why: str, file: str, column: str) -> None:
    """Refuse ``text`` with a control character (a NUL, a tab, U+001F …), saying ``why``."""
    control = next((c for c in text if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        raise InputError(f"{what} with a control character (U+{ord(control):04X}) in it: {why}",
                         file=file, column=column, value=text)


def _parse_signal(name: str, table: object, file: str) -> SignalSpec:
    col = f"signals.{name}"
    if not isinstance(table, Mapping):
        raise InputError("each signal must be a table", file=file, column=col)
    _no_unknown_keys(table, SIGNAL_KEYS, file, col)
    for key in ("role", "family", "frequency", "sign"):
        if key not in table:
            raise InputError(f"signal {name!r} is missing {key!r}", file=file, column=f"{col}.{key}")
    choices = {"role": ROLES, "family": FAMILIES, "frequency": FREQUENCIES}
    for key, allowed in choices.items():
        if table[key] not in allowed:
            raise InputError(
                f"unknown {key}" + expected_one_of(str(table[key]), list(allowed),
                                                   other_names=_OTHER_NAMES.get(key)),
                file=file, column=f"{col}.{key}", value=table[key],
            )
    sign = table["sign"]
    if isinstance(sign, bool) or sign not in (-1, 0, 1):
        quoted = (" written as a number, not in quotes"
                  if isinstance(sign, str) and sign.strip() in ("1", "-1", "0", "+1") else "")
        raise InputError(f"expected sign = 1, -1 or 0{quoted}", file=file, column=f"{col}.sign",
                         value=sign)
    events = table.get("events", ())
    if not isinstance(events, (list, tuple)) or not all(isinstance(e, str) for e in events):
        raise InputError("expected a list of event types", file=file, column=f"{col}.events",
                         value=events)
    for event in events:
        _bare(event, "an event type", "no event", "the type", file, f"{col}.events")
    if events and (table["frequency"] != "monthly" or table["family"] not in COUNT_FAMILIES):
        raise InputError(
            "a signal counted from the event log must be a monthly poisson or negbin count",
            file=file, column=f"{col}.events", value=list(events),
        )
    if table["role"] in ("driver", "outcome") and table["frequency"] != "monthly":
        raise InputError(
            f"{'an' if table['role'] == 'outcome' else 'a'} {table['role']} must be monthly",
            file=file, column=f"{col}.frequency",
            value=table["frequency"],
        )
    if table["role"] == "outcome" and table["family"] not in COUNT_FAMILIES:
        raise InputError("the outcome must be a count (poisson or negbin)", file=file,
                         column=f"{col}.family", value=table["family"])
    for key in ("unit", "description", "source"):
        if not isinstance(table.get(key, ""), str):  # a list or table was written as str()
            raise InputError("expected text in quotes", file=file, column=f"{col}.{key}",
                             value=table[key])
    drifts = table.get("drifts", False)
    if not isinstance(drifts, bool):
        raise InputError("expected drifts = true or false", file=file, column=f"{col}.drifts",
                         value=drifts)
    if drifts and table["role"] != "indicator":
        raise InputError("only an indicator's meaning can drift", file=file,
                         column=f"{col}.drifts", value=drifts)
    return SignalSpec(
        name=name,
        role=table["role"],
        family=table["family"],
        frequency=table["frequency"],
        sign=int(sign),
        unit=str(table.get("unit", "")),
        description=str(table.get("description", "")),
        events=tuple(events),
        source=str(table.get("source", "")),
        drifts=drifts,
    )


def read_catalog(path: str | Path) -> Catalog:
    """Read and validate a catalog TOML file.

    Examples
    --------
    >>> from forecast.datasets import default_paths
    >>> cat = read_catalog(default_paths().catalog)
    >>> "JPN" in cat.allies
    True
    """
    catalog = Catalog.from_dict(read_toml(path, "catalog"), path=str(path))
    _warn_unused_event_log(catalog, str(path))
    return catalog


def _warn_unused_event_log(catalog: Catalog, file: str) -> None:
    """Warn of a catalog file's ``[event_log]`` that no signal counts from (one derived in code,
    e.g. by ``Panel.without``, may have left its counted signals out)."""
    if any(s.events for s in catalog.signals.values()) or not (
            catalog.event_log_start or catalog.event_log_end):
        return
    warnings.warn(
        f"{file}: [event_log] is given but no signal lists event types (events = [...] in a "
        "signal's table), so the log counts nothing"
        + (" and [event_log.ally_start] marks no ally's entry (an ally's data begin with its "
           "first rows)" if catalog.event_log_ally_start else "")
        + ": list the event types a signal counts, or take [event_log] out",
        DataWarning, skip_file_prefixes=PACKAGE_FRAMES)


def read_toml(path: str | Path, what: str, error: type[InputError] = InputError) -> dict:
    r"""A TOML file's top table, or ``error`` naming the file and what is wrong with it: not
    there, a directory, unreadable, not UTF-8, not TOML. A UTF-8 byte-order mark, which some
    Windows editors write, is allowed.

    Parameters
    ----------
    path
        The file.
    what
        What the file holds, for the messages ("catalog", "spec", "scenario").
    error
        The :class:`~forecast.errors.InputError` subclass to raise.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "a.toml"
    >>> _ = f.write_bytes("\ufeff[allies]\nJPN = 'Japan'\n".encode("utf-8"))
    >>> read_toml(f, "catalog")
    {'allies': {'JPN': 'Japan'}}
    >>> read_toml(f.parent, "catalog")
    Traceback (most recent call last):
    ...
    forecast.errors.InputError: ...: a folder, not a catalog file
    """
    path = as_path(path, f"a {what} file")
    file = str(path)
    if not path.exists():
        raise error(f"{what} file not found", file=file)
    if path.is_dir():
        raise error(f"a folder, not a {what} file", file=file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read the {what} file: {exc.strerror}", file=file) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"the {what} is not UTF-8 text ({exc.reason} at byte {exc.start})",
                    file=file) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's words for a key or table written twice name neither
        twice = (": a key or table written twice" if "overwrite" in str(exc)
                 or "twice" in str(exc) else "")
        raise error(f"not valid TOML: {exc}{twice}", file=file) from None
    except ValueError:  # tomllib's int() of a number past Python's limit of digits
        raise error("not valid TOML: a whole number of more than 4 300 digits",
                    file=file) from None
