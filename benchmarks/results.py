"""What the fit-by-fit benchmark scripts (``warm_start.py``, ``tuning.py``) share: a fit's row of
figures, and a run's results printed and, when asked, written as JSON."""

from __future__ import annotations

import json
from typing import Callable


def fit_row(fit) -> dict:
    """Sampling time (tuning included), min bulk and tail ESS, max R-hat, divergences, whether
    the monthly run's gate passes, min bulk ESS per second, and whether the fit was warm-started.
    """
    d = fit.diagnostics()
    t = fit.timings["sampling_s"]
    return {"sampling_s": t, "min_ess_bulk": d.min_ess_bulk, "min_ess_tail": d.min_ess_tail,
            "max_rhat": d.max_rhat, "divergences": d.divergences, "gate": d.converged,
            "ess_per_s": d.min_ess_bulk / t, "warm_start": fit.timings["warm_start"]}


def finish(result: dict, report: Callable[[dict], None], out: str | None) -> None:
    """Print ``result`` with ``report``, then write it to ``out`` as JSON when given."""
    report(result)
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=1)
