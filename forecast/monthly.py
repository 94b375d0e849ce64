"""The monthly run: validate → fit → forecast → report → publish.

:func:`run_month` is what ``forecast run`` calls; notebooks and schedulers can call it too. It
never writes into the registry except by the one atomic publication at the end (see
:mod:`forecast.runs`), and it returns a :class:`RunOutcome` instead of printing or exiting.

Files of a run directory (all written in staging first):

=====================  ==================================================================
``forecast.csv``       hedging forecast: ally, period, horizon, mean, p_any, q05…q95,
                       mean_pareto_k (above 0.7 a few draws decide ``mean``),
                       p_any_within (P(at least one hedging act within ``horizon`` months))
``credibility.csv``    credibility path: ally, period, horizon (0 = fitted history,
                       1…12 = forecast), mean, sd, q05, q25, q50, q75, q95
``headline.csv``       one row per ally: credibility now, change, p_any within 1/3/12 months,
                       trend
``attribution.csv``    the latest month's change in credibility by signal
``early_warnings.csv`` allies whose hedging probability crosses the warning threshold
``coverage.csv``       share of periods observed per ally, signal and year
``outcome.csv``        observed hedging counts (for the charts)
``hedging_level.csv``  hedging's common level by year as a factor on expected counts:
                       year, mean, sd, q05, q50, q95 (where the spec walks it, over
                       more than one year)
``scenario.csv``       scenario vs. baseline (only with ``--scenario``)
``scenario_overrides.csv`` what the scenario assumed: ally, period, signal, op, value,
                       source, note (the file's rows, kept with the run; its name and
                       description are in the manifest's ``scenario``)
``posterior.nc``       the fit (:meth:`forecast.Fit.save`)
``diagnostics.json``   convergence checks, thresholds and worst quantities
``manifest.json``      inputs (sha256), settings, versions, timings, gate, revision
``report.html``        the self-contained report
``run.log``            what happened, with timestamps
=====================  ==================================================================
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ContextManager, Iterator, Literal, Protocol

import numpy as np
import pandas as pd

from forecast.datasets import default_paths
from forecast.diagnostics import Diagnostics, runs_on
from forecast.errors import (MAX_SEED, SAMPLER_MOST, DataWarning, InputError, SpecError,
                             UnobservedEndWarning, check_seed, shortlist, whole_number)
from forecast.manifest import (
    MANIFEST_VERSION,
    InputFile,
    RunSettings,
    computing_versions,
    environment,
    fingerprint,
    input_key,
    sha256_file,
)
from forecast.panel import Panel, format_period
from forecast.files import write_text_atomically
from forecast.runs import COMPARED_WITHIN, Publication, PublishedRun, Registry, parse_file
from forecast.tabular import check_month, parse_month, run_table

if TYPE_CHECKING:
    from forecast.design import Design
    from forecast.results import Fit
    from forecast.spec import ModelSpec

__all__ = [
    "RunRequest",
    "RunOutcome",
    "RunInputs",
    "Progress",
    "NullProgress",
    "run_month",
    "resolve_inputs",
    "load_inputs",
    "QUICK",
    "DEFAULT",
    "RUN_ON_SAMPLERS",
    "EXIT_OK",
    "EXIT_ERROR",
    "EXIT_INPUT",
    "EXIT_NOT_CONVERGED",
]

EXIT_OK, EXIT_ERROR, EXIT_INPUT, EXIT_NOT_CONVERGED = 0, 1, 2, 3

#: Sampler presets: ``--quick`` is for smoke tests, never for publication decisions.
DEFAULT: dict[str, int] = {"draws": 1000, "tune": 1000, "chains": 4}
QUICK: dict[str, int] = {"draws": 200, "tune": 200, "chains": 2}

#: Horizons (months) of the headline's hedging probabilities.
HEADLINE_HORIZONS: tuple[int, ...] = (1, 3, 12)
#: Months over which the headline trend is judged, and the posterior probability that makes a
#: rise or fall an arrow.
TREND_MONTHS, TREND_PROB = 3, 0.8
#: Early warning: P(at least one hedging act within WARNING_WITHIN months) ≥ WARNING_THRESHOLD;
#: the window is the one the change since last month compares (a baseline without it is a
#: poor one: :meth:`forecast.runs.PublishedRun.differences`).
WARNING_THRESHOLD, WARNING_WITHIN = 0.5, COMPARED_WITHIN
QUANTILES: dict[str, float] = {"q05": 0.05, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q95": 0.95}
#: The samplers whose chains run on when asked for more draws from the same seed (the first
#: draws are the shorter fit's, bit for bit): only these answer a refusal on R-hat alone
#: (:func:`forecast.diagnostics.runs_on`) by running on (docs/decisions/0018).
RUN_ON_SAMPLERS: tuple[str, ...] = ("nutpie",)


def direction(p_rose: float) -> str:
    """``up`` where the posterior probability of a rise is at least :data:`TREND_PROB`,
    ``down`` where that of a fall is (so 0.2 is a fall, to the last bit), else ``flat`` (NaN
    too): the headline's rule for its trend and for its change since the previous run.

    Examples
    --------
    >>> [direction(p) for p in (0.8, 0.2, 0.5, float("nan"))]
    ['up', 'down', 'flat', 'flat']
    """
    return "up" if p_rose >= TREND_PROB else "down" if 1 - p_rose >= TREND_PROB else "flat"


# ---------------------------------------------------------------------- request and outcome
@dataclass(frozen=True)
class RunRequest:
    """What ``forecast run`` was asked to do.

    Attributes
    ----------
    month
        Forecast origin ``YYYY-MM``; ``None`` = the last month of the data.
    data
        Directory with ``observations.csv`` (or ``.parquet``, ``.pq``), ``signals.toml`` and
        optionally ``events.csv`` (or ``.parquet``, ``.pq``); ``None`` = the embedded dataset.
    out
        Registry directory.
    spec
        Shipped spec name or path to a spec TOML.
    scenario
        Optional scenario file, forecast beside the baseline.
    quick
        Small sampler preset (:data:`QUICK`) for smoke tests; the run is labelled quick.
    force
        Publish even if the diagnostics gate fails (marked as forced).
    draws, tune, chains
        Override the preset.
    seed
        Random seed; ``None`` = the month as a number (``2026-03`` → 202603).
    """

    month: str | None = None
    data: Path | None = None
    out: Path = Path("runs")
    spec: str = "default"
    scenario: Path | None = None
    quick: bool = False
    force: bool = False
    draws: int | None = None
    tune: int | None = None
    chains: int | None = None
    seed: int | None = None
    sampler: str = "nutpie"
    horizon: int = 12

    def sampler_settings(self) -> tuple[dict[str, int], str]:
        """``({draws, tune, chains}, preset)`` with ``preset`` default, quick or custom."""
        base = dict(QUICK if self.quick else DEFAULT)
        given = {"draws": self.draws, "tune": self.tune, "chains": self.chains}
        for k, v in given.items():
            if v is not None:
                base[k] = whole_number(k, v, 1, SAMPLER_MOST[k])
        # --quick with sizes of its own is custom, as the docs say: labelled quick, a run of
        # 4 x 1000 draws had the smoke test's banner, was never run on and never a baseline
        if base == DEFAULT:
            preset = "default"
        elif self.quick and base == QUICK:
            preset = "quick"
        else:
            preset = "custom"
        return base, preset


Status = Literal["published", "unchanged", "not_converged"]


@dataclass(frozen=True)
class RunOutcome:
    """What a run did.

    Attributes
    ----------
    status
        ``published``, ``unchanged`` (identical inputs already published: nothing done) or
        ``not_converged`` (the diagnostics gate failed and nothing was published).
    month
        The run's month.
    run
        The published run (for ``unchanged``: the one with identical inputs).
    diagnostics
        The fit's diagnostics (``None`` when nothing was fitted).
    message
        One line for a person.
    """

    status: Status
    month: str
    run: PublishedRun | None = None
    diagnostics: Diagnostics | None = None
    message: str = ""
    timings: dict = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_NOT_CONVERGED if self.status == "not_converged" else EXIT_OK


class Progress(Protocol):
    """How a run reports progress (the CLI implements it with rich)."""

    #: Whether the sampler may draw its own progress bar.
    sampler_progress: bool

    def stage(self, name: str, detail: str = "") -> ContextManager[None]:
        """Context of one named stage."""

    def note(self, message: str) -> None:
        """A line worth telling the user."""

    def warning(self, message: str) -> None:
        """A line the user must see, progress shown or not (a run from cron too)."""


class NullProgress:
    """Reports nothing.

    Examples
    --------
    >>> p = NullProgress()
    >>> with p.stage("fit"):
    ...     p.note("nothing shown")
    """

    sampler_progress = False

    def stage(self, name: str, detail: str = "") -> ContextManager[None]:
        return nullcontext()

    def note(self, message: str) -> None:
        return None

    def warning(self, message: str) -> None:
        return None


# ---------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class RunInputs:
    """The resolved input files of a run.

    Attributes
    ----------
    observations, catalog, events
        Data files (``events`` is optional).
    spec_path
        The spec's TOML file (``None`` for a spec given only as an object).
    scenario
        The scenario file, if any.
    """

    observations: Path
    catalog: Path
    events: Path | None
    spec_path: Path | None
    scenario: Path | None

    def files(self) -> dict[str, Path]:
        """Role → path of every input file that exists."""
        out = {"observations": self.observations, "catalog": self.catalog}
        for role, path in (("events", self.events), ("spec", self.spec_path),
                           ("scenario", self.scenario)):
            if path is not None:
                out[role] = path
        return out


def resolve_inputs(data: Path | None, spec: str = "default",
                   scenario: Path | None = None) -> RunInputs:
    """Find the input files of a run.

    Parameters
    ----------
    data
        Data directory (``observations.csv`` or ``.parquet``, ``signals.toml``, optional
        ``events.csv``) or ``None`` for the embedded dataset.
    spec
        Shipped spec name or path to a TOML file.
    scenario
        Scenario file.

    Raises
    ------
    InputError
        A missing directory or file, or two observation files.

    Examples
    --------
    >>> inputs = resolve_inputs(None)
    >>> inputs.observations.name, inputs.spec_path.name
    ('observations.csv', 'default.toml')
    """
    paths = default_paths()
    if data is None:
        obs, cat = paths.observations, paths.catalog
        events: Path | None = paths.events if paths.events.is_file() else None
    else:
        data = Path(data)
        if not data.is_dir():
            raise InputError("data directory not found: expected a directory holding "
                             "observations.csv (or .parquet, .pq) and signals.toml",
                             file=str(data))
        names = ("observations.csv", "observations.parquet", "observations.pq")
        found = [data / n for n in names if (data / n).is_file()]
        if not found:
            others = _found(data, "observations")
            # a table under another name (obs.csv, as the data contract's messages call it)
            tables = sorted(p.name for p in data.iterdir() if p.is_file()
                            and p.suffix.lower() in (".csv", ".parquet", ".pq")
                            and p.stem.lower() != "events")
            shown = shortlist(tables, 3)
            hint = (f"; found {', '.join(others)}{_NOT_READ}" if others
                    else f"; found {shown}: the observations are read only under the name "
                         "observations.csv (or .parquet, .pq)" if tables else "")
            raise InputError(
                f"no observations file: expected {', '.join(names[:-1])} or {names[-1]} in the "
                "data directory" + hint, file=str(data))
        if len(found) > 1:
            raise InputError(f"two observation files ({', '.join(p.name for p in found)}): "
                             "expected exactly one", file=str(data))
        obs, cat = found[0], data / "signals.toml"
        if not cat.is_file():
            others = _found(data, "signals")
            hint = (f"; found {', '.join(others)}, not read: the catalog is read only as "
                    "signals.toml, a TOML file" if others else "")
            raise InputError("no catalog: expected signals.toml in the data directory" + hint,
                             file=str(data))
        from forecast.loading import event_log_in
        events = event_log_in(data)
    from forecast.spec import spec_file

    spec_path = spec_file(spec)
    if scenario is not None and not Path(scenario).is_file():
        raise InputError("scenario file not found", file=str(scenario))
    return RunInputs(observations=obs, catalog=cat, events=events, spec_path=spec_path,
                     scenario=Path(scenario) if scenario is not None else None)


#: said after the files :func:`_found` names
_NOT_READ = ", not read: a CSV (UTF-8) or Parquet file is read under one of those names"


def _found(directory: Path, stem: str) -> list[str]:
    """The names ``stem.*`` in ``directory`` that were not read, each with what it is where
    that is not a file: a folder, or a link to nothing (which the directory's listing shows
    as a file of that name)."""
    def what(p: Path) -> str:
        if p.is_symlink() and not p.exists():
            return f"{p.name} (a link to nothing)"
        if p.is_dir():
            return f"{p.name} (a folder)"
        if p.suffix != p.suffix.lower() and p.suffix.lower() in (".csv", ".parquet", ".pq",
                                                                 ".toml"):
            return f"{p.name} (read only as {p.stem}{p.suffix.lower()}: rename it)"
        return p.name
    return sorted(what(p) for p in directory.glob(f"{stem}.*"))


def unobserved_origin(panel: Panel) -> str | None:
    """A warning when no monthly signal is observed in the panel's last month, the forecast
    origin (e.g. a run for a month whose data are not in yet); else ``None``.

    Examples
    --------
    >>> import forecast
    >>> unobserved_origin(forecast.load_default()) is None
    True
    """
    observed = panel.last_observed_month
    if observed is None or observed >= panel.last_month:
        return None
    last = panel.months.get_loc(pd.Period(observed, "M"))
    later = _coarse_values(panel, lambda start, stop: stop - 1 > last)
    if later:
        # --month {observed} would refuse those values (they lie after it): not the advice
        advice = (f"the months after it come from {later}: correct or remove it, or add the "
                  f"monthly data up to {panel.last_month}")
    else:
        advice = ("the run's month or the event log's end ([event_log] end) lies beyond the "
                  f"data; --month {observed} runs the last month with data")
    return (f"no monthly signal is observed after {observed}: the credibility of "
            f"{panel.last_month} is a forecast from earlier months, not a reading of new "
            f"data; {advice}")


#: months without a monthly signal at a panel's start before :func:`data_warnings` warns
EARLY_GAP_MONTHS = 24
#: at most this many monthly values cut off by such a gap are named as a likely typo
FEW_VALUES = 3


def unobserved_start(panel: Panel) -> str | None:
    """A warning when the panel begins more than :data:`EARLY_GAP_MONTHS` months before its
    first month with a monthly signal (e.g. an annual value typed 1899 for 1999, which
    stretches the grid by a century of months the fit must sample); else ``None``.

    Examples
    --------
    >>> import forecast
    >>> unobserved_start(forecast.load_default()) is None
    True
    """
    seen = panel.monthly_observed()
    if not seen.size or seen[0] <= EARLY_GAP_MONTHS:
        return None
    first = int(seen[0])
    earlier = _coarse_values(panel, lambda start, stop: start < first)
    return (f"the panel begins in {panel.months[0]}, {first} months before the first monthly "
            f"observation ({panel.months[first]}); the months before it come from {earlier}")


def _coarse_values(panel: Panel, reaches: Callable[[int, int], bool]) -> str:
    """The quarterly and annual values whose months (grid indices ``start`` to ``stop`` - 1)
    ``reaches`` accepts, named for a warning ("A01 milex_share_gdp 1899, … and 2 more (a
    mistyped period?)"); ``""`` for none."""
    found = [label for label, start, stop in _labelled_values(panel, monthly=False)
             if reaches(start, stop)]
    if not found:
        return ""
    return shortlist(found, 3, counted=True) + " (a mistyped period?)"


