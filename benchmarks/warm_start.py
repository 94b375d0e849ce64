"""Warm start across backtest origins: a fit started from the previous origin's draws with a
shorter warm-up, against a cold fit with the full warm-up, on the same origins in the same run.

    python benchmarks/warm_start.py [--origins 4] [--warm-tune 300] [--draws 1000]

The embedded data are cut at the last ``--origins`` months before their end (a backtest's
origins, a month apart). The first origin is fitted cold. Each later origin is then fitted
twice with one :class:`forecast.compiled.CompiledFitter` (a new length compiles once, read back
for the second fit): cold (PyMC's support point, ``tune`` 1000) and warm (``init`` the previous
origin's warm fit, ``tune`` ``--warm-tune``), with the same seed. Printed per origin and as
medians: sampling time (warm-up included), min bulk and tail ESS and max R-hat over every
quantity, divergences, min bulk ESS per second; then the medians of the paired ratios warm /
cold. Whether a warm fit would pass the monthly run's gate is the ``gate`` column.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from arguments import at_least  # beside this script
from results import finish, fit_row  # beside this script

COLD_TUNE = 1000


def run(origins: int, warm_tune: int, draws: int, seed: int) -> dict:
    import forecast
    from forecast.compiled import CompiledFitter

    full = forecast.load_default()
    months = [str(m) for m in full.months[-origins - 1:-1]]
    fitter = CompiledFitter("default", share_cache=False)
    common = dict(draws=draws, chains=4, seed=seed, warn=False)
    previous = fitter.fit(full.truncate(months[0]), tune=COLD_TUNE, **common)
    rows = []
    for month in months[1:]:
        panel = full.truncate(month)
        cold = fitter.fit(panel, tune=COLD_TUNE, **common)
        warm = fitter.fit(panel, tune=warm_tune, init=previous, **common)
        rows.append({"origin": month, "cold": fit_row(cold), "warm": fit_row(warm)})
        previous = warm
    return {"origins": months, "warm_tune": warm_tune, "cold_tune": COLD_TUNE, "draws": draws,
            "seed": seed, "rows": rows}


def report(result: dict) -> None:
    print(f"embedded data, origins {', '.join(result['origins'][1:])} "
          f"(warm from the previous origin, first {result['origins'][0]}); "
          f"4 x {result['draws']} draws; tune cold {result['cold_tune']}, "
          f"warm {result['warm_tune']}")
    head = (f"{'origin':<8} {'start':<5} {'sampling s':>10} {'bulk ESS':>9} {'tail ESS':>9} "
            f"{'R-hat':>7} {'div':>4} {'ESS/s':>7} {'gate':>5}")
    print(head)
    for row in result["rows"]:
        for kind in ("cold", "warm"):
            r = row[kind]
            print(f"{row['origin']:<8} {kind:<5} {r['sampling_s']:>10.1f} "
                  f"{r['min_ess_bulk']:>9.0f} {r['min_ess_tail']:>9.0f} {r['max_rhat']:>7.4f} "
                  f"{r['divergences']:>4d} {r['ess_per_s']:>7.1f} "
                  f"{'pass' if r['gate'] else 'fail':>5}")
    print("medians of the paired ratios warm / cold:")
    for key, label in (("sampling_s", "sampling time"), ("min_ess_bulk", "min bulk ESS"),
                       ("ess_per_s", "min bulk ESS per second")):
        ratios = [row["warm"][key] / row["cold"][key] for row in result["rows"]]
        print(f"  {label:<24} {statistics.median(ratios):.2f}  "
              f"({', '.join(f'{x:.2f}' for x in ratios)})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--origins", type=at_least(2), default=4,
                        help="months cut from the end of the data, the first fitted cold only")
    parser.add_argument("--warm-tune", type=at_least(1), default=300)
    parser.add_argument("--draws", type=at_least(1), default=1000)
    parser.add_argument("--seed", type=at_least(0), default=20261202)
    parser.add_argument("--out", help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    finish(run(args.origins, args.warm_tune, args.draws, args.seed), report, args.out)


if __name__ == "__main__":
    sys.exit(main())
