"""Tuning steps of a cold fit: the monthly run's 1000 against fewer, with the same seeds in the
same run.

    python benchmarks/tuning.py [--tune 1000 500 300] [--seeds 6] [--first-seed 202603]
                                [--draws 1000] [--data DIR] [--out FILE]

The embedded data (or ``--data``: a folder with ``observations.csv`` and ``signals.toml``, as
``forecast run --data`` reads it) are fitted with the default spec through one
:class:`forecast.compiled.CompiledFitter` (compiled once), 4 chains × ``--draws`` draws, from
nutpie's default start, once per seed and number of tuning steps. The first number of
``--tune`` is the baseline; the seeds are ``--seeds`` in a row from ``--first-seed`` (by
default the monthly run's); the order of the settings turns with each seed, so a drift in the
machine's speed does not fall on one setting. Printed per fit and as medians: sampling time
(tuning included), min bulk and tail ESS and max R-hat over every quantity, divergences, min
bulk ESS per second, whether the fit passes the monthly run's gate; then, per setting, the
medians of the paired ratios against the baseline and the count of fits that pass.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from arguments import at_least  # beside this script
from results import finish, fit_row  # beside this script

FIRST_SEED = 202603  # the monthly run's seed


def run(tunes: list[int], seeds: int, draws: int, first_seed: int = FIRST_SEED,
        data: str | None = None) -> dict:
    import forecast
    from forecast.compiled import CompiledFitter

    panel = (forecast.load_default() if data is None
             else forecast.load_panel(f"{data}/observations.csv"))
    fitter = CompiledFitter("default", share_cache=False)
    seed_list = list(range(first_seed, first_seed + seeds))
    rows = []
    for i, seed in enumerate(seed_list):
        order = tunes[i % len(tunes):] + tunes[:i % len(tunes)]
        for tune in order:
            fit = fitter.fit(panel, draws=draws, tune=tune, chains=4, seed=seed, warn=False)
            row = {"seed": seed, "tune": tune, **fit_row(fit)}
            rows.append(row)
            print(f"seed {seed} tune {tune:>5}: {row['sampling_s']:.1f} s, "
                  f"bulk ESS {row['min_ess_bulk']:.0f}, R-hat {row['max_rhat']:.4f}, "
                  f"{'pass' if row['gate'] else 'fail'}", flush=True)
    return {"data": data or "embedded", "tunes": tunes, "draws": draws, "seeds": seed_list,
            "rows": rows}


def report(result: dict) -> None:
    base = result["tunes"][0]
    rows = result["rows"]
    print(f"{result.get('data', 'embedded')} data, default spec, 4 x {result['draws']} draws, "
          f"seeds {result['seeds'][0]}-{result['seeds'][-1]}; baseline tune {base}")
    print(f"{'tune':>5} {'sampling s':>10} {'bulk ESS':>9} {'tail ESS':>9} {'R-hat':>7} "
          f"{'div':>4} {'ESS/s':>7} {'gate':>6}   (medians; gate: fits that pass)")
    for tune in result["tunes"]:
        mine = [r for r in rows if r["tune"] == tune]
        med = {k: statistics.median(r[k] for r in mine)
               for k in ("sampling_s", "min_ess_bulk", "min_ess_tail", "max_rhat",
                         "divergences", "ess_per_s")}
        passed = sum(r["gate"] for r in mine)
        print(f"{tune:>5} {med['sampling_s']:>10.1f} {med['min_ess_bulk']:>9.0f} "
              f"{med['min_ess_tail']:>9.0f} {med['max_rhat']:>7.4f} {med['divergences']:>4.0f} "
              f"{med['ess_per_s']:>7.1f} {passed:>3}/{len(mine)}")
    by = {(r["seed"], r["tune"]): r for r in rows}
    print(f"medians of the paired ratios against tune {base}:")
    for tune in result["tunes"][1:]:
        for key, label in (("sampling_s", "sampling time"), ("min_ess_bulk", "min bulk ESS"),
                           ("ess_per_s", "min bulk ESS per second")):
            ratios = [by[s, tune][key] / by[s, base][key] for s in result["seeds"]]
            print(f"  tune {tune:>5} {label:<24} {statistics.median(ratios):.2f}  "
                  f"({', '.join(f'{x:.2f}' for x in ratios)})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tune", type=at_least(1), nargs="+", default=[1000, 500, 300],
                        help="numbers of tuning steps, the first the baseline")
    parser.add_argument("--seeds", type=at_least(1), default=6)
    parser.add_argument("--first-seed", type=at_least(0), default=FIRST_SEED)
    parser.add_argument("--draws", type=at_least(1), default=1000)
    parser.add_argument("--data", help="a folder with observations.csv and signals.toml "
                        "(default: the embedded data)")
    parser.add_argument("--out", help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    if len(set(args.tune)) != len(args.tune):
        parser.error("--tune: each number once")
    if args.data is not None and not os.path.isfile(os.path.join(args.data, "observations.csv")):
        parser.error(f"--data {args.data}: no observations.csv in it")
    finish(run(args.tune, args.seeds, args.draws, args.first_seed, args.data), report, args.out)


if __name__ == "__main__":
    sys.exit(main())