def _labelled_values(panel: Panel, monthly: bool,
                     counted: bool = True) -> list[tuple[str, int, int]]:
    """The observed values of the monthly signals (or of the quarterly and annual ones), each
    as ``(label, start, stop)``: "A01 milex_share_gdp 1899" and the grid indices of its first
    month and of the month after its last; ``counted=False`` leaves out the signals the
    catalog counts from the event log."""
    return [(f"{panel.allies[a]} {sig.name} {format_period(sig.periods[p])}",
             int(sig.month_start[p]), int(sig.month_stop[p]))
            for sig in panel.signals.values() if (sig.spec.frequency == "monthly") == monthly
            and (counted or not sig.spec.events)
            for a, p, _ in zip(*sig.long())]


def monthly_gap(panel: Panel) -> str | None:
    """A warning when more than :data:`EARLY_GAP_MONTHS` months in a row hold no monthly
    signal between months that do (e.g. a monthly value typed 2042-03 for 2024-03, which
    stretches the grid by 18 years of months the fit must sample); else ``None``. Where the
    side of the gap with fewer monthly values has at most :data:`FEW_VALUES`, it names them.

    Examples
    --------
    >>> import forecast
    >>> monthly_gap(forecast.load_default()) is None
    True
    """
    months = panel.monthly_observed()
    if months.size < 2:
        return None
    longest = int(np.argmax(np.diff(months)))
    before, after = months[longest], months[longest + 1]
    if after - before - 1 <= EARLY_GAP_MONTHS:
        return None
    values = _labelled_values(panel, monthly=True)
    early = [label for label, start, _ in values if start < after]
    late = [label for label, start, _ in values if start >= after]
    side, found = ("before", early) if len(early) < len(late) else ("after", late)
    gap = (f"no monthly signal is observed in the {after - before - 1} months "
           f"{panel.months[before + 1]} to {panel.months[after - 1]}, which the fit samples "
           "all the same")
    if len(found) > FEW_VALUES:  # a hole in the data, not a stray row
        return gap
    return f"{gap}; {side} them come only {', '.join(found)} (a mistyped period?)"


