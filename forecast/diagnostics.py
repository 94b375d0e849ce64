"""Convergence diagnostics computed on every fit, and the gate a monthly run applies."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from forecast.convergence import quantity_statistics
from forecast.errors import PACKAGE_FRAMES

__all__ = ["Diagnostics", "Thresholds", "compute_diagnostics", "ConvergenceWarning", "runs_on",
           "RUN_ON_BELOW_RHAT"]

#: A fit refused on R-hat alone, at most this high, is one whose chains may be run on to twice
#: the draws and the whole gate applied again (docs/decisions/0018).
RUN_ON_BELOW_RHAT = 1.02


class ConvergenceWarning(UserWarning):
    """A fit that did not meet the convergence thresholds."""


@dataclass(frozen=True)
class Thresholds:
    """What counts as converged. ESS thresholds are capped at a quarter of the total draws,
    so a short exploratory run is judged on what it could possibly reach."""

    max_rhat: float = 1.01
    min_ess_bulk: float = 400.0
    min_ess_tail: float = 400.0
    max_divergences: int = 0
    min_bfmi: float = 0.3

    def scaled(self, total_draws: int) -> "Thresholds":
        cap = 0.25 * total_draws
        return Thresholds(self.max_rhat, min(self.min_ess_bulk, cap),
                          min(self.min_ess_tail, cap), self.max_divergences, self.min_bfmi)


@dataclass(frozen=True)
class Diagnostics:
    """Convergence summary of one fit.

    Attributes
    ----------
    max_rhat, min_ess_bulk, min_ess_tail
        Worst values over every posterior quantity (parameters and latent): rank-normalised
        split R-hat, bulk ESS, and tail ESS at the 5% and 95% quantiles
        (:mod:`forecast.convergence`).
    divergences
        Divergent transitions after tuning, all chains.
    min_bfmi
        Lowest E-BFMI over chains.
    worst
        The quantities that fail, at most the seven with the highest R-hat and the seven with
        the lowest bulk and tail ESS each (or, if none fail, those nearest each check's gate:
        the five lowest bulk ESS, the two highest R-hats and the two lowest tail ESS), with
        their values, ordered by bulk ESS.
    thresholds
        What was required.
    """

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    min_bfmi: float
    n_draws: int
    worst: list[dict] = field(default_factory=list)
    thresholds: Thresholds = field(default_factory=Thresholds)
    approximate: bool = False

    def _checks(self) -> list[tuple[str, str, float, str, bool, str]]:
        """``(key, check, value, required, ok, failure message)`` for each check."""
        t = self.thresholds
        return [
            ("rhat", "max R-hat", self.max_rhat, f"≤ {t.max_rhat}",
             self.max_rhat <= t.max_rhat,
             f"R-hat {self.max_rhat:.4f} > {t.max_rhat}" if not np.isnan(self.max_rhat)
             else "R-hat undefined: it compares chains, and the fit has one (run 2 or more)"),
            ("ess_bulk", "min bulk ESS", self.min_ess_bulk, f"≥ {t.min_ess_bulk:.0f}",
             self.min_ess_bulk >= t.min_ess_bulk,
             f"bulk ESS {self.min_ess_bulk:.0f} < {t.min_ess_bulk:.0f}"),
            ("ess_tail", "min tail ESS", self.min_ess_tail, f"≥ {t.min_ess_tail:.0f}",
             self.min_ess_tail >= t.min_ess_tail,
             f"tail ESS {self.min_ess_tail:.0f} < {t.min_ess_tail:.0f}"),
            ("divergences", "divergences", self.divergences,
             "none" if t.max_divergences == 0 else f"≤ {t.max_divergences}",
             self.divergences <= t.max_divergences, f"{self.divergences} divergent transition"
             f"{'' if self.divergences == 1 else 's'}"),
            ("bfmi", "min E-BFMI", self.min_bfmi, f"≥ {t.min_bfmi}", self.min_bfmi >= t.min_bfmi,
             f"E-BFMI {self.min_bfmi:.2f} < {t.min_bfmi}"),
        ]

    @property
    def failed_checks(self) -> list[str]:
        """Keys of the checks that failed: ``rhat``, ``ess_bulk``, ``ess_tail``,
        ``divergences``, ``bfmi`` (``approximate`` for a variational fit)."""
        if self.approximate:
            return ["approximate"]
        return [key for key, _, _, _, ok, _ in self._checks() if not ok]

    @property
    def failures(self) -> list[str]:
        """Plain-language list of the checks that failed (empty when converged)."""
        if self.approximate:
            return ["approximate (variational) fit: no MCMC convergence guarantees"]
        return [message for _, _, _, _, ok, message in self._checks() if not ok]

    @property
    def converged(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict:
        d = asdict(self)
        d["converged"] = self.converged
        d["failures"] = self.failures
        return d

    def table(self) -> pd.DataFrame:
        """One row per check: value, threshold, ok."""
        rows = [(check, value, required, ok) for _, check, value, required, ok, _ in self._checks()]
        return pd.DataFrame(rows, columns=["check", "value", "required", "ok"])


def _or(value: float, instead: float) -> float:
    """``value``, or ``instead`` where it is NaN (for ordering)."""
    return instead if np.isnan(value) else value


def _worst(failing: pd.DataFrame, live: pd.DataFrame, per_check: int = 7) -> list[dict]:
    """The quantities to show: of the failing ones, the highest R-hats and the lowest bulk and
    tail ESS (each check's own culprits: a single innovation with R-hat 1.07 often has a high
    bulk ESS); if none fail, those nearest each check's gate: the five lowest bulk ESS, the two
    highest R-hats and the two lowest tail ESS (a max R-hat of 1.0097 is then found by name).
    Ordered by bulk ESS, at most 3 × 7."""
    if not len(failing):
        keys = list(dict.fromkeys([*live.nsmallest(5, "ess_bulk").index,
                                   *live.nlargest(2, "r_hat").index,
                                   *live.nsmallest(2, "ess_tail").index]))
        show = live.loc[keys]
    else:
        keys = list(dict.fromkeys([*failing.nlargest(per_check, "r_hat").index,
                                   *failing.nsmallest(per_check, "ess_bulk").index,
                                   *failing.nsmallest(per_check, "ess_tail").index]))
        show = failing.loc[keys]
    show = show.sort_values("ess_bulk")
    return [{"quantity": k, **{c: float(v) for c, v in row.items()}} for k, row in show.iterrows()]


def runs_on(diag: Diagnostics, below: float = RUN_ON_BELOW_RHAT) -> bool:
    """Whether a refused fit is one that running its chains longer can settle.

    It is when R-hat is the only check that failed and is at most ``below``: with every ESS
    above the gate, R-hat just above 1.01 is mostly chance at 4 × 1000 draws
    (docs/decisions/0012). A chain stuck elsewhere gives far higher values, or low ESS too;
    more draws answer neither a divergence nor a low E-BFMI.

    Examples
    --------
    >>> runs_on(Diagnostics(1.012, 900.0, 800.0, 0, 0.9, 4000))
    True
    >>> runs_on(Diagnostics(1.012, 900.0, 800.0, 1, 0.9, 4000))  # a divergence too
    False
    >>> runs_on(Diagnostics(1.6, 900.0, 800.0, 0, 0.9, 4000))
    False
    """
    return diag.failed_checks == ["rhat"] and diag.max_rhat <= below


def compute_diagnostics(idata, thresholds: Thresholds | None = None, *, warn: bool = True,
                        approximate: bool = False) -> Diagnostics:
    """R-hat, bulk/tail ESS, divergences and E-BFMI of a posterior DataTree.

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> dt = az.from_dict({"posterior": {"x": np.random.default_rng(0).normal(size=(4, 500))}})
    >>> d = compute_diagnostics(dt, warn=False)
    >>> d.max_rhat < 1.02
    True
    """
    post = idata["posterior"].to_dataset()
    n_draws = int(post.sizes["chain"] * post.sizes["draw"])
    thresholds = (thresholds or Thresholds()).scaled(n_draws)
    if approximate:
        diag = Diagnostics(np.nan, np.nan, np.nan, 0, np.nan, n_draws, [], thresholds, True)
        if warn:
            warnings.warn(diag.failures[0], ConvergenceWarning, skip_file_prefixes=PACKAGE_FRAMES)
        return diag
    table = quantity_statistics(post)
    divergences = 0
    min_bfmi = np.nan
    if "sample_stats" in idata.children:
        ss = idata["sample_stats"].to_dataset()
        if "diverging" in ss:
            divergences = int(ss["diverging"].values.sum())
        if "energy" in ss:
            import arviz as az  # here, not at the top: the command line imports this module

            bfmi = az.bfmi(idata)
            if isinstance(bfmi, xr.DataTree):
                node = bfmi["sample_stats"] if "sample_stats" in bfmi.children else bfmi
                bfmi = node.to_dataset()
            values = [np.asarray(v) for v in (bfmi.data_vars.values()
                                              if isinstance(bfmi, xr.Dataset) else [bfmi])]
            min_bfmi = float(min(np.min(v) for v in values))
    # a quantity with a NaN or infinite draw has R-hat ∞ in the table, so it fails; constant
    # quantities (e.g. a fixed first drift step) have no statistics at all: ignore them; with
    # one chain R-hat is undefined (NaN, which fails) while the ESS are not
    live = table.dropna(how="all")
    t = thresholds
    failing = live[(live["r_hat"] > t.max_rhat) | (live["ess_bulk"] < t.min_ess_bulk)
                   | (live["ess_tail"] < t.min_ess_tail)]
    worst = _worst(failing, live)
    diag = Diagnostics(
        max_rhat=float(live["r_hat"].max()) if len(live) else np.nan,
        min_ess_bulk=float(live["ess_bulk"].min()) if len(live) else np.nan,
        min_ess_tail=float(live["ess_tail"].min()) if len(live) else np.nan,
        divergences=divergences,
        min_bfmi=min_bfmi if np.isfinite(min_bfmi) else 1.0,
        n_draws=n_draws,
        worst=worst,
        thresholds=thresholds,
    )
    if warn and not diag.converged:
        lead = [max(worst, key=lambda w: _or(w["r_hat"], -np.inf)),
                min(worst, key=lambda w: _or(w["ess_bulk"], np.inf)),
                min(worst, key=lambda w: _or(w["ess_tail"], np.inf))] if worst else []
        # each check's culprit first
        names = ", ".join(list(dict.fromkeys(w["quantity"] for w in lead + worst))[:8])
        hint = ("; R-hat alone failed: fitting again with the same seed and twice the draws "
                "runs the same chains on (docs/decisions/0018)"
                if runs_on(diag) else "")
        warnings.warn(
            f"the fit did not converge ({'; '.join(diag.failures)}); worst: {names}{hint}",
            ConvergenceWarning, skip_file_prefixes=PACKAGE_FRAMES)
    return diag
