"""The monthly report: one self-contained HTML file rendered from a run directory.

:func:`render_report` is a pure function of the files in a run directory (see
:mod:`forecast.monthly` for the list), so ``forecast report RUN_DIR`` re-renders a published run
without refitting anything. Figures are drawn with matplotlib and embedded as PNG data URIs;
the page loads nothing from the network. Every piece of text that comes from data (ally names,
signal names, file paths, messages) goes through Jinja2 with autoescaping on.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["RunData", "read_run", "render_report", "write_report", "figure_png", "scenario_view",
           "unmoved_allies", "headline_rows", "run_horizon",
           "fan_chart_figure", "coverage_figure", "fan_chart_text", "coverage_text", "ARROWS",
           "hedging_level_figure", "hedging_level_text", "drawable_level"]

ARROWS: dict[str, str] = {"up": "↑", "down": "↓", "flat": "→"}
HISTORY_MONTHS = 60  # months of fitted credibility shown before the forecast
OUTCOME_MONTHS = 36  # months of observed hedging shown before the forecast


# ---------------------------------------------------------------------- reading a run
@dataclass(frozen=True)
class RunData:
    """Everything the report shows, read from a run directory.

    Optional tables are empty frames when their file is absent.
    """

    path: Path
    manifest: dict
    diagnostics: dict
    headline: pd.DataFrame
    forecast: pd.DataFrame
    credibility: pd.DataFrame
    attribution: pd.DataFrame
    early_warnings: pd.DataFrame
    coverage: pd.DataFrame
    outcome: pd.DataFrame
    scenario: pd.DataFrame
    scenario_overrides: pd.DataFrame
    hedging_level: pd.DataFrame = field(default_factory=pd.DataFrame)


#: the columns of a scenario comparison that are differences from the baseline
_CHANGES = ("p_any_change", "p_any_change_lo", "p_any_change_hi", "credibility_change",
            "credibility_change_lo", "credibility_change_hi", "p_any_within_change")


#: the tables of a run directory (``NAME.csv``) and the columns the report reads from each
_TABLES: dict[str, tuple[str, ...]] = {
    "headline": ("ally",),
    "forecast": ("ally", "period", "mean", "q05", "q95"),
    "credibility": ("ally", "period", "horizon", "mean"),
    "attribution": (),
    "early_warnings": (),
    "coverage": ("ally", "signal", "year", "share"),
    "outcome": ("ally", "period", "value"),
    "scenario": ("ally", "period", "horizon", "p_any_base", "p_any_alt") + _CHANGES,
    "scenario_overrides": ("ally", "period", "signal", "value"),
    "hedging_level": ("year", "q05", "q50", "q95"),
}


_Q = ("q05", "q25", "q50", "q75", "q95")
#: the figures of each table that the report reads, checked as numbers where they are there
_FIGURES: dict[str, tuple[str, ...]] = {
    "headline": ("credibility", "credibility_q05", "credibility_q95", "p_up", "p_any_1",
                 "p_any_3", "p_any_12", "credibility_change", "p_rose", "p_any_3_change"),
    "forecast": ("horizon", "mean", "p_any", *_Q, "p_any_within", "mean_pareto_k"),
    "credibility": ("horizon", "mean", "sd", *_Q),
    "attribution": ("change", "contribution", "n_obs", "pareto_k", "mcse"),
    "early_warnings": ("probability", "previous", "change"),
    "coverage": ("year", "share"),
    "outcome": ("value",),
    "scenario": ("horizon", "p_any_base", "p_any_alt") + _CHANGES,
    "scenario_overrides": ("value",),
    "hedging_level": ("year", "mean", "sd", "q05", "q50", "q95"),
}


def _csv(path: Path, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """The table in ``path``, an empty frame when there is no such file.

    Raises
    ------
    forecast.InputError
        Naming ``path``, when it is not CSV (empty, an unterminated quote, not UTF-8), lacks
        one of ``columns``, or a column the report reads holds what it cannot (a period that
        is no month ``YYYY-MM``, a figure of ``_FIGURES`` that is no number), with its row
        (the header is row 1).
    """
    from forecast.errors import InputError
    from forecast.runs import parse_file
    from forecast.tabular import parse_month, run_table

    if not path.is_file():
        return pd.DataFrame()
    frame = parse_file(path, "CSV", run_table)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(map(repr, missing))} (the report reads "
                         f"{', '.join(columns)})", file=str(path))
    figures = _FIGURES.get(path.stem, ())
    for col in dict.fromkeys([*columns, *figures, "period"]):
        if col in ("ally", "signal") or col not in frame.columns:
            continue
        raw = frame[col]
        cells = raw.astype("string").str.strip()  # a missing cell stays missing
        if col == "period":
            bad = cells.map(lambda c: parse_month(c) is None).astype(bool)
            expected = "a month YYYY-MM"
        else:
            empty = raw.isna() | cells.str.lower().isin(["", "nan"]).fillna(True).astype(bool)
            bad = pd.to_numeric(cells.where(~empty), errors="coerce").isna() & ~empty
            expected = "a number"
        if bad.any():
            i = int(np.argmax(bad.to_numpy()))
            raise InputError(f"expected {expected}", file=str(path), row=i + 2, column=col,
                             value=frame[col].iloc[i])
    return frame


def run_manifest(run_dir: Path) -> Path:
    """The ``manifest.json`` of the run directory ``run_dir``.

    Raises
    ------
    forecast.InputError
        When there is none: the directory is not a run.
    """
    from forecast.errors import InputError

    path = run_dir / "manifest.json"
    if not path.is_file():
        raise InputError("not a run directory: expected manifest.json in it", file=str(run_dir))
    return path


def read_run(run_dir: str | Path) -> RunData:
    """Read the files of a run directory (published or staged).

    Raises
    ------
    forecast.InputError
        Naming the file, when the directory is not a run (no ``manifest.json``), a file the
        manifest lists as an output and the report reads is gone or no longer has the bytes
        the manifest's hash records, a file the report reads is there (or one every run
        writes is not) without the manifest listing it, or a file is unreadable or
        lacks what the report shows: a manifest or ``diagnostics.json`` that is not a JSON
        object, lacks a key or holds a value of another type
        (:mod:`forecast.runfiles`), a CSV that is empty, malformed, lacks a column or holds a
        period or figure that is not one.
    """
    from forecast.errors import InputError
    from forecast.runfiles import (altered_outputs, check_diagnostics, check_manifest,
                                   missing_outputs, unlisted_outputs, RUN_WRITES)
    from forecast.runs import own_manifest, read_json_object

    path = Path(run_dir)
    manifest_path = run_manifest(path)
    manifest = own_manifest(path)
    diag_path = path / "diagnostics.json"
    diagnostics = read_json_object(diag_path) if diag_path.is_file() else {}
    check_manifest(manifest, manifest_path)
    read = [*(f"{name}.csv" for name in _TABLES), "diagnostics.json"]
    gone = missing_outputs(path, manifest, read)
    if gone:
        raise InputError(f"{', '.join(gone)} missing: the manifest lists "
                         f"{'them' if len(gone) > 1 else 'it'} among the run's outputs, and "
                         "the report would show what it holds as empty", file=str(path / gone[0]))
    if unlisted := unlisted_outputs(path, manifest, read, always=RUN_WRITES):
        raise InputError(f"{', '.join(unlisted)} not among the outputs the manifest lists with "
                         "their SHA-256, as a run lists every file it writes: the manifest was "
                         "edited, or the file put there by hand, and the report would show what "
                         "it holds (or its absence) as the run's; expected the run's files and "
                         "manifest as it wrote them", file=str(path / unlisted[0]))
    if changed := altered_outputs(path, manifest, read):
        example = (" (a header-only table would read as no early warning, say)"
                   if "early_warnings.csv" in changed else "")
        raise InputError(f"{', '.join(changed)} altered since the run wrote "
                         f"{'them' if len(changed) > 1 else 'it'} (the SHA-256 the manifest "
                         "records differs): the report would show what it now holds as the "
                         f"run's; expected the file as the run wrote it{example}",
                         file=str(path / changed[0]))
    check_diagnostics(diagnostics, diag_path)
    tables = {name: _csv(path / f"{name}.csv", columns) for name, columns in _TABLES.items()}
    return RunData(path=path, manifest=manifest, diagnostics=diagnostics, **tables)


# ---------------------------------------------------------------------- figures
def figure_png(fig, dpi: int = 100) -> str:
    """A matplotlib figure as a base64 PNG string (the figure is closed).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> figure_png(fig)[:8]
    'iVBORw0K'
    """
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _month_axis(periods: pd.Series) -> np.ndarray:
    """Months as matplotlib date numbers (days), so bar widths are in days."""
    from matplotlib import dates

    stamps = pd.PeriodIndex(periods.astype(str), freq="M").to_timestamp()
    return dates.date2num(stamps.to_pydatetime())


def _date_ticks(ax) -> None:
    from matplotlib import dates

    locator = dates.AutoDateLocator(minticks=3, maxticks=6)
    # a span of 31 to 35 months, under 3 years and over 5 steps of 6 months, had no interval
    # (matplotlib warned on the terminal, for an ally that joined late): steps of a year serve
    locator.intervald[dates.MONTHLY] = [1, 2, 3, 4, 6, 12]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))


def _without_data(first_data: dict[str, str | None] | None, ally: str,
                  fitted: pd.DataFrame) -> tuple[str, str, str] | None:
    """The fitted months shown in which the ally had no data, as (first, end, in words):
    those before its first month with data, or all of them for an ally whose only
    data are an event log's counts (``None`` in ``first_data``); ``None`` where there are
    none, or ``first_data`` does not say (a run published before it was recorded)."""
    first_data = first_data or {}
    if ally not in first_data or not len(fitted):
        return None
    shown = str(fitted["period"].iloc[0])
    start = first_data[ally]
    if start is None:
        end = str(pd.Period(str(fitted["period"].iloc[-1]), "M") + 1)
        return shown, end, "no data but the event log's counts"
    return (shown, start, f"no data before {start}") if start > shown else None


def fan_chart_figure(credibility: pd.DataFrame, forecast: pd.DataFrame, outcome: pd.DataFrame,
                     names: dict[str, str] | None = None,
                     first_data: dict[str, str | None] | None = None):
    """Per ally: credibility (fitted, then forecast) and hedging (observed, then forecast).

    Parameters
    ----------
    credibility
        ``credibility.csv``: ally, period, horizon, mean, q05, q25, q50, q75, q95.
    forecast
        ``forecast.csv``: ally, period, horizon, mean, q05…q95 of monthly hedging acts, and
        ``mean_pareto_k`` where there (the mean is not drawn where it is above 0.7:
        :func:`forecast.forecasting.reliable_mean`).
    outcome
        ``outcome.csv``: observed hedging, ally, period, value.
    names
        Ally code → name for the panel titles.
    first_data
        Ally code → its first month with data (the manifest's ``data.first_data``): the
        fitted months shown before it are shaded (all of them for ``None``: an ally whose only
        data are an event log's counts; an ally not in it is not shaded).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from forecast.forecasting import reliable_mean

    names = names or {}
    allies = list(dict.fromkeys(credibility["ally"]))
    fig, axes = plt.subplots(len(allies), 2, figsize=(11, 2.6 * len(allies)), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 2]})
    for row, ally in zip(axes, allies):
        ax_c, ax_h = row
        cred = credibility[credibility["ally"] == ally]
        fitted = cred[cred["horizon"] == 0].tail(HISTORY_MONTHS)
        ahead = cred[cred["horizon"] > 0]
        if len(fitted) and len(ahead):  # drawn from the last fitted month: one path, not two
            ahead = pd.concat([fitted.tail(1), ahead])
        for part, colour, label in ((fitted, "#4a6fa5", "fitted"),
                                    (ahead, "#d9822b", "forecast")):
            if not len(part):
                continue
            x = _month_axis(part["period"])
            if {"q05", "q95"} <= set(part):
                ax_c.fill_between(x, part["q05"], part["q95"], color=colour, alpha=0.18, lw=0)
            if {"q25", "q75"} <= set(part) and part["q25"].notna().all():
                ax_c.fill_between(x, part["q25"], part["q75"], color=colour, alpha=0.3, lw=0)
            ax_c.plot(x, part["q50"] if "q50" in part else part["mean"], color=colour, lw=1.6,
                      label=f"{label} (median, 50% and 90%)")
        if len(fitted):
            ax_c.axvline(_month_axis(fitted["period"].tail(1))[0], color="#777", lw=0.8, ls=":")
        if (span := _without_data(first_data, ally, fitted)) is not None:
            # months the ally had no data in: its credibility there is the priors' and the
            # other allies', which the band's width shows but the eye may not read
            x0, x1 = _month_axis(pd.Series(span[:2]))
            ax_c.axvspan(x0, x1, color="#e9e9e9", lw=0, zorder=0)
            ax_c.text(x0, 0.97, f" {span[2]}", fontsize=7, color="#555", va="top",
                      transform=ax_c.get_xaxis_transform())
        ax_c.axhline(0, color="#bbb", lw=0.6)
        ax_c.set_title(f"{names.get(ally, ally)} ({ally}) — credibility", fontsize=10,
                       loc="left", parse_math=False)  # a "$" in a name is text
        ax_c.set_ylabel("latent (sd units)", fontsize=8)

        obs = outcome[outcome["ally"] == ally].tail(OUTCOME_MONTHS) if len(outcome) else outcome
        if len(obs):
            x_obs = _month_axis(obs["period"])
            ax_h.bar(x_obs, obs["value"], width=20, color="#999", label="observed")
            # a dot on every observed month, so that a month with 0 acts is told from a month
            # not observed (no row: no bar and no dot)
            ax_h.plot(x_obs, obs["value"], ls="none", marker=".", ms=3, color="#555",
                      clip_on=False)
        fc = forecast[forecast["ally"] == ally] if len(forecast) else forecast
        if len(fc):
            x = _month_axis(fc["period"])
            ax_h.fill_between(x, fc["q05"], fc["q95"], color="#c0392b", alpha=0.15, lw=0,
                              step="mid", label="90% interval")
            if {"q25", "q75"} <= set(fc):
                ax_h.fill_between(x, fc["q25"], fc["q75"], color="#c0392b", alpha=0.3, lw=0,
                                  step="mid", label="50% interval")
            # counts are right-skewed: a few draws with many acts can lift the mean above the
            # 90% band, so the median is the line and the mean a dashed one beside it
            if "q50" in fc:
                ax_h.step(x, fc["q50"], color="#c0392b", lw=1.6, where="mid", label="median",
                          clip_on=False, zorder=3)
            ax_h.plot(x, reliable_mean(fc), color="#c0392b", lw=1.0, ls="--", label="mean")
        ax_h.set_title("hedging acts per month", fontsize=10, loc="left")
        ax_h.set_ylim(bottom=0)
        ax_h.yaxis.set_major_locator(MaxNLocator(integer=True))  # acts are whole numbers
        for ax in row:
            _date_ticks(ax)
            ax.tick_params(labelsize=8)
            ax.spines[["top", "right"]].set_visible(False)
    if len(allies):
        axes[0, 0].legend(fontsize=7, frameon=False, loc="lower left")
        axes[0, 1].legend(fontsize=7, frameon=False, loc="upper left")
    fig.tight_layout()
    return fig