def current_month() -> pd.Period:
    """The month of the machine's clock, UTC: no value, and no run, can be of a later one.

    Examples
    --------
    >>> current_month().freqstr
    'M'
    """
    return pd.Timestamp.now(tz="UTC").tz_localize(None).to_period("M")


def check_not_ahead(month: str, today: "pd.Period | None" = None, *,
                    data: "Path | None" = None, catalog: "Path | None" = None,
                    panel: Panel | None = None, said_above: bool = False) -> None:
    """Refuse a run's month after the current month (``today``, by default
    :func:`current_month`): its signals cannot be in yet, and the run would be published
    under that month (e.g. 2062-03 typed for 2026-03: 36 years of empty months fitted).
    ``data``: the month is the last of the data in that file (no ``--month`` given), and the
    error is said of it, naming the values dated after today in ``panel``
    (:func:`future_values`), or, with ``said_above``, saying that a warning printed before it
    named them (``forecast validate``); where no value is after today but the catalog's
    ``[event_log] end`` is, the error is said of the ``catalog`` file and of that key. The
    current month is allowed (a run on its first day, UTC).

    Examples
    --------
    >>> check_not_ahead("2026-03")
    >>> check_not_ahead("2062-03", today=pd.Period("2026-12", "M"))
    Traceback (most recent call last):
    ...
    forecast.errors.InputError: parameter 'month', value '2062-03': after the current month, 2026-12 (this machine's clock, UTC): a run's month is one whose signals are in (a mistyped year?)
    """
    today = current_month() if today is None else today
    if pd.Period(month, "M") <= today:
        return
    if data is None:
        raise InputError(f"after the current month, {today} (this machine's clock, UTC): a "
                         "run's month is one whose signals are in (a mistyped year?)",
                         parameter="month", value=month)
    found, log_end = _after(panel, today) if panel is not None else ([], None)
    lead = (f"the data run to {month}, after the current month, {today} (this machine's "
            "clock, UTC), and a run's month is the data's last: ")
    if log_end is not None and not found:
        said = (_log_after(log_end, today, str(today))
                + "; expected the last month the log is complete to")
        if catalog is not None:
            raise InputError(lead + said, file=str(catalog), column="event_log.end",
                             value=log_end)
        raise InputError(lead + said, file=str(data))
    said = (_dated_after(found, str(today)) if found and not said_above else
            "a value dated in the future (a mistyped period? "
            + ("the warning above names it)" if said_above else "`forecast validate` names it)"))
    raise InputError(lead + said, file=str(data))


def _after(panel: Panel, today: pd.Period) -> tuple[list[str], str | None]:
    """The labels of ``panel``'s values dated after ``today`` (the event log's counts aside),
    and the catalog's ``[event_log] end`` where it is after ``today``, else ``None``."""
    first = today.ordinal - panel.months[0].ordinal + 1  # the grid index of next month
    if first >= panel.n_months:
        return [], None
    # a count from the event log is the log's, not a value typed: its span is said apart
    found = [label for monthly in (True, False) for label, start, _ in
             _labelled_values(panel, monthly, counted=False) if start >= first]
    end = panel.catalog.event_log_end
    return found, (end if end is not None and pd.Period(end, "M") > today else None)


def _dated_after(found: list[str], when: str) -> str:
    return (f"{len(found)} value{'s are' if len(found) > 1 else ' is'} dated after {when}: "
            f"{shortlist(found, 3, counted=True)} (a mistyped period?)")


def _log_after(end: str, today: pd.Period, when: str) -> str:
    return (f"the catalog's [event_log] end, {end}, is after {when}: its months from "
            f"{today + 1} count as months without events")


def future_values(panel: Panel, today: "pd.Period | None" = None) -> str | None:
    """A warning naming the values dated after the current month (``today``, by default the
    month of the machine's clock, UTC), which no one can have observed yet (e.g. 2027-06
    typed for 2026-06: the grid, and the forecast's origin, then run to it), or an event log
    whose ``[event_log] end`` is after it; else ``None``.

    Examples
    --------
    >>> import forecast
    >>> future_values(forecast.load_default()) is None
    True
    >>> future_values(forecast.load_default(), today=pd.Period("2026-02", "M")).split(":")[0]
    "the catalog's [event_log] end, 2026-03, is after the current month, 2026-02"
    """
    today = current_month() if today is None else today
    found, log_end = _after(panel, today)
    if not found and log_end is None:
        return None
    when = f"the current month, {today}"
    said = ([_dated_after(found, when)] if found else []) + (
        [_log_after(log_end, today, when)] if log_end is not None else [])
    return (f"{'; '.join(said)}; the panel runs to {panel.months[-1]}, no one can have "
            "observed them yet")


def allies_without(panel: Panel) -> str | None:
    """A warning naming the allies with no outcome rows or no indicator rows, whose hedging
    or credibility then no data (or few) measure; else ``None``.

    Examples
    --------
    >>> import forecast
    >>> allies_without(forecast.load_default()) is None
    True
    """
    def lacking(signals) -> list[str]:
        seen = np.zeros(panel.n_allies, dtype=bool)
        for sig in signals:
            seen |= sig.mask.any(axis=1)
        return [panel.allies[a] for a in np.flatnonzero(~seen)]

    parts = []
    if no_outcome := lacking([panel.outcome]):
        parts.append(f"{', '.join(no_outcome)} {'has' if len(no_outcome) == 1 else 'have'} no "
                     f"{panel.outcome.name} (outcome) rows: no data measure that hedging, so "
                     "its forecast rests on the priors and, where the spec pools, on the other "
                     "allies")
    no_indicator = lacking(panel.indicators)
    for allies, informs in (([a for a in no_indicator if a not in no_outcome],
                             f"only {panel.outcome.name} rows and drivers, where there are any,"),
                            ([a for a in no_indicator if a in no_outcome],
                             "only drivers, where there are any,")):
        if allies:
            parts.append(f"{', '.join(allies)} {'has' if len(allies) == 1 else 'have'} no "
                         f"indicator rows: {informs} inform that credibility")
    return "; ".join(parts) or None


#: months of the event log's counts before an ally's first other data that are warned of
LATE_ENTRY_MONTHS = 12


def _counted(panel: Panel) -> list:
    """The panel's signals counted from the event log."""
    return [s for s in panel.signals.values() if s.spec.events]


def _log_start(counted: list, a: int, logged: bool = False) -> int | None:
    """The grid index of the first month the event log counts ally ``a`` in (``logged``: the
    first with an event logged), or ``None``."""
    seen = [s.mask[a] & (s.values[a] > 0) if logged else s.mask[a] for s in counted]
    starts = [int(s.month_start[m].min()) for s, m in zip(counted, seen) if m.any()]
    return min(starts) if starts else None


