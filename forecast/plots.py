"""Figures for forecasts: fan charts of credibility and hedging per ally.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot state), so they
work the same in a notebook, a script or the HTML report. A notebook shows them as images
through their ``_repr_png_``: a figure pyplot does not track is not drawn by its inline backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from forecast.errors import InputError, as_names, whole_number
from forecast.forecasting import reliable_mean
from forecast.pareto import K_THRESHOLD

if TYPE_CHECKING:
    from forecast.forecasting import ForecastResult

__all__ = ["fan_chart"]

HISTORY_COLOR = "#4c4c4c"
FORECAST_COLOR = "#1f77b4"
HEDGING_COLOR = "#d62728"


class NotebookFigure(Figure):
    """A :class:`~matplotlib.figure.Figure` that IPython displays as a PNG image, with or
    without ``%matplotlib inline``."""

    def _repr_png_(self) -> bytes:
        from io import BytesIO

        buffer = BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


def _timestamps(periods) -> np.ndarray:
    return pd.PeriodIndex([str(p) for p in periods], freq="M").to_timestamp().to_numpy()


def _bands(ax, t: np.ndarray, frame: pd.DataFrame, color: str, labelled: bool = True,
           **fill) -> None:
    """The 90 % and 50 % intervals of ``frame`` (``q05``/``q95``, ``q25``/``q75``) over months
    ``t``: filled bands, or bars where there is one month (a band through one point has no
    width). ``labelled``: the bands carry legend labels."""
    for lo, hi, alpha, name, width in (("q05", "q95", 0.15, "90%", 10),
                                       ("q25", "q75", 0.3, "50%", 10)):
        label = name if labelled else None
        if len(t) == 1:
            ax.vlines(t, frame[lo], frame[hi], color=color, alpha=alpha, lw=width, label=label)
        else:
            ax.fill_between(t, frame[lo], frame[hi], color=color, alpha=alpha, lw=0,
                            label=label, **fill)


def fan_chart(result: "ForecastResult", allies: list[str] | None = None,
              history: int = 36) -> Figure:
    """One row per ally: credibility (left) and hedging (right), history then forecast.

    Credibility: posterior mean and 50%/90% bands of the fitted months (grey) and of the
    forecast (blue). Hedging: observed counts (dots), forecast mean (not drawn where a few
    draws decide it: :func:`forecast.forecasting.reliable_mean`, and the panel says in how
    many months) and 50%/90% bands, and P(at least one event) on a secondary axis.

    Parameters
    ----------
    result
        A forecast (:meth:`forecast.results.Fit.forecast`).
    allies
        Allies to show (default: all).
    history
        Fitted months shown before the origin.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = fan_chart(fc, allies=["KOR"])        # doctest: +SKIP
    >>> fig.savefig("kor.png")                     # doctest: +SKIP
    """
    ds = result.draws
    names = result.allies
    # one ally's code is one ally, not its letters
    allies = as_names(allies, "ally codes", "allies") if allies is not None else names
    unknown = [a for a in allies if a not in names]
    if unknown:
        raise InputError(f"unknown ally; the forecast has {', '.join(names)}", parameter="allies",
                         value=unknown[0])
    if not allies:
        raise InputError("no allies to plot", parameter="allies")
    whole_number("history", history, 0)
    hist_periods = ds["history_period"].values[-history:] if history > 0 else []
    t_hist = _timestamps(hist_periods)
    t_fc = _timestamps(ds["period"].values)
    t_origin = _timestamps([result.origin])
    hed = result.hedging(warn=False).set_index(["ally", "horizon"])  # its title says it
    cred = result.credibility().set_index(["ally", "horizon"])

    # one forecast month: a line or band through one point draws nothing, so points and bars
    marker = "o" if len(t_fc) == 1 else None
    fig = NotebookFigure(figsize=(11, 2.6 * len(allies)), layout="constrained")
    axes = fig.subplots(len(allies), 2, squeeze=False, sharex=True)
    for row, ally in enumerate(allies):
        ax_c, ax_h = axes[row]
        a = names.index(ally)
        c = cred.loc[ally]
        if len(t_hist):
            hs = ds.isel(ally=a, history_period=slice(-len(t_hist), None))
            ax_c.fill_between(t_hist, hs["history_q05"], hs["history_q95"],
                              color=HISTORY_COLOR, alpha=0.15, lw=0)
            ax_c.fill_between(t_hist, hs["history_q25"], hs["history_q75"],
                              color=HISTORY_COLOR, alpha=0.3, lw=0)
            ax_c.plot(t_hist, hs["history_mean"], color=HISTORY_COLOR, lw=1.2, label="fitted")
            last = hs.isel(history_period=-1)
            tc = np.concatenate([t_origin, t_fc])

            def join(col, origin_value, frame=c):
                return np.concatenate([[float(origin_value)], frame[col].to_numpy()])

            ax_c.fill_between(tc, join("q05", last["history_q05"]),
                              join("q95", last["history_q95"]), color=FORECAST_COLOR,
                              alpha=0.15, lw=0, label="90%")
            ax_c.fill_between(tc, join("q25", last["history_q25"]),
                              join("q75", last["history_q75"]), color=FORECAST_COLOR,
                              alpha=0.3, lw=0, label="50%")
            ax_c.plot(tc, join("mean", last["history_mean"]), color=FORECAST_COLOR, lw=1.5,
                      label="forecast")
            obs = hs["history_hedging"].values
            ax_h.plot(t_hist, obs, "o", ms=3, color=HISTORY_COLOR, label="observed")
        else:
            _bands(ax_c, t_fc, c, FORECAST_COLOR)
            ax_c.plot(t_fc, c["mean"], color=FORECAST_COLOR, lw=1.5, marker=marker, ms=4,
                      label="forecast")
        ax_c.axvline(t_origin[0], color="k", lw=0.6, ls=":")
        ax_c.set_ylabel(f"{ally}\ncredibility", parse_math=False)  # a "$" is text
        h = hed.loc[ally]
        _bands(ax_h, t_fc, h, HEDGING_COLOR, labelled=False, step="mid")
        mean = reliable_mean(h)
        ax_h.plot(t_fc, mean, color=HEDGING_COLOR, lw=1.5, marker=marker, ms=4,
                  label="forecast mean")
        if (gone := int((mean.isna() & h["mean"].notna()).sum())):  # said, not a line that stops
            ax_h.set_title(f"mean not drawn in {gone} month{'s' * (gone > 1)}: a few draws "
                           f"decide it (tail k̂ > {K_THRESHOLD}); read the bands", loc="right",
                           fontsize=7, color=HEDGING_COLOR, parse_math=False)
        ax_h.axvline(t_origin[0], color="k", lw=0.6, ls=":")
        ax_h.set_ylabel("hedging / month")
        ax_p = ax_h.twinx()
        ax_p.plot(t_fc, h["p_any"], color="k", lw=1, ls="--", marker=marker, ms=4,
                  label="P(≥1)")
        ax_p.set_ylim(0, 1)
        ax_p.set_ylabel("P(≥1)")
        if row == 0:
            ax_c.legend(loc="upper left", fontsize=7, ncol=4)
            ax_h.legend(loc="upper left", fontsize=7)
            ax_p.legend(loc="upper right", fontsize=7)
    for ax in axes[-1]:
        locator = AutoDateLocator(minticks=3, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    scen = ds.attrs.get("scenario_name") or "baseline"
    fig.suptitle(f"Forecast from {result.origin} ({scen}; drivers: "
                 f"{ds.attrs.get('driver_assumption', '?')})", fontsize=10, parse_math=False)
    return fig