def coverage_figure(coverage: pd.DataFrame):
    """Heat map of the share of periods observed: rows ally · signal, columns years."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    grid = coverage.pivot_table(index=["ally", "signal"], columns="year", values="share",
                                aggfunc="mean", sort=False)
    fig, ax = plt.subplots(figsize=(11, 0.22 * len(grid) + 1.2))
    image = ax.imshow(grid.to_numpy(dtype=float), aspect="auto", cmap="Blues", vmin=0, vmax=1,
                      interpolation="nearest")
    ax.set_yticks(range(len(grid)), [f"{a} · {s}" for a, s in grid.index], fontsize=7,
                  parse_math=False)  # names are text: a "$" in one is no mathtext
    years = list(grid.columns)
    step = max(1, len(years) // 14)
    ax.set_xticks(range(0, len(years), step), [str(y) for y in years[::step]], fontsize=7)
    # a line between allies
    allies = [a for a, _ in grid.index]
    for i in range(1, len(allies)):
        if allies[i] != allies[i - 1]:
            ax.axhline(i - 0.5, color="white", lw=2)
    cbar = fig.colorbar(image, ax=ax, fraction=0.025, pad=0.01)
    cbar.set_label("share of periods observed", fontsize=8)
    cbar.ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def drawable_level(level: pd.DataFrame) -> pd.DataFrame:
    """The rows of a ``hedging_level`` table that a log axis can draw, by year: a whole year,
    and positive, finite quantiles (a table edited by hand may hold others).

    Examples
    --------
    >>> level = pd.DataFrame({"year": [2025, 2024, None], "q05": [1.1, 0.5, 1.0],
    ...                       "q50": [1.6, 0.8, 1.0], "q95": [2.4, float("nan"), 1.0]})
    >>> drawable_level(level)["year"].tolist()
    [2025]
    """
    if not len(level):
        return level
    cols = ["year", "q05", "q50", "q95"]
    values = level[cols].apply(pd.to_numeric, errors="coerce")
    ok = np.isfinite(values.to_numpy(dtype=float)).all(axis=1) & (values[cols[1:]] > 0).all(axis=1)
    ok &= (values["year"] % 1 == 0)
    out = level[ok.to_numpy()].assign(year=values["year"][ok].astype(int))
    return out.drop_duplicates("year").sort_values("year").reset_index(drop=True)


def hedging_level_figure(level: pd.DataFrame):
    """Hedging's common level by year as a factor on every ally's expected count: median with
    its 90% interval, on a log axis around 1 (the level's geometric mean over the data's
    years). ``level``: rows as :func:`drawable_level` keeps them."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    years = level["year"].to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(11, 2.6))
    ax.fill_between(years, level["q05"].to_numpy(dtype=float),
                    level["q95"].to_numpy(dtype=float), color="tab:red", alpha=0.2, lw=0,
                    label="90% interval")
    ax.plot(years, level["q50"].to_numpy(dtype=float), color="tab:red", marker="o", ms=3,
            label="median")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_yscale("log")
    # factors, not powers of ten: 0.25, 0.5, 1, 2, 4 … where the band reaches
    low, high = float(level["q05"].min()), float(level["q95"].max())
    ticks = [2.0 ** k for k in range(-6, 7) if low / 1.5 <= 2.0 ** k <= high * 1.5] or [1.0]
    ax.set_yticks(ticks, [f"{t:g}×" for t in ticks])
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_ylabel("× average rate", fontsize=8)
    step = max(1, len(years) // 14)  # whole years, as the coverage map labels them
    ax.set_xticks(years[::step], [str(int(y)) for y in years[::step]])
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


def hedging_level_text(level: pd.DataFrame) -> str:
    """What the hedging-level figure shows, in words (its alternative text); ``level``: rows
    as :func:`drawable_level` keeps them.

    Examples
    --------
    >>> level = pd.DataFrame({"year": [2024, 2025], "q05": [0.5, 1.1], "q50": [0.8, 1.6],
    ...                       "q95": [1.2, 2.4]})
    >>> hedging_level_text(level)
    "Hedging's common level by year, as a factor on the allies' expected counts (1 = its geometric mean over 2024 to 2025): lowest 0.8× in 2024, highest 1.6× in 2025; 2025: 1.6× (90% interval 1.1 to 2.4)."
    """
    low, high, last = (level.loc[level["q50"].idxmin()], level.loc[level["q50"].idxmax()],
                       level.iloc[-1])
    first_year, last_year = int(level["year"].iloc[0]), int(last["year"])
    return (f"Hedging's common level by year, as a factor on the allies' expected counts (1 = "
            f"its geometric mean over {first_year} to {last_year}): lowest {low['q50']:.2g}× in "
            f"{int(low['year'])}, highest {high['q50']:.2g}× in {int(high['year'])}; "
            f"{last_year}: {last['q50']:.2g}× (90% interval {last['q05']:.2g} to "
            f"{last['q95']:.2g}).")


def fan_chart_text(credibility: pd.DataFrame, forecast: pd.DataFrame,
                   first_data: dict[str, str | None] | None = None) -> str:
    """What the fan charts show, in words (the figure's alternative text): per ally, the last
    fitted credibility and the forecast's last month, the forecast's hedging, and the first
    month with data where the chart shades the months before it (``first_data``, as for
    :func:`fan_chart_figure`).

    Examples
    --------
    >>> cred = pd.DataFrame({"ally": ["KOR"] * 2, "period": ["2026-03", "2026-04"],
    ...                      "horizon": [0, 1], "mean": [-6.3, -5.8], "q05": [-9.1, -9.0],
    ...                      "q50": [-6.2, -5.7], "q95": [-3.4, -2.6]})
    >>> fc = pd.DataFrame({"ally": ["KOR"], "period": ["2026-04"], "q50": [0.0], "q95": [3.0]})
    >>> fan_chart_text(cred, fc)
    'Fan charts per ally. KOR: credibility -6.2 in 2026-03 (90% interval -9.1 to -3.4), forecast median -5.7 by 2026-04 (-9.0 to -2.6); hedging forecast median at most 0 acts a month, 90% interval up to 3.'
    """
    def middle(r) -> object:
        return r["q50"] if pd.notna(r.get("q50")) else r.get("mean")

    parts = []
    for ally in dict.fromkeys(credibility["ally"]):
        cred = credibility[credibility["ally"] == ally]
        now, end = cred[cred["horizon"] == 0].tail(1), cred[cred["horizon"] > 0].tail(1)
        text = f"{ally}:"
        shown = cred[cred["horizon"] == 0].tail(HISTORY_MONTHS)
        if (span := _without_data(first_data, ally, shown)) is not None:
            text += f" {span[2]} (shaded);"
        if len(now):
            r = now.iloc[0]
            text += (f" credibility {_fmt(middle(r), 1)} in {r['period']} (90% "
                     f"interval {_fmt(r.get('q05'), 1)} to {_fmt(r.get('q95'), 1)})")
        if len(end):
            r = end.iloc[0]
            text += (f", forecast median {_fmt(middle(r), 1)} by {r['period']} "
                     f"({_fmt(r.get('q05'), 1)} to {_fmt(r.get('q95'), 1)})")
        fc = forecast[forecast["ally"] == ally] if len(forecast) else forecast
        if len(fc) and {"q50", "q95"} <= set(fc):
            most = fc["q50"].max()
            acts = "act" if most == 1 else "acts"
            text += (f"; hedging forecast median at most {_fmt(most, 0)} {acts} a "
                     f"month, 90% interval up to {_fmt(fc['q95'].max(), 0)}")
        parts.append(text + ".")
    return " ".join(["Fan charts per ally.", *parts])


def coverage_text(coverage: pd.DataFrame) -> str:
    """What the coverage heat map shows, in words: the years covered, and each signal's share
    of periods observed over them, lowest first (the figure's alternative text).

    Examples
    --------
    >>> cov = pd.DataFrame({"ally": ["JPN", "JPN", "KOR"],
    ...                     "signal": ["troops", "lapses", "troops"],
    ...                     "year": [2024, 2024, 2024], "share": [0.25, 1.0, 0.75]})
    >>> coverage_text(cov)
    'Share of periods observed per ally, signal and year, 2024 to 2024. Over all allies and years: troops 50%, lapses 100%.'
    """
    shares = coverage.groupby("signal", sort=False)["share"].mean().sort_values(kind="stable")
    return (f"Share of periods observed per ally, signal and year, {coverage['year'].min()} to "
            f"{coverage['year'].max()}. Over all allies and years: "
            + ", ".join(f"{name} {_fmt(v, pct=True)}" for name, v in shares.items()) + ".")


# ---------------------------------------------------------------------- view model
#: decimals per diagnostics check: R-hat near its 1.01 threshold needs four to be read
_DIAG_DIGITS = {"max R-hat": 4, "min bulk ESS": 0, "min tail ESS": 0, "divergences": 0}


def _rounded(value, digits: int = 2) -> float:
    """``value`` as :func:`_fmt` prints it."""
    return round(float(value), digits)


def _fmt(value, digits: int = 2, signed: bool = False, pct: bool = False,
         pct_digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if pct:
        v, digits = v * 100, pct_digits
    v = round(v, digits) + 0.0  # a value that rounds to 0 shows as +0, never -0
    if pct:
        return f"{v:+.{digits}f} pts" if signed else f"{v:.{digits}f}%"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def _labels_shown(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """A scenario's assumptions with its labels (:data:`forecast.scenarios.LABELS`) as text,
    blank where a row gave none, and without a label no row gave."""
    from forecast.scenarios import LABELS, label_text

    if frame is None:
        return None
    present = [c for c in LABELS if c in frame]
    frame = frame.assign(**{c: frame[c].map(label_text) for c in present})
    return frame.drop(columns=[c for c in present if (frame[c].str.strip() == "").all()])


def _table(frame: pd.DataFrame, max_rows: int = 200) -> dict:
    """A frame as header + rows of display strings (escaped later by the template)."""
    if frame is None or not len(frame):
        return {"header": [], "rows": []}
    shown = frame.head(max_rows)
    rows = []
    for _, r in shown.iterrows():
        cells = []
        for v in r.tolist():
            if isinstance(v, float):
                cells.append(_fmt(v, 3))
            else:
                cells.append("–" if v is None else str(v))
        rows.append(cells)
    return {"header": [str(c) for c in shown.columns], "rows": rows,
            "more": max(0, len(frame) - max_rows)}


#: the columns of the quantities nearest the gate: name, heading and digits shown
_WORST_COLUMNS = (("r_hat", "R-hat", 4), ("ess_bulk", "bulk ESS", 0), ("ess_tail", "tail ESS", 0))


def _worst_table(worst: list[dict]) -> dict:
    """The quantities nearest (or past) the gate, with R-hat to the gate's 4 decimals (1.0097
    shown as 1.010 read as a failure) and ESS in whole draws."""
    rows = [[str(w.get("quantity", "")),
             *(_fmt(w.get(key), digits) for key, _, digits in _WORST_COLUMNS)] for w in worst]
    return {"header": ["quantity", *(h for _, h, _ in _WORST_COLUMNS)], "rows": rows}


def _change(row) -> dict:
    """An ally's credibility change since the previous run, as the report shows it: coloured
    as a rise or a fall only where this fit puts at least :data:`TREND_PROB
    <forecast.monthly.TREND_PROB>` on credibility having moved that way since the previous
    run's month (``p_rose``, :func:`forecast.monthly.direction`). Within the posterior's
    uncertainty it is left uncoloured, as is a change that no such probability tells (a
    revision of the same month) and one whose sign this fit's own difference does not share
    (-0.12 where the refit revised the month before down by 0.52 and puts 93% on a rise
    since). ``told`` says which were coloured so. A run written before the column colours
    by the sign alone, as it was.

    Examples
    --------
    >>> _change({"credibility_change": 0.32, "p_rose": 0.62})
    {'change': '+0.32', 'change_class': '', 'told': False, 'p_rose': '62%'}
    >>> [_change({"credibility_change": c, "p_rose": p})["change_class"]
    ...  for c, p in ((-0.5, 0.2), (0.4, 0.8), (-0.12, 0.93))]
    ['down', 'up', '']
    >>> _change({"credibility_change": 0.32})["change_class"]  # an earlier run's table
    'up'
    """
    from forecast.monthly import direction

    change = row.get("credibility_change")
    cls = _sign_class(change)
    p_rose = row.get("p_rose")
    told = False
    if p_rose is not None:
        told = cls != "" and direction(_num(p_rose)) == cls
        cls = cls if told else ""
    return {"change": _fmt(change, signed=True), "change_class": cls, "told": told,
            "p_rose": None if p_rose is None or not math.isfinite(_num(p_rose))
            else _fmt(p_rose, pct=True)}


def run_horizon(run: RunData) -> tuple[int, list[int]]:
    """How many months ahead a run forecast, and the headline's horizons beyond it (their
    probabilities blank, "–": the report and ``forecast run`` say why).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> run_horizon(SimpleNamespace(manifest={"settings": {"horizon": 3}}))
    (3, [12])
    """
    from forecast.monthly import HEADLINE_HORIZONS

    horizon = int(run.manifest.get("settings", {}).get("horizon", max(HEADLINE_HORIZONS)))
    return horizon, [h for h in HEADLINE_HORIZONS if h > horizon]


def headline_rows(run: RunData) -> list[dict]:
    """The headline table of a run as display strings, one dict per ally (the report's, and
    what ``forecast run`` prints): ``ally, name, credibility, interval, change, change_class``
    (``up``/``down`` where the change is told from the posterior's noise, else empty),
    ``p_rose, p1, p3, p12, p3_change, arrow, trend, p_up``."""
    rows = []
    for _, r in run.headline.iterrows():
        trend = str(r.get("trend", "flat"))
        rows.append({
            "ally": str(r["ally"]),
            "name": _name(r),
            "credibility": _fmt(r.get("credibility")),
            "interval": f"{_fmt(r.get('credibility_q05'))} to {_fmt(r.get('credibility_q95'))}",
            **_change(r),
            "p1": _fmt(r.get("p_any_1"), pct=True),
            "p3": _fmt(r.get("p_any_3"), pct=True),
            "p12": _fmt(r.get("p_any_12"), pct=True),
            "p3_change": _fmt(r.get("p_any_3_change"), signed=True, pct=True),
            "arrow": ARROWS.get(trend, "→"),
            "trend": trend,
            "p_up": _fmt(r.get("p_up"), pct=True),
        })
    return rows


def _name(row) -> str:
    """An ally's name from a table row; its code where the name is missing or blank."""
    name = row.get("name")
    return str(row["ally"]) if name is None or pd.isna(name) or not str(name).strip() \
        else str(name)


def _sign_class(value) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(v) or abs(v) < 0.005:
        return ""
    return "up" if v > 0 else "down"


def _unreliable(row, threshold: float) -> bool:
    """Whether a contribution's PSIS leave-out has a Pareto k̂ above ``threshold`` (its
    estimate is then not to be trusted; only a refit without the observations is)."""
    try:
        return float(row.get("pareto_k")) > threshold
    except (TypeError, ValueError):
        return False


#: a contribution within this many Monte Carlo standard errors of zero is not called a rise
#: or a fall: as many draws again could reverse it
NOISE_MCSE = 2.0
#: how much wider the Monte Carlo error is taken where PSIS's k̂ lies between 0.5 and 0.7: the
#: weights' variance is infinite, and with autocorrelated draws the error understated the
#: spread of the estimates by about a third (docs/decisions/0029)
HEAVY_TAIL_WIDENING = 1.5


def _within_noise(row, value_col: str) -> bool:
    """Whether a contribution lies within :data:`NOISE_MCSE` of its Monte Carlo standard
    errors (the ``mcse`` column, absent from runs before 2026-12-04) of zero, or has none to
    tell it by; each error widened by :data:`HEAVY_TAIL_WIDENING` where the row's
    ``pareto_k`` is above 0.5.

    Examples
    --------
    >>> _within_noise({"contribution": -0.01, "mcse": 0.008}, "contribution")
    True
    >>> _within_noise({"contribution": -0.04, "mcse": 0.008}, "contribution")
    False
    >>> _within_noise({"contribution": -0.01}, "contribution")  # an earlier run's table
    False
    >>> _within_noise({"contribution": -0.04, "mcse": float("nan")}, "contribution")
    True
    >>> _within_noise({"contribution": -0.02, "mcse": 0.008, "pareto_k": 0.6}, "contribution")
    True
    """
    from forecast.pareto import K_FINITE_VARIANCE

    if row.get("mcse") is None:  # a run written before the column: shown as it was
        return False
    try:
        value, error = float(row.get(value_col)), float(row.get("mcse"))
    except (TypeError, ValueError):
        return False
    heavy = _unreliable(row, K_FINITE_VARIANCE)  # k̂ above 0.5: the error understated
    # no error to tell it by (too few draws): it cannot be told from none either
    return not math.isfinite(error) or \
        abs(value) < NOISE_MCSE * error * (HEAVY_TAIL_WIDENING if heavy else 1.0)


def _part(row, value_col: str, threshold: float) -> dict:
    """One signal's part of an ally's change, as the report shows it: coloured as a rise or a
    fall only where it can be told from none: neither unreliable (k̂ above ``threshold``,
    marked †; its Monte Carlo error is then no better) nor within its Monte Carlo error
    (marked ‡).

    Examples
    --------
    >>> row = {"signal": "summit_tempo", "contribution": -0.04, "mcse": 0.008, "pareto_k": 0.2}
    >>> _part(row, "contribution", 0.7)["cls"]
    'down'
    >>> [_part({**row, **c}, "contribution", 0.7)["cls"] for c in ({"mcse": 0.03},
    ...                                                             {"pareto_k": 1.4})]
    ['', '']
    """
    unreliable = _unreliable(row, threshold)
    noise = not unreliable and _within_noise(row, value_col)
    return {"signal": str(row["signal"]), "value": _fmt(row[value_col], signed=True),
            "cls": "" if noise or unreliable else _sign_class(row[value_col]),
            "unreliable": unreliable, "noise": noise}


def _drivers(run: RunData, top: int = 3) -> list[dict]:
    """Per ally: what changed and the signals that moved credibility most (the remainder,
    ``other``: persistence, the common factor and the month's shock, is not a signal)."""
    from forecast.pareto import K_THRESHOLD
    from forecast.catalog import RESERVED_SIGNAL

    att = run.attribution
    value_col = next((c for c in ("contribution", "mean", "value") if c in att), None)
    out = []
    for _, r in run.headline.iterrows():
        ally = str(r["ally"])
        signals, month_change, other, revision = [], None, None, None
        if value_col is not None and "ally" in att and "signal" in att:
            mine = att[att["ally"] == ally]
            sub = mine[mine["signal"] != RESERVED_SIGNAL].copy()
            sub = sub.reindex(sub[value_col].abs().sort_values(ascending=False).index).head(top)
            # one that rounds to ±0.00 moved nothing worth naming: it joins the remainder
            sub = sub[pd.to_numeric(sub[value_col], errors="coerce").abs() >= 0.005]
            signals = [_part(s, value_col, K_THRESHOLD) for _, s in sub.iterrows()]
            if "change" in mine and len(mine):
                month_change = _fmt(mine["change"].iloc[0], signed=True)
                revision = _revision(r, mine)
            rest = mine.loc[mine["signal"] == RESERVED_SIGNAL, value_col]
            if len(rest):
                # the signals not shown join the remainder, so the row adds up to the change
                # as printed: the printed change less the printed parts (each rounded on its
                # own, the parts of -0.36 read -1.16 + 0.03 + 0.02 + 0.76)
                total = mine["change"].iloc[0] if "change" in mine else mine[value_col].sum()
                shown = sum(_rounded(v) for v in sub[value_col])
                other = _fmt(_rounded(total) - shown, signed=True)
        out.append({
            "ally": ally, "name": _name(r),
            "previous": None if pd.isna(r.get("previous_period")) else
            str(r.get("previous_period")),
            **_change(r),
            "p3_change": _fmt(r.get("p_any_3_change"), signed=True, pct=True),
            "signals": signals,
            "month_change": month_change,
            "other": other,
            "revision": revision,
        })
    return out


def _revision(headline_row, attribution_rows: pd.DataFrame) -> str | None:
    """How far the refit moved its estimate of the previous run's month: the credibility
    change less the latest month's change, as printed (so the two printed add up to it);
    ``None`` unless the previous run's month is the month before this run's.

    Examples
    --------
    >>> att = pd.DataFrame({"month": ["2026-04"], "change": [0.40]})
    >>> _revision({"previous_period": "2026-03", "credibility_change": -0.12}, att)
    '-0.52'
    >>> _revision({"previous_period": "2026-02", "credibility_change": -0.12}, att) is None
    True
    """
    previous = headline_row.get("previous_period")
    change = _num(headline_row.get("credibility_change"))
    try:
        before = pd.Period(str(attribution_rows["month"].iloc[0]), "M") - 1
    except (KeyError, ValueError, TypeError):
        return None
    if previous is None or pd.isna(previous) or str(previous) != str(before) \
            or not math.isfinite(change):
        return None
    return _fmt(_rounded(change) - _rounded(attribution_rows["change"].iloc[0]), signed=True)


def scenario_view(frame: pd.DataFrame) -> pd.DataFrame:
    """A scenario comparison (:func:`forecast.scenarios.compare`) as short display strings.

    Examples
    --------
    >>> row = {"ally": "KOR", "period": "2026-12", "horizon": 1, "p_any_base": 0.2,
    ...        "p_any_alt": 0.3, "p_any_change": 0.1, "p_any_change_lo": 0.05,
    ...        "p_any_change_hi": 0.15, "credibility_change": -0.4,
    ...        "credibility_change_lo": -0.6, "credibility_change_hi": -0.2,
    ...        "p_any_within_change": 0.1}
    >>> scenario_view(pd.DataFrame([row])).iloc[0].to_dict()["P(hedging) base → scenario"]
    '20.0% → 30.0%'
    """
    if frame is None or not len(frame):
        return pd.DataFrame()
    frame = frame[~frame["ally"].isin(unmoved_allies(frame))]

    def pct(v) -> str:
        return _fmt(v, pct=True, pct_digits=1)

    def pts(v) -> str:
        return _fmt(v, signed=True, pct=True, pct_digits=1)

    out = pd.DataFrame({
        "ally": frame["ally"].astype(str),
        "month": frame["period"].astype(str),
        "h": frame["horizon"].astype(int),
        # one decimal: a change under a point is what a scenario often shows, and whole
        # percentages rounded alike beside a change of -1 pts read as a contradiction
        "P(hedging) base → scenario": [f"{pct(b)} → {pct(a)}"
                                       for b, a in zip(frame["p_any_base"], frame["p_any_alt"])],
        "change (90% interval)": [
            f"{pts(c)} ({pts(lo)} to {pts(hi)})"
            for c, lo, hi in zip(frame["p_any_change"], frame["p_any_change_lo"],
                                 frame["p_any_change_hi"])],
        "credibility change (90% interval)": [
            f"{_fmt(c, signed=True)} ({_fmt(lo, signed=True)} to {_fmt(hi, signed=True)})"
            for c, lo, hi in zip(frame["credibility_change"], frame["credibility_change_lo"],
                                 frame["credibility_change_hi"])],
        "Δ P(hedging within h)": [pts(v) for v in frame["p_any_within_change"]],
    })
    return out


def unmoved_allies(frame: pd.DataFrame | None) -> list[str]:
    """Allies whose every change in a scenario comparison is zero (paired draws: the scenario
    does not reach them); :func:`scenario_view` leaves their rows out.

    Examples
    --------
    >>> f = pd.DataFrame({"ally": ["KOR", "JPN"], **{c: [0.1, 0.0] for c in _CHANGES}})
    >>> unmoved_allies(f)
    ['JPN']
    """
    if frame is None or not len(frame):
        return []
    cols = [c for c in _CHANGES if c in frame]
    moved = frame[cols].abs().gt(0).any(axis=1).groupby(frame["ally"], sort=False).any()
    return [str(a) for a, m in moved.items() if not m]


def _warning_rows(run: RunData, names: dict[str, str]) -> list[dict]:
    rows = []
    for _, r in run.early_warnings.iterrows():
        ally = str(r.get("ally"))
        rows.append({"ally": ally, "name": names.get(ally, ""),
                     "probability": _fmt(r.get("probability"), pct=True),
                     "previous": _fmt(r.get("previous"), pct=True),
                     "change": _fmt(r.get("change"), signed=True, pct=True),
                     "change_class": _sign_class(-_num(r.get("change")))})
    return rows


def _num(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _latest_months(month) -> str:
    """``"2026-02 → 2026-03"``: the months the latest month's change is between."""
    try:
        now = pd.Period(str(month), "M")
    except (ValueError, TypeError):
        return "the month before → the latest month"
    return f"{now - 1} → {now}"


def _signal_rows(catalog: dict) -> list[dict]:
    """What each signal of the run's catalog is (role, family, frequency, unit, description),
    in the catalog's order; none where the manifest does not say (a run published before
    2026-12-02).

    Examples
    --------
    >>> rows = _signal_rows({"signals": {"hedging": "outcome", "lapse": "driver"},
    ...                      "about": {"hedging": {"family": "negbin", "unit": "acts"}}})
    >>> [(r["signal"], r["role"], r["family"], r["unit"], r["frequency"]) for r in rows]
    [('hedging', 'outcome', 'negbin', 'acts', '')]
    """
    from forecast.runfiles import SIGNAL_ABOUT

    about = catalog.get("about") or {}
    return [{"signal": name, "role": role,
             **{key: str(about[name].get(key, "")) for key in SIGNAL_ABOUT}}
            for name, role in (catalog.get("signals") or {}).items() if name in about]


def _view(run: RunData) -> dict:
    from forecast.pareto import K_THRESHOLD
    from forecast.catalog import RESERVED_SIGNAL

    m = run.manifest
    drivers = _drivers(run)
    settings = m.get("settings", {})
    names = m.get("catalog", {}).get("allies", {})
    figures, alt = {}, {}
    if len(run.credibility):
        first_data = m.get("data", {}).get("first_data") or {}
        figures["fan"] = figure_png(fan_chart_figure(run.credibility, run.forecast, run.outcome,
                                                     names, first_data))
        alt["fan"] = fan_chart_text(run.credibility, run.forecast, first_data)
    if len(run.coverage):
        figures["coverage"] = figure_png(coverage_figure(run.coverage))
        alt["coverage"] = coverage_text(run.coverage)
    level = drawable_level(run.hedging_level)
    if len(level) > 1:  # one year's level is 1 by construction: nothing to see
        figures["hedging_level"] = figure_png(hedging_level_figure(level))
        alt["hedging_level"] = hedging_level_text(level)
    from forecast.monthly import HEADLINE_HORIZONS, TREND_PROB

    diag = run.diagnostics
    horizon, beyond = run_horizon(run)
    env = m.get("environment", {})
    git = env.get("git") or {}
    data = m.get("data", {})
    return {
        "month": m.get("month", "?"),
        "run": m.get("run", run.path.name),
        "revision": m.get("revision", 1),
        "created": m.get("created", ""),
        "settings": settings,
        "quick": bool(m.get("quick")) or settings.get("preset") == "quick",
        "preset": settings.get("preset", "default"),
        "forced": bool(m.get("forced")),
        "gate_failures": m.get("gate_failures", []),
        "run_on": m.get("run_on"),
        "previous_run": m.get("previous_run"),
        "previous_caveats": m.get("previous_run_caveats") or [],
        "previous_gap": m.get("previous_run_gap"),
        "timing_note": ("The model's timing: a driver (a consultation lapse, say) moves "
                        "credibility in the month after it, so this month's drivers show in "
                        "next month's change; a month's hedging count speaks to the month "
                        "before it: acts this month usually lower the estimate of last "
                        "month's credibility more than this month's, so a surge of hedging "
                        "tends to show as a rise in the month's change (from a lower start). "
                        "A driver is measured against its average month: a month with less "
                        "of it than usual (fewer lapses, say) raises credibility, so a driver "
                        "that can only lower it may show a positive contribution."),
        "headline": headline_rows(run),
        # a run written before p_rose colours its changes by the sign alone
        "change_told": "p_rose" in run.headline, "trend_prob": TREND_PROB,
        "drivers": drivers,
        "unreliable_k": (K_THRESHOLD if any(s["unreliable"] for d in drivers
                                            for s in d["signals"]) else None),
        "noise_mcse": (NOISE_MCSE if any(s["noise"] for d in drivers for s in d["signals"])
                       else None),
        "noise_widening": HEAVY_TAIL_WIDENING,
        "figures": figures,
        "alt": alt,
        # a fit with drivers has their rows in the attribution (role "driver")
        "has_drivers": bool(len(run.attribution) and "role" in run.attribution
                            and (run.attribution["role"] == "driver").any()),
        "latest_months": _latest_months(m.get("month")),
        "warnings": _warning_rows(run, names),
        "warning": m.get("early_warning", {"threshold": 0.5, "within": 3}),
        "scenario": _table(scenario_view(run.scenario)),
        "scenario_unmoved": unmoved_allies(run.scenario),
        "scenario_file": (m.get("inputs", {}).get("scenario") or {}).get("path"),
        "scenario_about": m.get("scenario") or {},
        "scenario_overrides": _table(_labels_shown(run.scenario_overrides), max_rows=50),
        "diagnostics": diag,
        "diag_table": [{"check": str(r.get("check")),
                        "value": _fmt(r.get("value"), _DIAG_DIGITS.get(str(r.get("check")), 2)),
                        "required": str(r.get("required")), "ok": bool(r.get("ok"))}
                       for r in diag.get("table", [])],
        "worst": _worst_table(diag.get("worst", [])),
        "inputs": [{"role": k, **v} for k, v in m.get("inputs", {}).items()],
        "env": env,
        "git": git,
        "timings": {k: _fmt(v, 1) for k, v in m.get("timings", {}).items()},
        "data": data,
        "signals": _signal_rows(m.get("catalog", {})),
        # what validate warned of (read_run checked a list of text); none before 2026-12-01
        "data_warnings": data.get("warnings") or [],
        "input_key": m.get("input_key", ""),
        "horizons": HEADLINE_HORIZONS,
        "horizon": horizon,
        # the headline's probabilities beyond a short run's horizon are blank: said why
        "short_of": [f"P(hedging ≤ {h} mo)" for h in beyond],
    }


# ---------------------------------------------------------------------- rendering
def render_report(run_dir: str | Path) -> str:
    """The report of a run directory as one HTML string.

    Examples
    --------
    >>> render_report("no/such/run")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    forecast.errors.InputError: no/such/run: not a run directory: expected manifest.json in it
    """
    from jinja2 import Environment, StrictUndefined

    run = read_run(run_dir)
    env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True)
    return env.from_string(TEMPLATE).render(**_view(run))


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Render the report of ``run_dir`` to ``out`` (default ``RUN_DIR/report.html``),
    atomically (a reader never sees half a file)."""
    from forecast.files import write_text_atomically

    target = Path(out) if out is not None else Path(run_dir) / "report.html"
    return write_text_atomically(target, render_report(run_dir), "report")


TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Alliance credibility — {{ month }}{% if run != month %} ({{ run }}){% endif %}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
         max-width: 1180px; margin: 0 auto; padding: 18px 28px 60px; }
  h1 { font-size: 22px; margin: 8px 0 2px; }
  h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 3px; }
  .meta { color: #666; font-size: 12.5px; }
  .banner { padding: 9px 13px; border-radius: 5px; margin: 10px 0; font-weight: 600; }
  .banner.forced { background: #fdecea; border: 1px solid #e0a09a; color: #8a1f11; }
  .banner.quick { background: #fff6dd; border: 1px solid #e6cf7a; color: #6b5200; }
  .banner.ok { background: #eaf6ec; border: 1px solid #9fcfaa; color: #1d5c2b; font-weight: 500; }
  table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
  /* on a narrow screen a wide table scrolls in its own box, not the page past its edge */
  .scroll { max-width: 100%; overflow-x: auto; }
  th, td { padding: 4px 10px; border-bottom: 1px solid #eee; text-align: right; }
  th { background: #f6f7f9; font-weight: 600; }
  td.l, th.l { text-align: left; }
  .up { color: #1d7a35; } .down { color: #b3261e; }
  .arrow { font-size: 17px; white-space: nowrap; }
  .small { font-size: 12px; color: #666; }
  img { max-width: 100%; }
  code { font-size: 12px; background: #f4f4f4; padding: 1px 4px; border-radius: 3px; }
  details { margin: 8px 0; }
  .bad { color: #b3261e; font-weight: 600; } .good { color: #1d7a35; }
  th[scope="row"] { background: none; font-weight: normal; }
  /* a table scrolled sideways keeps its first column, the ally, in view */
  .scroll table.rows th:first-child { position: sticky; left: 0; background: #fff; }
  .scroll table.rows tr:first-child th:first-child { background: #f6f7f9; }
  .scroll table.rows td { white-space: nowrap; }
  @media print {
    body { max-width: none; padding: 0; }
    .scroll { overflow: visible; }
    h2 { break-after: avoid; }
    table, img, .banner { break-inside: avoid; }
  }
</style>
</head>
<body>
<h1>Alliance credibility and hedging — {{ month }}</h1>
<div class="meta">Run <code>{{ run }}</code> (revision {{ revision }}) · created {{ created }} ·
  spec <code>{{ settings.spec_name }}</code> · {{ settings.sampler }},
  {{ settings.chains }} chains × {% if run_on %}{{ run_on.draws }} draws (run on from
  {{ run_on.first_draws }}; {% else %}{{ settings.draws }} draws ({% endif %}{{ settings.tune }} tuning) ·
  seed {{ settings.seed }} · horizon {{ horizon }} months{% if previous_run %} · compared with <code>{{ previous_run }}</code>{% if previous_caveats %} <b class="down">({{ previous_caveats | join(", ") }}: a poor baseline)</b>{% endif %}{% if previous_gap %} ({{ previous_gap }}){% endif %}{% endif %}</div>

{% if forced %}
<div class="banner forced">FORCED PUBLICATION: this fit did NOT pass the convergence checks
  ({{ gate_failures | join("; ") }}). Its numbers may be wrong; do not rely on them.</div>
{% endif %}
{% if quick %}
<div class="banner quick">QUICK RUN: a small-sample smoke test ({{ settings.chains }} × {{ settings.draws }} draws);
  not for analysis.</div>
{% elif preset != "default" %}
<div class="banner quick">Custom sampler settings ({{ settings.chains }} × {{ settings.draws }} draws), not the
  default 4 × 1000.</div>
{% endif %}
{% if data.get("last_observed_month") and data.get("last_observed_month") < month %}
<div class="banner quick">No monthly signal is observed after {{ data.last_observed_month }}: the
  credibility of {{ month }} is a forecast from earlier months, not a reading of new data.</div>
{% endif %}
{% for w in data_warnings %}
<div class="banner quick">Data: {{ w }}</div>
{% endfor %}
{% if not forced and diagnostics.get("converged") %}
<div class="banner ok">Convergence checks passed{% if run_on %} after the chains ran on to
  {{ run_on.draws }} draws{% endif %} (max R-hat {{ "%.4f"|format(diagnostics.max_rhat) }},
  min bulk ESS {{ "%.0f"|format(diagnostics.min_ess_bulk) }}, {{ diagnostics.divergences }} divergences).</div>
{% endif %}

<h2>Headline</h2>
<p class="small" id="headline-about">Per ally: credibility now and the probability of hedging ahead.</p>
<div class="scroll"><table class="rows" aria-labelledby="headline-about">
  <tr><th class="l" scope="col">Ally</th><th scope="col">Credibility now</th>
      <th scope="col">90% interval</th><th scope="col">Change</th><th scope="col">Trend</th>
      {% for h in horizons %}<th scope="col">P(hedging ≤ {{ h }} mo)</th>{% endfor %}
      <th scope="col">Δ P(≤ 3 mo)</th></tr>
  {% for r in headline %}
  <tr><th class="l" scope="row"><b>{{ r.ally }}</b> {{ r.name }}</th><td>{{ r.credibility }}</td>
      <td class="small">{{ r.interval }}</td>
      <td class="{{ r.change_class }}"{% if r.p_rose %} title="This fit's probability that credibility rose since the previous run's month: {{ r.p_rose }}"{% endif %}>{{ r.change }}</td>
      <td class="arrow {{ 'up' if r.trend == 'up' else ('down' if r.trend == 'down' else '') }}"
          title="P(credibility rose over the last 3 months) = {{ r.p_up }}">{{ r.arrow }}
          <span class="small">P↑&nbsp;{{ r.p_up }}</span></td>
      <td>{{ r.p1 }}</td><td>{{ r.p3 }}</td><td>{{ r.p12 }}</td><td>{{ r.p3_change }}</td></tr>
  {% endfor %}
</table></div>
<p class="small">Credibility is latent, on a scale where the allies' long-run standard deviations
  average 1 (geometrically) and 0 is each ally's usual level with its drivers at the panel's
  average month (a month with fewer lapses than average, say, pushes up); higher = more
  credible. The drivers' pushes come on top, so months of lapses can hold an ally several
  units below 0.
  Credibility now: the posterior mean, with its 90% interval (the fan charts draw the median).
  Change: vs. the previous published run's latest month{% if not previous_run %} (none in
  this registry: "–"){% elif change_told %}, coloured as a rise or a fall only where this
  fit's posterior probability that credibility moved that way since that month is ≥ {{
  "%.0f"|format(100 * trend_prob) }}% (in the cell's tooltip); a change within the posterior's
  uncertainty, or whose sign this fit's own estimate of that month does not share (a
  revision), is left uncoloured{% endif %}.
  Trend: ↑/↓ when the posterior probability that credibility rose over the last 3 months (the
  P↑ beside the arrow) is ≥ 80% / ≤ 20%, else →. P(hedging ≤ h mo): probability of at least one hedging act within the next
  h months.{% if short_of %} This run forecast {{ horizon }} month{{ "s" if horizon != 1 }}
  ahead: {{ short_of | join(" and ") }} {{ "is" if short_of | length == 1 else "are" }} beyond it
  ("–").{% endif %}</p>

<h2>What changed and why</h2>
{% macro parts(d) -%}
{% for s in d.signals %}<span class="{{ s.cls }}">{{ s.signal }} {{ s.value }}{% if s.unreliable %}&nbsp;†{% endif %}{% if s.noise %}&nbsp;‡{% endif %}</span>{% if not loop.last %}, {% endif %}{% else %}–{% endfor %}{% if d.other %}, other {{ d.other }}{% endif %}
{%- endmacro %}
{% if previous_run %}
<div class="scroll"><table class="rows">
  <tr><th class="l" scope="col">Ally</th><th scope="col">Credibility change</th>
      <th scope="col">Δ P(hedging ≤ 3 mo)</th>
      <th class="l" scope="col">The latest month's change ({{ latest_months }}) = the signals that moved it most + other</th></tr>
  {% for d in drivers %}
  <tr><th class="l" scope="row"><b>{{ d.ally }}</b> {{ d.name }}</th>
      <td class="{{ d.change_class }}"{% if d.p_rose %} title="This fit's probability that credibility rose since the previous run's month: {{ d.p_rose }}"{% endif %}>{{ d.change }}{% if d.revision %}<br><span class="small">{{ d.month_change }} in the month, {{ d.revision }} revised</span>{% endif %}</td><td>{{ d.p3_change }}</td>
      <td class="l">{% if d.month_change %}{{ d.month_change }} = {% endif %}{{ parts(d) }}</td></tr>
  {% endfor %}
</table></div>
<p class="small">Credibility change: against the previous run's latest month. Where that is
  the month before, it is the latest month's change plus the revision: how far this fit, with
  the new month's data, moved its estimate of that month from the previous run's (each
  month's estimate also reads the months after it, so a new month revises the last). The latest
  month's change (posterior mean, on the credibility scale above: 1 is about one ally's
  long-run standard deviation) splits into the signals that moved it (leave-one-out) and
  other: persistence, the common factor, the month's shock and the signals not shown.
  {{ timing_note }}</p>
{% else %}
<p>No earlier published run in this registry to compare with. Below, per ally: the latest
  month's change in credibility ({{ latest_months }}, posterior mean, on the credibility scale
  above: 1 is about one ally's long-run standard deviation) = the signals that moved it most + other
  (persistence, the common factor, the month's shock and the signals not shown).
  {{ timing_note }}</p>
<ul>
  {% for d in drivers %}
  <li><b>{{ d.ally }}</b>: {% if d.month_change %}{{ d.month_change }} = {% endif %}{{ parts(d) }}</li>
  {% endfor %}
</ul>
{% endif %}
{% if unreliable_k %}<p class="small">† Pareto k̂ above {{ unreliable_k }}: the signal's newest observations are
  influential enough that this estimate without refitting is not to be trusted (it is not
  coloured as a rise or a fall); only a refit without those observations measures its
  contribution.</p>{% endif %}
{% if noise_mcse %}<p class="small">‡ Within {{ noise_mcse|int }} Monte Carlo standard errors of zero (the
  <code>mcse</code> column of <code>attribution.csv</code>, widened by {{ noise_widening }} where
  Pareto k̂ is above 0.5): the draws cannot tell this contribution from none, and as many draws
  again could reverse its sign; it is not coloured as a rise or a fall.</p>{% endif %}

<h2>Forecasts</h2>
{% if figures.fan is defined %}
{% if has_drivers %}
<p class="small">Future drivers are drawn at each ally's recent rate (from its last 12 observed
  months; for counts a rate drawn from its posterior under a Jeffreys prior, whose mean is
  (total + 0.5) / months), the latest month's own value moving the first forecast month: the
  forecast assumes that the recent pace of lapses, say, goes on, and credibility returns toward
  the ally's usual level (0, at the panel's average month of drivers) as its persistence lets
  it, pushed by those drivers. After a month of lapses and then one without, the first
  forecast month lies above the last fitted one: the lapse's push has passed.
  <code>forecast scenario</code> tries other assumptions.</p>
{% endif %}
<p class="small">Left: credibility, fitted (blue) and forecast (orange), median with 50% and 90%
  intervals. Right: hedging acts per month, observed (grey bars, a dot on every observed month, 0
  included; no dot: not observed) and forecast (red): median (solid), 50%
  and 90% intervals, and mean (dashed), which a few draws with many acts can lift above the
  90% band; where a few draws decide it (Pareto k̂ of its draws above 0.7, the
  <code>mean_pareto_k</code> column of <code>forecast.csv</code>) the mean is not drawn.</p>
<img alt="{{ alt.fan }}" src="data:image/png;base64,{{ figures.fan }}">
{% else %}<p>No forecast tables in this run.</p>{% endif %}
{% if figures.hedging_level is defined %}
<h3>Hedging's common level by year</h3>
<p class="small">The level of hedging common to the allies walks year by year (a factor on every
  ally's expected count of acts; 1 is its geometric mean over the data's years; median and 90%
  interval, <code>hedging_level.csv</code>). The forecasts carry the data's last year's level
  on, and each new year's step widens them: a common rise lifts every ally's hedging
  forecast.</p>
<img alt="{{ alt.hedging_level }}" src="data:image/png;base64,{{ figures.hedging_level }}">
{% endif %}

<h2>Early warnings</h2>
<p class="small">Allies whose probability of at least one hedging act within the next
  {{ warning.within }} months is {{ "%.0f"|format(warning.threshold * 100) }}% or more.</p>
{% if warnings %}
<div class="scroll"><table class="rows">
  <tr><th class="l" scope="col">Ally</th><th scope="col">P(hedging ≤ {{ warning.within }} mo)</th>
      <th scope="col">Previous run</th><th scope="col">Change</th></tr>
  {% for w in warnings %}
  <tr><th class="l" scope="row"><b>{{ w.ally }}</b> {{ w.name }}</th><td>{{ w.probability }}</td>
      <td>{{ w.previous }}</td><td class="{{ w.change_class }}">{{ w.change }}</td></tr>
  {% endfor %}
</table></div>
{% else %}<p>No ally crosses the warning threshold this month.</p>{% endif %}

{% if scenario.rows or scenario_unmoved or scenario_file %}
<h2>Scenario{% if scenario_about.get("name") %}: {{ scenario_about.name }}{% endif %}</h2>
{% if scenario_about.get("description") %}<p>{{ scenario_about.description }}</p>{% endif %}
{% if scenario_overrides.rows %}
<p class="small">What it assumes (scenario_overrides.csv{% if scenario_file %}, from
  <code>{{ scenario_file }}</code>{% endif %}): set replaces the driver's forecast value, add adds to it.</p>
<div class="scroll"><table>
  <tr>{% for h in scenario_overrides.header %}<th class="l" scope="col">{{ h }}</th>{% endfor %}</tr>
  {% for row in scenario_overrides.rows %}<tr>{% for c in row %}<td class="l">{{ c }}</td>{% endfor %}</tr>{% endfor %}
</table></div>
{% if scenario_overrides.more %}<p class="small">… {{ scenario_overrides.more }} more rows in scenario_overrides.csv</p>{% endif %}
{% elif scenario_file %}<p class="small">From <code>{{ scenario_file }}</code>.</p>{% endif %}
<p class="small">Scenario minus baseline on paired draws (same posterior draws, shocks and noise):
  the difference is the scenario's effect alone. A value set replaces what each baseline draw
  assumed for that month, so an interval holds the baseline's own spread of the driver as well
  as the effect's uncertainty (a value added does not). h: months ahead.</p>
{% if scenario.rows %}
<div class="scroll"><table class="rows">
  <tr>{% for h in scenario.header %}<th class="l" scope="col">{{ h }}</th>{% endfor %}</tr>
  {% for row in scenario.rows %}<tr>{% for c in row %}{% if loop.first %}<th class="l" scope="row">{{ c }}</th>{% else %}<td class="l">{{ c }}</td>{% endif %}{% endfor %}</tr>{% endfor %}
</table></div>
{% if scenario.more %}<p class="small">… {{ scenario.more }} more rows in scenario.csv</p>{% endif %}
{% else %}<p>The scenario moved no ally's forecast: every change is 0 (its values may equal
  what the baseline assumes).</p>{% endif %}
{% if scenario_unmoved %}<p class="small">Not moved by the scenario (every change 0, not shown):
  {{ scenario_unmoved | join(", ") }}.</p>{% endif %}
{% endif %}

<h2>Diagnostics</h2>
{% if run_on %}
<p class="small">The first {{ settings.chains }} × {{ run_on.first_draws }} draws failed on R-hat alone
  ({{ run_on.first_failures | join("; ") }}; every other check passed). With every ESS above the
  gate, an R-hat just above 1.01 is often chance, and chains run on tell chance from chains that
  disagree (decision 0018).
  {% if run_on.same_chains %}The same chains were run on{% else %}The
  fit was run again from the same seed{% endif %} to {{ run_on.draws }} draws each, and every check below
  was applied again to all of them.</p>
{% endif %}
<div class="scroll"><table>
  <tr><th class="l" scope="col">Check</th><th scope="col">Value</th><th scope="col">Required</th>
      <th class="l" scope="col">Result</th></tr>
  {% for r in diag_table %}
  <tr><td class="l">{{ r.check }}</td><td>{{ r.value }}</td><td>{{ r.required }}</td>
      <td class="l {{ 'good' if r.ok else 'bad' }}">{{ 'ok' if r.ok else 'FAILED' }}</td></tr>
  {% endfor %}
</table></div>
{% if worst.rows %}
<details><summary>{{ 'Failing quantities' if gate_failures else 'Quantities nearest the gate' }}</summary>
<div class="scroll"><table>
  <tr>{% for h in worst.header %}<th class="{{ 'l' if loop.first else '' }}" scope="col">{{ h }}</th>{% endfor %}</tr>
  {% for row in worst.rows %}<tr>{% for c in row %}<td class="{{ 'l' if loop.first else '' }}">{{ c }}</td>{% endfor %}</tr>{% endfor %}
</table></div></details>
{% endif %}

<h2>Data coverage</h2>
<p class="small">{{ data.get("allies", [])|length }} allies, {{ data.get("signals", [])|length }} signals,
  {{ data.get("first_month", "") }} to {{ data.get("last_month", "") }}{% if data.get("embedded") %} (embedded dataset){% endif %}.
  Share of each signal's periods observed per year (white = not observed; a missing row means
  "not observed", never zero).</p>
{% if figures.coverage is defined %}
<img alt="{{ alt.coverage }}" src="data:image/png;base64,{{ figures.coverage }}">
{% endif %}
{% if signals %}
<details><summary>What each signal measures ({{ signals|length }} signals, from the catalog)</summary>
<div class="scroll"><table>
  <tr><th class="l" scope="col">Signal</th><th class="l" scope="col">Role</th><th class="l" scope="col">Family</th><th class="l" scope="col">Frequency</th><th class="l" scope="col">Unit</th><th class="l" scope="col">Description</th></tr>
{% for s in signals %}
  <tr><th class="l" scope="row">{{ s.signal }}</th><td class="l">{{ s.role }}</td><td class="l">{{ s.family }}</td><td class="l">{{ s.frequency }}</td><td class="l">{{ s.unit }}</td><td class="l">{{ s.description }}</td></tr>
{% endfor %}
</table></div>
</details>
{% endif %}

<h2>Provenance</h2>
<details open><summary>Inputs</summary>
<div class="scroll"><table>
  <tr><th class="l" scope="col">Role</th><th class="l" scope="col">File</th>
      <th class="l" scope="col">SHA-256</th><th scope="col">Bytes</th></tr>
  {% for f in inputs %}
  <tr><td class="l">{{ f.role }}</td><td class="l"><code>{{ f.path }}</code></td>
      <td class="l"><code>{{ f.sha256[:16] }}…</code></td><td>{{ f.bytes }}</td></tr>
  {% endfor %}
</table></div></details>
<details><summary>Software and timings</summary>
<p class="small">forecast {{ env.get("forecast", "?") }}{% if git %} (git {{ git.get("commit", "")[:10] }}{% if git.get("dirty") %}, with local changes{% endif %}){% endif %},
  Python {{ env.get("python", "?") }} on {{ env.get("platform", "?") }}.
  {% for name, v in env.get("dependencies", {}).items() %}{{ name }} {{ v }}{% if not loop.last %} · {% endif %}{% endfor %}</p>
<p class="small">Timings (s): {% for k, v in timings.items() %}{{ k }} {{ v }}{% if not loop.last %} · {% endif %}{% endfor %}</p>
<p class="small">Input key <code>{{ input_key }}</code></p>
</details>
</body>
</html>
"""