def late_entry(panel: Panel) -> str | None:
    """A warning naming the allies whose first data come more than :data:`LATE_ENTRY_MONTHS`
    months after the event log began to count them: an ally that joined late is read as one
    with no event in all the months before (``[event_log.ally_start]`` says when the log
    covers it from); else ``None``.

    Examples
    --------
    >>> import forecast
    >>> late_entry(forecast.load_default()) is None
    True
    """
    counted = _counted(panel)
    first = panel.first_data_months()
    late = []
    for a, ally in enumerate(panel.allies):
        if first[ally] is None or (logged := _log_start(counted, a)) is None:
            continue
        start = panel.months.get_loc(pd.Period(first[ally], "M"))
        if start - logged > LATE_ENTRY_MONTHS:
            late.append((ally, logged, start))
    if not late:
        return None
    month = lambda i: str(panel.months[i])  # noqa: E731 - a grid index as YYYY-MM
    said = "; ".join(f"{ally}'s first other data are of {month(first)}, the log counts it "
                     f"from {month(logged)}" for ally, logged, first in late)
    ally, _, first = late[0]
    fix = (f'[event_log] start = "{month(min(f for _, _, f in late))}", the log\'s own start, '
           "if it was not complete before" if len(late) == panel.n_allies else
           f'[event_log.ally_start] {ally} = "{month(first)}"')
    return (f"{said}: the event log's counts ({', '.join(s.name for s in counted)}) are read as "
            "observed, 0 where nothing was logged, in every month before. If the log did not "
            "cover an ally then (one that joined later), say from when it does in the catalog, "
            f"e.g. {fix}")


def log_ends_early(panel: Panel) -> str | None:
    """A warning where the other monthly data run past the catalog's ``[event_log] end``: the
    log's counts after it are read as not observed, not as months without events, so a month
    whose log was not moved on (docs/monthly-run.md: move ``end`` with each month) loses its
    counts without a word; else ``None``.

    Examples
    --------
    >>> import forecast
    >>> log_ends_early(forecast.load_default()) is None
    True
    """
    counted, end = _counted(panel), panel.catalog.event_log_end
    if not counted or end is None:
        return None
    seen = [int(s.month_start[s.mask.any(axis=0)].max()) for s in panel.signals.values()
            if s.spec.frequency == "monthly" and not s.spec.events and s.mask.any()]
    if not seen or (last := panel.months[max(seen)]) <= pd.Period(end, "M"):
        return None
    after = pd.Period(end, "M") + 1
    span = str(after) if after == last else f"{after} to {last}"
    return (f"the catalog's [event_log] end, {end}, is before {last}, the last month of the "
            f"other monthly data: the log's counts ({', '.join(s.name for s in counted)}) of "
            f"{span} are read as not observed, not as months without events; if the log is "
            f'complete to {last}, set [event_log] end = "{last}"')


def log_only(panel: Panel) -> str | None:
    """A warning naming the allies with no data but the event log's counts: the log reads
    each as observed, 0 where nothing was logged, in every month it covers, so an ally added
    to the catalog with a few events gets years of months without one; else ``None``.
    (:func:`late_entry` warns of an ally whose other data begin late.)

    Examples
    --------
    >>> import forecast
    >>> log_only(forecast.load_default()) is None
    True
    """
    counted = _counted(panel)
    first = panel.first_data_months()
    only = []  # (ally, the month the log counts it from, its first event's month)
    for a, ally in enumerate(panel.allies):
        if first[ally] is not None or (logged := _log_start(counted, a)) is None:
            continue
        # an ally with no row at all is refused on loading: this one has an event
        only.append((ally, panel.months[logged],
                     panel.months[_log_start(counted, a, logged=True)]))
    if not only:
        return None
    said = "; ".join(f"{ally} (counted from {logged}, its first event of {event})"
                     for ally, logged, event in only)
    return (f"{said}: no data but the event log's counts "
            f"({', '.join(s.name for s in counted)}), read as observed, 0 where nothing was "
            "logged, in every month the log covers, and no other data measure "
            f"{'its' if len(only) == 1 else 'their'} credibility: add "
            f"{'its' if len(only) == 1 else 'their'} other signals' rows, or leave "
            f"{'it' if len(only) == 1 else 'them'} out of [allies] (where the log did not "
            "cover an ally from its start, [event_log.ally_start] says from when it does)")


def data_warnings(panel: Panel, origin: bool = True) -> list[str]:
    """What the validate stage warns of in data it accepts: a panel whose last months or first
    months hold no monthly signal (:func:`unobserved_origin`, :func:`unobserved_start`), or
    with years of months between that hold none (:func:`monthly_gap`); values dated after the
    current month (:func:`future_values`); allies without outcome
    or indicator rows (:func:`allies_without`), or whose data begin long after the event log
    counts them (:func:`late_entry`), or who have no data but its counts (:func:`log_only`);
    an event log that ends before the other monthly data (:func:`log_ends_early`).
    ``origin=False`` leaves out the first, which
    the manifest records as ``data.last_observed_month``.

    Examples
    --------
    >>> import forecast
    >>> data_warnings(forecast.load_default())
    []
    """
    return [w for w in (unobserved_origin(panel) if origin else None, unobserved_start(panel),
                        monthly_gap(panel), future_values(panel), allies_without(panel),
                        late_entry(panel), log_only(panel), log_ends_early(panel)) if w]


def load_inputs(inputs: RunInputs, month: str | None = None,
                spec: "ModelSpec | None" = None,
                notes: list[str] | None = None) -> "tuple[Panel, Design]":
    """Validate and load the data of a run (the ``validate`` stage), and check that the run's
    spec can be fitted to them: a signal the spec uses must have observations, and the
    outcome must have some after the panel's first month
    (:func:`forecast.design.make_design` says which).

    ``month`` given: data after it are an error and the grid ends there; a month after the
    current one is an error (:func:`check_not_ahead`). ``None``: the grid ends at the data's
    last month. ``spec``: the run's spec where the caller has read it
    already; ``None`` reads ``inputs.spec_path``. ``notes``: a list that the loader's
    :class:`~forecast.errors.DataWarning` texts are appended to, for the caller to show,
    instead of being issued.

    Returns the panel and its design under the spec.

    Examples
    --------
    >>> panel, design = load_inputs(resolve_inputs(None))
    >>> panel.n_allies, panel.last_month, design.n_periods == panel.n_months
    (4, '2026-03', True)
    """
    from forecast.design import make_design
    from forecast.loading import load_panel
    from forecast.spec import load_spec

    if month is not None:
        check_month(month)
        check_not_ahead(month)
    spec = load_spec(inputs.spec_path) if spec is None else spec
    # no log in the directory: events=False, since _check_counted_without_a_log says so
    # naming the directory, and only where the spec uses such a signal
    with _noting(notes), warnings.catch_warnings():
        # said by unobserved_origin, with the command line's advice
        warnings.simplefilter("ignore", UnobservedEndWarning)
        panel = load_panel(inputs.observations, catalog=inputs.catalog,
                           events=inputs.events if inputs.events is not None else False,
                           until=month)
    if inputs.events is None:
        _check_counted_without_a_log(panel, inputs, spec)
    try:
        return panel, make_design(panel, spec)
    except SpecError as exc:
        raise _in_the_files(exc, panel, inputs, month) from None


@contextmanager
def _noting(notes: list[str] | None) -> Iterator[None]:
    """Within: :class:`~forecast.errors.DataWarning` texts appended to ``notes`` (each once),
    not shown; other warnings shown as they would be (their filters and registries apply
    before the display, which alone is replaced). ``None``: nothing caught."""
    if notes is None:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("always", DataWarning)
        show = warnings.showwarning

        def noted(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, DataWarning):
                show(message, category, filename, lineno, file, line)
            elif str(message) not in notes:
                notes.append(str(message))
        warnings.showwarning = noted
        yield


def _in_the_files(exc: SpecError, panel: Panel, inputs: RunInputs,
                  month: str | None) -> SpecError:
    """A signal the spec needs and the panel lacks (:func:`forecast.design.make_design`'s "has
    no observations"), said of the run's files: the months read, and what to change, in the
    observations or the catalog. A setting of the spec the catalog does not answer (a drift
    asked of a signal it lacks) is said of the spec's file, naming the catalog. Any other
    error is returned as it is. (A signal counted from an event log given has a count, if 0,
    in every month the log covers.)"""
    if exc.key is not None and exc.file is None and inputs.spec_path is not None:
        return SpecError(f"{exc.reason} (the catalog read: {inputs.catalog})",
                         file=str(inputs.spec_path), column=exc.key, value=exc.value)
    name = exc.value
    if (exc.file is not None or exc.column != "signal" or not isinstance(name, str)
            or name not in panel.catalog.signals or "has no observations" not in exc.reason):
        return exc
    signal = panel.catalog.signals[name]
    read = (f"{panel.months[0]} to {panel.months[-1]}"
            + (" (the data up to --month)" if month else ""))
    if signal.role == "outcome":
        return SpecError(f"the outcome {name!r} has no observations after the first month of "
                         f"those read, {read} (hedging responds to the month before): expected "
                         "its rows in the observations", file=str(inputs.observations),
                         column="signal", value=name)
    return SpecError(f"{signal.role} {name!r} has no observations in the months read, {read}: "
                     f"expected its rows in the observations, or the signal taken out of "
                     f"{inputs.catalog.name}", file=str(inputs.observations), column="signal",
                     value=name)


def _check_counted_without_a_log(panel: Panel, inputs: RunInputs, spec: "ModelSpec") -> None:
    """The data directory has no event log: a signal the spec uses that the catalog counts
    from events, with no row in the observations either, means the log was left out. Said
    here, naming the directory, instead of "no observations in this panel" and a Python
    call. (A spec without drivers does not use them.)"""
    empty = [s for s in panel.catalog.signals.values()
             if s.events and not panel.signals[s.name].mask.any()
             and (spec.drivers or s.role != "driver")]
    if not empty:
        return
    first = empty[0]
    # a log under a name not read (events.xlsx, a folder or a dead link named events.csv)
    others = _found(inputs.observations.parent, "events")
    raise InputError(
        f"{inputs.catalog.name} counts signal {first.name!r} from an event log (event types "
        f"{', '.join(first.events)}), but the data directory has no events.csv (or .parquet, "
        ".pq) and the observations have no row of it: expected the event log there"
        + (f"; found {', '.join(others)}{_NOT_READ}" if others else "")
        + (f"; also counted from events: {', '.join(s.name for s in empty[1:])}"
           if len(empty) > 1 else ""),
        file=str(inputs.observations.parent), column="signal", value=first.name)


# ---------------------------------------------------------------------- the pipeline
def run_month(request: RunRequest, progress: Progress | None = None, *,
              fitter: Callable[..., "Fit"] | None = None) -> RunOutcome:
    """Run one month: validate → fit → forecast → report → publish.

    A nutpie fit refused on R-hat alone, at most
    :data:`~forecast.diagnostics.RUN_ON_BELOW_RHAT`, has its chains run on to twice the draws
    (same seed), and the whole gate is applied again (:func:`forecast.diagnostics.runs_on`;
    the manifest's and diagnostics' ``run_on`` record it). With ``force``, what is published
    is then the longer fit, whatever it fails.

    Parameters
    ----------
    request
        What to run.
    progress
        Where stages are reported (default: nowhere).
    fitter
        Replaces :func:`forecast.fit` (same signature); for tests that need a real
        :class:`~forecast.Fit` without sampling, e.g. :func:`forecast.forecasting.oracle_fit`.

    Returns
    -------
    RunOutcome
        ``published``, ``unchanged`` or ``not_converged``.

    Raises
    ------
    InputError
        Invalid data, catalog, spec, scenario or option (exit code 2 in the CLI).
    forecast.runs.RegistryBusy
        The registry stayed locked by another run.
    KeyboardInterrupt
        Ctrl-C before publication (nothing was published). One that comes after the rename
        that published the run returns the ``published`` outcome instead, which says so.
    """
    finalized: dict = {}
    try:
        return _run_month(request, progress, fitter, finalized)
    except KeyboardInterrupt:
        run = _published_by(finalized)
        if run is None:
            raise
        return RunOutcome("published", run.month, run=run, message=(
            f"{run.month}: published {run.path} (interrupted after its publication)"))


def _published_by(finalized: dict) -> PublishedRun | None:
    """The run this process published, if it was: ``finalized`` holds the path it was to be
    renamed to and its manifest's hash, written by the ``finalize`` step just before."""
    if not finalized:
        return None
    manifest = finalized["path"] / "manifest.json"
    if not manifest.is_file() or sha256_file(manifest) != finalized["manifest"]:
        return None  # not renamed: the staging directory was removed, nothing published
    return PublishedRun.read(finalized["path"])


def _run_month(request: RunRequest, progress: Progress | None,
               fitter: Callable[..., "Fit"] | None, finalized: dict) -> RunOutcome:
    """:func:`run_month`'s work; ``finalize`` records in ``finalized`` what it publishes."""
    import forecast
    from forecast.spec import load_spec

    progress = progress or NullProgress()
    timings: dict[str, float] = {}
    started = datetime.now(timezone.utc)
    t_start = time.perf_counter()

    with _timed(progress, timings, "validate"):
        inputs = resolve_inputs(request.data, request.spec, request.scenario)
        read = _fingerprint(inputs)  # what is about to be read
        spec = load_spec(inputs.spec_path)
        notes: list[str] = []  # what the loader warns of, said and recorded below
        panel, design = load_inputs(inputs, request.month, spec, notes)
        month = request.month or panel.last_month
        if request.month is None:  # a value dated in the future: warned of, not published
            check_not_ahead(month, data=inputs.observations, catalog=inputs.catalog,
                            panel=panel)
        scenario_obj = _read_scenario(inputs.scenario) if inputs.scenario else None
        from forecast.forecasting import check_horizon
        from forecast.inference import check_sampler

        check_horizon(request.horizon)
        check_sampler(request.sampler)
        sampling, preset = request.sampler_settings()
        if not request.force:
            _check_can_converge(request.sampler, sampling["chains"])
        if scenario_obj is not None:
            # its allies, drivers, months and values against what the fit will have: a bad
            # row is found now, not after minutes of sampling
            scenario_obj.resolve_for(design, panel.catalog, request.horizon)
        check_seed(request.seed, MAX_SEED)
        seed = request.seed if request.seed is not None else int(month.replace("-", ""))
        settings = RunSettings(month=month, spec_name=spec.name, spec_hash=spec.hash(),
                               seed=seed, sampler=request.sampler, horizon=request.horizon,
                               preset=preset, **sampling)
        files = _fingerprint(inputs)
        if changed := [role for role in files if files[role].sha256 != read[role].sha256]:
            # the manifest's hashes must be those of the data that were fitted
            raise InputError(f"the {changed[0]} file changed while the run read it (saved by "
                             "another program?): expected it unchanged; rerun once it is "
                             "written", file=str(files[changed[0]].path))
        key = input_key(files, settings, forecast.__version__,
                        computing_versions(request.sampler))

    registry = Registry(request.out)
    same = registry.find_identical(month, key)
    if same is not None:
        return RunOutcome("unchanged", month, run=same, message=(
            f"{month}: identical inputs already published as {same.path}"
            f"{_marked(same.caveats)}; nothing to do"))
    registry.check_free(month)

    previous = registry.previous(month, like=settings.to_dict())
    # read and checked now: a baseline's table that cannot be compared with is said as a
    # caveat of it, not found after minutes of sampling
    previous_tables, unusable = read_previous(previous, within=warning_within(settings.horizon))
    previous_caveats = [*_baseline_caveats(previous, settings), *unusable]
    previous_gap = registry.gap(month, previous)
    with registry.staging(month) as stage_dir, _run_log(stage_dir / "run.log") as log:
        log.info("forecast %s run for %s: %s", forecast.__version__, month,
                 json.dumps(settings.to_dict()))
        for role, f in files.items():
            log.info("input %s: %s sha256=%s", role, f.path, f.sha256)
        log.info("validated %d allies x %d months (%s to %s)", panel.n_allies, panel.n_months,
                 panel.months[0], panel.months[-1])
        # the panel ends at the run's month; the manifest records the warnings but the
        # origin's, which is its data.last_observed_month
        recorded = [*notes, *data_warnings(panel, origin=False)]
        for warning in [w for w in (unobserved_origin(panel), *recorded) if w]:
            log.warning(warning)
            progress.warning(warning)
        if previous is not None:
            log.info("previous published run: %s%s%s", previous.path, _marked(previous_caveats),
                     f"; {previous_gap}" if previous_gap else "")

        def sample(sizes: dict[str, int], stage: str) -> "Fit":
            with _timed(progress, timings, stage,
                        f"{sizes['chains']} chains × {sizes['draws']} draws "
                        f"({request.sampler}, {preset})", log), _logged_warnings(log):
                log.info("%s started: %s", stage, json.dumps(sizes))
                fitted = (fitter or forecast.fit)(
                    panel, spec, seed=seed, sampler=request.sampler,
                    progress=progress.sampler_progress, warn=False, **sizes)
            if fitter is None:
                _check_complete(fitted, sizes, request.sampler, log)
            timings.update({f"{stage}_{k}": v for k, v in fitted.timings.items()})
            return fitted

        result = sample(sampling, "fit")
        diag = result.diagnostics()
        run_on = None
        if preset != "quick" and request.sampler in RUN_ON_SAMPLERS and runs_on(diag):
            longer = {**sampling, "draws": 2 * sampling["draws"]}
            note = (f"{'; '.join(diag.failures)}, every other check passed: running the same "
                    f"{longer['chains']} chains on to {longer['draws']} draws")
            log.info("diagnostics: %s", note)
            progress.note(note)
            first_draws = result.posterior["credibility"].values
            del result  # the first posterior is not held beside one twice its size
            result = sample(longer, "fit_longer")
            run_on = {"first_draws": sampling["draws"], "draws": longer["draws"],
                      "first_failures": diag.failures,
                      "first_diagnostics": _diagnostics_dict(diag, table=False),
                      "same_chains": _continues(first_draws, result)}
            log.info("ran on: %s", "the same chains, continued" if run_on["same_chains"] else
                     "new chains: the longer fit's first draws are not the first fit's")
            diag = result.diagnostics()
        _write_json(stage_dir / "diagnostics.json",
                    {**_diagnostics_dict(diag), **({"run_on": run_on} if run_on else {})})
        log.info("diagnostics: %s", "converged" if diag.converged
                 else "NOT converged: " + "; ".join(diag.failures))
        if not diag.converged and not request.force:
            ran_on = f" after its chains ran on to {run_on['draws']} draws" if run_on else ""
            # a quick preset's few draws seldom pass the gate: more of them is not its remedy
            fix = ("a --quick run is a smoke test of too few draws to pass the gate: rerun with "
                   "--force to publish it marked as not converged, or without --quick"
                   if preset == "quick" else "Rerun with more --draws/--tune, or --force to "
                   "publish it marked as not converged")
            msg = (f"{month}: the fit did not converge{ran_on} ({'; '.join(diag.failures)}); not "
                   f"published. {fix[0].upper()}{fix[1:]}")
            log.warning(msg)
            try:
                kept = f"diagnostics and log kept in {registry.keep_failed(stage_dir, KEPT)}"
            except OSError as exc:  # a full disk must not turn the refusal into a traceback
                kept = f"diagnostics and log could not be kept: {exc}"
            return RunOutcome("not_converged", month, diagnostics=diag, timings=timings,
                              message=f"{msg} ({kept})")

        with _timed(progress, timings, "forecast", f"{request.horizon} months ahead", log), \
                _logged_warnings(log):
            tables = forecast_tables(result, panel, horizon=request.horizon, seed=seed,
                                     previous=previous_tables, scenario=scenario_obj)
        with _timed(progress, timings, "save", "", log):
            for name, frame in tables.items():
                frame.to_csv(stage_dir / f"{name}.csv", index=False, float_format="%.6g")
            result.save(stage_dir / "posterior.nc")

        manifest = _manifest(request, settings, files, key, diag, previous, previous_caveats,
                             started, panel, recorded, timings, run_on, scenario_obj,
                             previous_gap=previous_gap)
        predicted = registry.next_revision(month)
        _write_manifest(stage_dir, manifest, predicted, registry, month, timings, t_start)
        with _timed(progress, timings, "report", "", log):
            _render(stage_dir)

        def finalize(staged: Path, revision: int) -> None:
            _write_manifest(staged, manifest, revision, registry, month, timings, t_start)
            if revision != predicted:
                _render(staged)
            log.info("publishing as %s", registry.path_for(month, revision))
            # the log's last line: a published run's files are never written again, and an
            # interrupt after the rename must not add "run stopped" to them
            _detach(log)
            finalized.update(path=registry.path_for(month, revision),
                             manifest=sha256_file(staged / "manifest.json"))

        with _timed(progress, timings, "publish"):
            publication: Publication = registry.publish(stage_dir, month, key, finalize)
        if not publication.published:
            return RunOutcome("unchanged", month, run=publication.run, diagnostics=diag,
                              timings=timings, message=(
                                  f"{month}: identical inputs were published meanwhile as "
                                  f"{publication.run.path}"
                                  f"{_marked(publication.run.caveats)}; "
                                  "nothing to do"))
    run = publication.run
    forced = " (FORCED: did not converge)" if not diag.converged else ""
    quick = f" ({preset} preset)" if preset != "default" else ""
    ran_on = (f" ({'chains run on' if run_on['same_chains'] else 'refitted with new chains'} "
              f"to {run_on['draws']} draws after {'; '.join(run_on['first_failures'])} at "
              f"{run_on['first_draws']})" if run_on else "")
    return RunOutcome("published", month, run=run, diagnostics=diag, timings=timings,
                      message=f"{month}: published {run.path}{forced}{quick}{ran_on}")


def _check_can_converge(sampler: str, chains: int) -> None:
    """Refuse, before the fit, a run the convergence checks refuse whatever it draws (it fitted
    for minutes, then exited 3 advising more draws, which cannot help): an approximate
    preview, or a single chain (R-hat compares chains). ``--force`` publishes either."""
    from forecast.inference import APPROXIMATE_SAMPLERS

    if sampler in APPROXIMATE_SAMPLERS:
        raise InputError(f"the {sampler} sampler is an approximate preview, which never passes "
                         "the convergence checks: expected --force to publish it marked as not "
                         "converged, or an MCMC sampler", parameter="sampler", value=sampler)
    if chains < 2:
        raise InputError("R-hat compares chains, so a fit of one chain never passes the "
                         "convergence checks: expected --chains 2 or more, or --force to "
                         "publish it marked as not converged", parameter="chains", value=chains)


def _fingerprint(inputs: RunInputs) -> dict[str, InputFile]:
    """:func:`~forecast.manifest.fingerprint` of a run's inputs; a file that cannot be read
    is invalid input naming it (exit 2), as the loader says of it."""
    try:
        return fingerprint(inputs.files())
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}",
                         file=str(exc.filename or inputs.observations)) from None


def _baseline_caveats(previous: PublishedRun | None, settings: RunSettings) -> list[str]:
    """What makes ``previous`` a poor baseline for a run with ``settings``: forced, quick,
    or made otherwise (another spec or sampler, fewer draws)."""
    if previous is None:
        return []
    return [*previous.caveats, *previous.differences(settings.to_dict())]


#: What a refused run keeps in the registry's ``.failed`` folder.
KEPT = ("diagnostics.json", "run.log")


def _marked(caveats: list[str]) -> str:
    """A run's caveats in brackets after its path, or nothing: what a no-op must not hide
    about the run it points to (forced past the convergence gate, a quick smoke test: a rerun
    without ``--force`` exits 0 on it), and what makes a baseline a poor one."""
    return f" ({', '.join(caveats)})" if caveats else ""


def _continues(a: np.ndarray, longer: "Fit") -> bool:
    """Whether the longer fit's first draws of the latent are ``a``: the same chains, run on."""
    b = longer.posterior["credibility"].values
    return b.shape[1] >= a.shape[1] and np.array_equal(a, b[:, :a.shape[1]])


def _check_complete(result, sampling: dict[str, int], sampler: str,
                    log: logging.Logger) -> None:
    """Refuse a posterior with fewer draws than asked for.

    nutpie answers Ctrl-C by returning the draws it has so far; such a posterior must never
    be published, so the run stops as interrupted instead. (ADVI draws as many from any
    approximation: :func:`forecast.inference.sample_model` refuses one stopped early.)
    """
    if sampler == "advi":
        return
    sizes = result.posterior.sizes
    got = (int(sizes.get("chain", 0)), int(sizes.get("draw", 0)))
    want = (sampling["chains"], sampling["draws"])
    if got != want:
        log.error("sampling stopped early: %d chains x %d draws of %d x %d", *got, *want)
        raise KeyboardInterrupt(f"sampling stopped early ({got[0]} chains × {got[1]} draws of "
                                f"{want[0]} × {want[1]})")


def _read_scenario(path: Path):
    from forecast.scenarios import read_scenario

    return read_scenario(path)


def _render(run_dir: Path) -> None:
    from forecast.report import write_report

    write_report(run_dir)


# ---------------------------------------------------------------------- forecast tables
def forecast_tables(result, panel: Panel, *, horizon: int, seed: int,
                    previous: dict[str, pd.DataFrame] | None = None,
                    scenario=None) -> dict[str, pd.DataFrame]:
    """Every table a run directory holds, from a fit.

    ``previous`` holds the previous published run's tables, as :func:`read_previous` gives
    them: the change since that run is computed from them.

    Returns
    -------
    dict
        ``forecast``, ``credibility``, ``headline``, ``attribution``, ``early_warnings``,
        ``coverage``, ``outcome``; ``hedging_level`` where the spec walks hedging's level
        (:meth:`forecast.results.Fit.hedging_level`); with a scenario, ``scenario`` and
        ``scenario_overrides``.
    """
    from forecast.attribution import attribution

    fc = result.forecast(horizon=horizon, seed=seed)
    hedging = fc.hedging(warn=False)  # the report leaves such a mean out and says so
    cumulative = fc.cumulative()
    forecast_table = hedging.merge(cumulative, on=["ally", "horizon"], how="left")
    credibility = credibility_path(result, fc.credibility())
    prev_tables = previous or {}
    warnings_table = fc.early_warning(threshold=WARNING_THRESHOLD,
                                      within=warning_within(horizon),
                                      previous=prev_tables.get("forecast"))
    tables = {
        "forecast": forecast_table,
        "credibility": credibility,
        "headline": headline(result, credibility, forecast_table, prev_tables),
        "attribution": attribution(result),
        "early_warnings": warnings_table,
        "coverage": coverage_by_year(panel),
        "outcome": outcome_history(panel),
    }
    # the spec walks hedging's level (decision 0032); within one year it is 1 by construction
    if result.posterior.sizes.get("year", 0) > 1 and "outcome_drift" in result.posterior:
        tables["hedging_level"] = result.hedging_level()
    if scenario is not None:
        from forecast.scenarios import compare

        alt = result.forecast(horizon=horizon, scenario=scenario, seed=seed)
        tables["scenario"] = compare(fc, alt)
        tables["scenario_overrides"] = scenario.table()
    return tables


def credibility_path(result, forecast_credibility: pd.DataFrame) -> pd.DataFrame:
    """Fitted credibility (horizon 0) followed by its forecast (horizon 1…h).

    Columns ``ally, period, horizon, mean, sd, q05, q25, q50, q75, q95``.
    """
    from forecast.results import interval_table

    fitted = interval_table(result.posterior["credibility"], ("chain", "draw"), QUANTILES)
    fitted.insert(2, "horizon", 0)
    cols = ["ally", "period", "horizon", "mean", "sd", *QUANTILES]
    ahead = forecast_credibility.reindex(columns=cols)
    out = pd.concat([fitted[cols], ahead], ignore_index=True)
    out["period"] = out["period"].astype(str)
    return out


def headline(result, credibility: pd.DataFrame, forecast_table: pd.DataFrame,
             previous: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per ally: where credibility stands, how it moved, how likely hedging is.

    Columns: ``ally, name, period, credibility, credibility_q05, credibility_q95,
    credibility_change, p_up, trend, p_any_1, p_any_3, p_any_12`` and, against the previous
    published run, ``previous_period, p_rose, p_any_3_change``. ``trend`` is ``up``/``down``
    when the posterior probability that credibility rose over the last :data:`TREND_MONTHS`
    months (``p_up``) is at least :data:`TREND_PROB` / at most ``1 - TREND_PROB``, else
    ``flat``. ``p_rose`` is this fit's posterior probability that credibility now is above its
    level in ``previous_period``: what tells a change since the previous run from the
    posterior's noise (NaN where there is no previous run, or its month is this one, a
    revision of the same month, or outside the fit).
    """
    post = result.posterior["credibility"]
    allies = [str(a) for a in post["ally"].values]
    periods = [str(p) for p in post["period"].values]
    draws = post.transpose("chain", "draw", "ally", "period").values
    draws = draws.reshape(-1, len(allies), len(periods))
    back = min(TREND_MONTHS, len(periods) - 1)
    p_up = (draws[:, :, -1] > draws[:, :, -1 - back]).mean(axis=0) if back > 0 \
        else np.full(len(allies), 0.5)
    now = credibility[(credibility["horizon"] == 0) & (credibility["period"] == periods[-1])]
    now = now.set_index("ally")
    names = result.panel.catalog.allies
    within = forecast_table.pivot_table(index="ally", columns="horizon",
                                        values="p_any_within", aggfunc="first")
    rows = []
    prev_now = _previous_now(previous)
    for i, ally in enumerate(allies):
        row = {
            "ally": ally,
            "name": names.get(ally, ally),
            "period": periods[-1],
            "credibility": float(now.loc[ally, "mean"]),
            "credibility_q05": float(now.loc[ally, "q05"]),
            "credibility_q95": float(now.loc[ally, "q95"]),
            "p_up": float(p_up[i]),
            "trend": direction(p_up[i]),
        }
        for h in HEADLINE_HORIZONS:
            row[f"p_any_{h}"] = float(within.loc[ally, h]) \
                if ally in within.index and h in within.columns else math.nan
        prev = prev_now.get(ally)
        row["previous_period"] = prev["period"] if prev else None
        then = periods.index(prev["period"]) if prev and prev["period"] in periods else None
        row["p_rose"] = float((draws[:, i, -1] > draws[:, i, then]).mean()) \
            if then is not None and then < len(periods) - 1 else math.nan
        row["credibility_change"] = row["credibility"] - prev["credibility"] if prev else math.nan
        row["p_any_3_change"] = row["p_any_3"] - prev["p_any_3"] \
            if prev and prev.get("p_any_3") is not None else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def warning_within(horizon: int) -> int:
    """The early warning's window: :data:`WARNING_WITHIN` months, or the horizon if shorter."""
    return min(WARNING_WITHIN, horizon)


def read_previous(previous: PublishedRun | None,
                  within: int) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The previous run's tables that the change since it is computed from, each checked.

    ``headline`` gives each ally's credibility and p_any_3 there; ``forecast`` its
    probability of hedging within ``within`` months, which the early warnings show beside
    this run's. A table that is missing, damaged, not as that run wrote it (another SHA-256
    than its manifest records, or none) or made otherwise (a run published with
    ``--horizon 2`` has no row at 3 months) is left out, and said in the second value: a
    caveat of the baseline, what the report then does not show. The monthly run reads them
    before the fit, so nothing is found wrong after minutes of sampling.

    Examples
    --------
    >>> read_previous(None, within=3)
    ({}, [])
    """
    from forecast.runfiles import altered_outputs, unlisted_outputs

    if previous is None:
        return {}, []
    checks = {"headline": (_check_previous_headline, "no change in credibility or in p_any_3"),
              "forecast": (lambda frame: _check_previous_forecast(frame, within),
                           "no previous probability in the early warnings")}
    tables, unusable = {}, []
    for name, (check, lost) in checks.items():
        try:
            files = [f"{name}.csv"]
            if unlisted_outputs(previous.path, previous.manifest, files, files) or \
                    altered_outputs(previous.path, previous.manifest, files):
                raise InputError("not as that run wrote it: the SHA-256 its manifest records "
                                 "differs, or it records none")
            frame = parse_file(previous.path / f"{name}.csv", "CSV", run_table)
            check(frame)
        except InputError as exc:
            where = InputError(exc.reason, row=exc.row, column=exc.column, value=exc.value)
            unusable.append(f"its {name}.csv cannot be compared with ({where}): {lost}")
            continue
        tables[name] = frame
    headline = tables.get("headline")
    # only a loss where this run has a p_any_3 of its own (a horizon of 3 months or more)
    if within >= 3 and headline is not None and ("p_any_3" not in headline
                                                 or headline["p_any_3"].isna().all()):
        unusable.append("its headline.csv has no p_any_3 (a horizon under 3 months): no change "
                        "in the probability of hedging within 3 months")
    return tables, unusable


def _check_previous_headline(frame: pd.DataFrame) -> None:
    """Refuse a headline table without each ally's month and a finite credibility, or with a
    p_any_3 that is no probability (missing is allowed: a horizon under 3 months)."""
    if missing := [c for c in ("ally", "period", "credibility") if c not in frame]:
        raise InputError(f"no column {missing[0]!r}", column=missing[0])
    allies = frame["ally"].astype("string").str.strip()
    months = frame["period"].map(lambda p: parse_month(p) if isinstance(p, str) else None)
    for column, bad, why in (("ally", allies.isna() | (allies == ""), "expected an ally code"),
                             ("ally", allies.duplicated(), "a second row of this ally"),
                             ("period", months.isna(), "expected a month YYYY-MM")):
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy(dtype=bool))[0])
            raise InputError(why, row=row + 2, column=column, value=frame[column].iloc[row])
    for column, lo, hi, required in (("credibility", -math.inf, math.inf, True),
                                     ("p_any_3", 0.0, 1.0, False)):
        if column not in frame:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = ~(np.isfinite(values) & (values >= lo) & (values <= hi))
        if not required:
            bad &= frame[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError("expected a finite number" if required else
                             "expected a probability from 0 to 1", row=row + 2, column=column,
                             value=frame[column].iloc[row])


def _check_previous_forecast(frame: pd.DataFrame, within: int) -> None:
    """Refuse a forecast table without rows at horizon ``within`` or with values that are no
    probabilities (:meth:`forecast.forecasting.ForecastResult.early_warning`'s own checks)."""
    from forecast.forecasting import _previous_from_table, horizons_shown

    if "horizon" not in frame:
        raise InputError("no column 'horizon'", column="horizon")
    if not (pd.to_numeric(frame["horizon"], errors="coerce") == within).any():
        raise InputError(f"no row at horizon {within} (its horizons: "
                         f"{horizons_shown(frame['horizon'])})", column="horizon")
    _previous_from_table(frame, within)


def _previous_now(previous: dict[str, pd.DataFrame]) -> dict[str, dict]:
    """Per ally: the previous run's month, credibility there and p_any within 3 months."""
    head = previous.get("headline")
    if head is None or not len(head):
        return {}
    return {str(r["ally"]): {"period": str(r["period"]), "credibility": float(r["credibility"]),
                             "p_any_3": float(r["p_any_3"]) if "p_any_3" in r else None}
            for _, r in head.iterrows()}


def coverage_by_year(panel: Panel) -> pd.DataFrame:
    """Share of each signal's periods observed, per ally and calendar year.

    Columns ``ally, signal, role, year, share``; the report draws it as a heat map.

    Examples
    --------
    >>> import forecast
    >>> cov = coverage_by_year(forecast.simulate(n_allies=2, n_months=24, seed=1).panel)
    >>> sorted(cov.columns)
    ['ally', 'role', 'share', 'signal', 'year']
    """
    rows = []
    for sig in panel.signals.values():
        years = np.asarray(sig.periods.year)
        for i, ally in enumerate(panel.allies):
            frame = pd.DataFrame({"year": years, "obs": sig.mask[i]})
            share = frame.groupby("year")["obs"].mean()
            rows.append(pd.DataFrame({"ally": ally, "signal": sig.name, "role": sig.spec.role,
                                      "year": share.index.astype(int), "share": share.values}))
    return pd.concat(rows, ignore_index=True)


def outcome_history(panel: Panel) -> pd.DataFrame:
    """Observed outcome (hedging) values: ``ally, period, value``."""
    sig = panel.outcome
    a, p, v = sig.long()
    return pd.DataFrame({"ally": np.asarray(panel.allies, dtype=object)[a],
                         "period": [str(sig.periods[i]) for i in p], "value": v})


# ---------------------------------------------------------------------- manifest and logs
def _diagnostics_dict(diag: Diagnostics, table: bool = True) -> dict:
    d = diag.to_dict()
    if table:
        d["table"] = diag.table().to_dict(orient="records")
    return _jsonable(d)


def _manifest(request: RunRequest, settings: RunSettings, files: dict[str, InputFile],
              key: str, diag: Diagnostics, previous: PublishedRun | None,
              previous_caveats: list[str], started: datetime, panel: Panel,
              warnings: list[str], timings: dict,
              run_on: dict | None = None, scenario=None,
              previous_gap: str | None = None) -> dict:
    from forecast.runfiles import SIGNAL_ABOUT

    return {
        "manifest_version": MANIFEST_VERSION,
        "month": settings.month,
        "input_key": key,
        "created": started.isoformat(timespec="seconds"),
        "settings": settings.to_dict(),
        "quick": settings.preset == "quick",
        "forced": not diag.converged,
        "converged": diag.converged,
        "gate_failures": diag.failures,
        "run_on": run_on,
        "inputs": {role: f.to_dict() for role, f in files.items()},
        # what the scenario is called; what it assumed is scenario_overrides.csv
        "scenario": ({"name": scenario.name, "description": scenario.description}
                     if scenario is not None else None),
        "data": {"embedded": request.data is None, "allies": list(panel.allies),
                 "signals": list(panel.signals), "first_month": str(panel.months[0]),
                 "last_month": str(panel.months[-1]),
                 "last_observed_month": panel.last_observed_month,
                 # before these, an ally's credibility rests on the priors (the fan charts)
                 "first_data": panel.first_data_months(),
                 # what validate warned of, for the report (the origin's: the month above)
                 "warnings": warnings,
                 "data_hash": panel.data_hash()},
        "catalog": {"path": str(files["catalog"].path), "sha256": files["catalog"].sha256,
                    "allies": dict(panel.catalog.allies),
                    "signals": {n: s.role for n, s in panel.catalog.signals.items()},
                    # what each signal is, for the report's reader (who sees only names)
                    "about": {n: {key: getattr(s, key) for key in SIGNAL_ABOUT}
                              for n, s in panel.catalog.signals.items()}},
        "spec": {"name": settings.spec_name, "hash": settings.spec_hash},
        "previous_run": str(previous.path.name) if previous is not None else None,
        # a baseline that is forced or quick is said so wherever the comparison is shown
        "previous_run_caveats": previous_caveats,
        # a baseline more than a month back: how far, and why the months between were not
        "previous_run_gap": previous_gap,
        "early_warning": {"threshold": WARNING_THRESHOLD,
                          "within": warning_within(settings.horizon)},
        "environment": environment(),
        "timings": timings,
    }


def _write_manifest(run_dir: Path, manifest: dict, revision: int, registry: Registry,
                    month: str, timings: dict, t_start: float) -> None:
    doc = dict(manifest)
    doc["revision"] = revision
    doc["run"] = registry.path_for(month, revision).name
    doc["timings"] = {**timings, "total_s": time.perf_counter() - t_start}
    doc["outputs"] = {p.name: sha256_file(p) for p in sorted(run_dir.iterdir())
                      if p.is_file() and p.name not in ("manifest.json", "report.html",
                                                        "run.log")}
    _write_json(run_dir / "manifest.json", _jsonable(doc))


def _write_json(path: Path, data: dict) -> None:
    write_text_atomically(path, json.dumps(data, indent=2, sort_keys=False, allow_nan=False)
                          + "\n", path.name)


def _jsonable(obj):
    """Replace NaN/inf by ``None`` and numpy scalars by Python ones (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


@contextmanager
def _timed(progress: Progress, timings: dict, name: str, detail: str = "",
           log: logging.Logger | None = None) -> Iterator[None]:
    t0 = time.perf_counter()
    with progress.stage(name, detail):
        yield
    timings[f"{name}_s"] = time.perf_counter() - t0
    if log is not None:
        log.info("stage %s done in %.1f s", name, timings[f"{name}_s"])


@contextmanager
def _run_log(path: Path) -> Iterator[logging.Logger]:
    """A logger writing to ``path`` only, detached when the run ends (no global state)."""
    log = logging.getLogger(f"forecast.run.{id(path)}")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    try:
        yield log
    except BaseException as exc:
        if handler in log.handlers:  # not once detached for publication
            log.error("run stopped: %s: %s", type(exc).__name__, exc)
        raise
    finally:
        _detach(log)


def _detach(log: logging.Logger) -> None:
    """Close and remove ``log``'s handlers: nothing more is written to its file."""
    for handler in list(log.handlers):
        handler.close()
        log.removeHandler(handler)


@contextmanager
def _logged_warnings(log: logging.Logger) -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = set()
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        if text not in seen:
            seen.add(text)
            log.warning(text)
