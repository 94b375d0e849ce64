"""Rebuild the embedded default dataset's derived observations from the raw public extracts.

Usage (from the repository root)::

    python scripts/build_default_data.py                 # reads ../shared/data, writes data/
    python scripts/build_default_data.py --shared PATH   # raw extracts elsewhere
    python scripts/build_default_data.py --check        # verify data/ is up to date, write nothing

What it does
------------
* Reads the raw extracts in ``../shared/data`` (UNGA roll calls, SIPRI military expenditure,
  the SIPRI arms-transfer trade register, troopdata) and derives five signals per ally:

  ``un_agreement``     annual   share of UNGA roll calls with the same vote as the U.S.
  ``milex_share_gdp``  annual   SIPRI military expenditure, % of GDP
  ``us_arms_share``    annual   U.S. share of arms imports (TIV) in the delivery year
  ``rival_arms``       annual   any delivery from China or Russia that year (0/1)
  ``us_troops``        quarterly log10 U.S. active-duty personnel at each DMDC report

* Writes ``data/observations.csv`` (long table ``ally,period,signal,value,source``, sorted by
  signal, ally, period; a missing row means "not observed", never zero).
* Validates the hand-curated ``data/events.csv`` and ``data/signals.toml`` against each other
  (the event log is curated by hand and not rewritten here).
* Prints a coverage table (allies x signals: years covered, share of ally-periods observed) and
  writes the same table into ``data/SOURCES.md`` between the ``coverage:start``/``coverage:end``
  markers.

Only pandas, numpy and the standard library are used. The output is deterministic: rerunning
on the same inputs gives byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"

FIRST_YEAR = 2000          # the panel starts in 2000-01; earlier raw data are not used
FORECAST_MONTH = "2026-10"  # nothing may be dated after the forecast month

# ally code -> names used by each raw source
ALLIES = {
    #       UNGA ISO2, OWID entity,    SIPRI recipient, troopdata iso3c
    "JPN": ("JP", "Japan", "Japan", "JPN"),
    "KOR": ("KR", "South Korea", "South Korea", "KOR"),
    "AUS": ("AU", "Australia", "Australia", "AUS"),
    "PHL": ("PH", "Philippines", "Philippines", "PHL"),
}
RIVAL_SUPPLIERS = ("China", "Russia")

SRC_UN = "Voeten UNGA voting data via R package unvotes (MIT)"
SRC_MILEX = "SIPRI Military Expenditure Database via Our World in Data (2022)"
SRC_ARMS = "SIPRI Arms Transfers Database trade register (generated 2026-02-12)"
SRC_TROOPS = "troopdata (Allen, Flynn & Machain 2022; DMDC)"

# decimals written per signal (fixed, so that output is byte-stable)
DECIMALS = {"un_agreement": 4, "milex_share_gdp": 2, "us_arms_share": 4, "us_troops": 4,
            "rival_arms": 0}

COVERAGE_START = "<!-- coverage:start (written by scripts/build_default_data.py) -->"
COVERAGE_END = "<!-- coverage:end -->"


def log(msg: str = "") -> None:
    print(msg, file=sys.stderr)


# ---------------------------------------------------------------------------------- UNGA votes
def build_un_agreement(shared: Path) -> pd.DataFrame:
    """Annual share of roll calls where the ally voted as the U.S. did (both present)."""
    votes = pd.read_csv(shared / "un_votes" / "un_votes.csv", dtype=str, keep_default_na=False)
    calls = pd.read_csv(shared / "un_votes" / "un_roll_calls.csv", dtype=str,
                        keep_default_na=False, usecols=["rcid", "date"])
    calls["date"] = pd.to_datetime(calls["date"], format="%Y-%m-%d")
    calls["year"] = calls["date"].dt.year
    # A calendar year is complete only if the data run past it (they end in 2020-01).
    last_complete = int(calls["date"].max().year) - 1
    us = votes.loc[votes["country_code"] == "US", ["rcid", "vote"]].rename(columns={"vote": "us"})
    if us["rcid"].duplicated().any():
        raise SystemExit("un_votes: duplicate U.S. votes per roll call")
    rows = []
    for ally, (iso2, *_rest) in ALLIES.items():
        v = votes.loc[votes["country_code"] == iso2, ["rcid", "vote"]]
        if v["rcid"].duplicated().any():
            raise SystemExit(f"un_votes: duplicate votes for {iso2}")
        m = v.merge(us, on="rcid").merge(calls[["rcid", "year"]], on="rcid")
        m = m[(m["year"] >= FIRST_YEAR) & (m["year"] <= last_complete)]
        g = m.assign(same=(m["vote"] == m["us"])).groupby("year")["same"].agg(["mean", "size"])
        for year, r in g.iterrows():
            rows.append((ally, f"{year:d}", "un_agreement", float(r["mean"]),
                         f"{SRC_UN}; {int(r['size'])} roll calls"))
    log(f"un_agreement: years {FIRST_YEAR}-{last_complete} (data end {calls['date'].max().date()})")
    return _frame(rows)


# ---------------------------------------------------------------------------------- SIPRI milex
def build_milex(shared: Path) -> pd.DataFrame:
    df = pd.read_csv(shared / "sipri_milex" / "sipri_milex_owid.csv")
    rows = []
    for ally, (_iso2, entity, *_rest) in ALLIES.items():
        d = df[(df["Entity"] == entity) & (df["Year"] >= FIRST_YEAR)]
        d = d[np.isfinite(d["military_expenditure_share_gdp"])]
        if d["Year"].duplicated().any():
            raise SystemExit(f"sipri_milex: duplicate years for {entity}")
        for _, r in d.sort_values("Year").iterrows():
            rows.append((ally, f"{int(r['Year']):d}", "milex_share_gdp",
                         float(r["military_expenditure_share_gdp"]), SRC_MILEX))
    return _frame(rows)


# ---------------------------------------------------------------------------------- SIPRI arms
TRADE_REGISTER_COLUMNS = [
    "SIPRI AT Database ID", "Supplier", "Recipient", "Designation", "Description",
    "Armament category", "Order date", "Order date is estimate", "Numbers delivered",
    "Numbers delivered is estimate", "Delivery year", "Delivery year is estimate", "Status",
    "SIPRI estimate", "TIV deal unit", "TIV delivery values", "Local production",
]


def read_trade_register(path: Path) -> pd.DataFrame:
    """Parse the SIPRI trade-register export.

    The file opens with an 11-line preamble (notes, source, generation date), then a header
    line; every line ends with ``;`` (and CRLF). Fields are comma-separated.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.startswith("SIPRI AT Database ID"))
    if header_at != 11:
        raise SystemExit(f"trade register: expected an 11-line preamble, header at line {header_at}")
    body = []
    for i, line in enumerate(lines[header_at:], start=header_at + 1):
        if not line.strip():
            continue
        if not line.endswith(";"):
            raise SystemExit(f"trade register line {i}: row does not end with ';'")
        body.append(line[:-1])
    reader = csv.reader(io.StringIO("\n".join(body)))
    header = next(reader)
    if header != TRADE_REGISTER_COLUMNS:
        raise SystemExit(f"trade register: unexpected columns {header}")
    records = []
    for n, rec in enumerate(reader, start=header_at + 2):
        if len(rec) != len(header):
            raise SystemExit(f"trade register line {n}: {len(rec)} fields, expected {len(header)}")
        records.append(rec)
    df = pd.DataFrame(records, columns=header)
    df["year"] = df["Delivery year"].astype(int)
    # A '0' TIV means a delivery worth between 0 and 0.5 million TIV (the register's convention).
    df["tiv"] = df["TIV delivery values"].astype(float)
    return df


def build_arms(shared: Path) -> pd.DataFrame:
    reg = read_trade_register(shared / "sipri_arms" / "trade_register_1995_2025.csv")
    last_year = int(reg["year"].max())
    names = {v[2]: k for k, v in ALLIES.items()}
    reg = reg[reg["Recipient"].isin(names) & (reg["year"] >= FIRST_YEAR)]
    _arms_sanity(reg)
    rows = []
    for recipient, ally in sorted(names.items(), key=lambda kv: kv[1]):
        d = reg[reg["Recipient"] == recipient]
        total = d.groupby("year")["tiv"].sum()
        us = d[d["Supplier"] == "United States"].groupby("year")["tiv"].sum()
        rival = set(d.loc[d["Supplier"].isin(RIVAL_SUPPLIERS), "year"])
        for year in range(FIRST_YEAR, last_year + 1):
            t = float(total.get(year, 0.0))
            if t > 0:
                share = float(us.get(year, 0.0)) / t
                rows.append((ally, f"{year:d}", "us_arms_share", share,
                             f"{SRC_ARMS}; total {t:.2f}m TIV"))
            rows.append((ally, f"{year:d}", "rival_arms", 1.0 if year in rival else 0.0,
                         f"{SRC_ARMS}; deliveries from China/Russia"))
    log(f"us_arms_share / rival_arms: delivery years {FIRST_YEAR}-{last_year}")
    return _frame(rows)


def _arms_sanity(reg: pd.DataFrame) -> None:
    """Check the parse against SIPRI's published 2016-20 supplier shares (Trends in International
    Arms Transfers, 2020 fact sheet: U.S. share of imports about 97% Japan, 69% Australia)."""
    d = reg[(reg["year"] >= 2016) & (reg["year"] <= 2020)]
    tot = d.groupby("Recipient")["tiv"].sum()
    us = d[d["Supplier"] == "United States"].groupby("Recipient")["tiv"].sum()
    share = (us / tot).round(3)
    log("arms sanity, U.S. share of imports 2016-20: " + ", ".join(
        f"{k} {v:.1%}" for k, v in share.sort_index().items()))
    if not (0.93 <= share["Japan"] <= 1.0 and 0.6 <= share["Australia"] <= 0.78):
        raise SystemExit("trade register parse fails the published 2016-20 share check")


# ---------------------------------------------------------------------------------- troops
QUARTER_OF_MONTH = {"March": 1, "June": 2, "September": 3, "December": 4}
JUNE_INFLATED = range(2014, 2022)  # June reports 2014-2021: inflated for every ally in the source
# Australia and the Philippines from the June 2024 report on: both fall at once and stay flat
# (PHL 310 -> 46 in one quarter; AUS 300-315 against 1,854-2,243 in the same seasons of 2022-23),
# while U.S. rotations through Darwin and the EDCA sites went on; a change in how rotational
# personnel are reported, not a drawdown
REPORTING_BREAK = {"AUS": (2024, 2), "PHL": (2024, 2)}


def build_troops(shared: Path) -> pd.DataFrame:
    df = pd.read_csv(shared / "us_troops" / "us_troops_in_allies_long.csv")
    df = df[df["iso3c"].isin([v[3] for v in ALLIES.values()]) & (df["year"] >= FIRST_YEAR)].copy()
    # Keep the DMDC quarterly reports only ("<Month> <Year>"); drop the annual 'Kane 2006'
    # (Heritage) series, which is placed at June and is on a different footing, and rows
    # without a source or with zero troops (missing reports, not zero troops).
    is_dmdc = df["source"].fillna("").str.fullmatch(r"(March|June|September|December) \d{4}")
    df = df[is_dmdc & (df["troops_ad"] > 0)].copy()
    df["year"] = df["year"].astype(int)
    df["q"] = df["month"].map(QUARTER_OF_MONTH)
    if df["q"].isna().any() or (df["q"] != df["quarter"]).any():
        raise SystemExit("us_troops: report month and quarter disagree")
    if df.duplicated(["iso3c", "year", "q"]).any():
        raise SystemExit("us_troops: two reports for one ally-quarter")
    # Evidence for the June exclusion: each June 2014-2021 report against the mean of the
    # March and September reports of the same year.
    ratios = []
    for (iso, year), g in df[df["year"].isin(JUNE_INFLATED)].groupby(["iso3c", "year"]):
        by_q = g.set_index("q")["troops_ad"]
        if 2 in by_q and 1 in by_q and 3 in by_q:
            ratios.append(by_q[2] / ((by_q[1] + by_q[3]) / 2))
    log(f"us_troops: June 2014-21 reports are {min(ratios):.2f}-{max(ratios):.2f} x the mean of "
        f"March and September (n={len(ratios)}); dropped")
    if min(ratios) < 1.3:
        raise SystemExit("us_troops: a June 2014-21 report is not inflated; revisit the exclusion")
    after_break = pd.Series(False, index=df.index)
    for iso, (year, q) in REPORTING_BREAK.items():
        mine = df[df["iso3c"] == iso].set_index(["year", "q"])["troops_ad"]
        before, after = mine.get((year, q - 1)), mine.get((year, q))
        log(f"us_troops: {iso} {year}-Q{q - 1} {before:.0f} -> {year}-Q{q} {after:.0f}, "
            f"{before / after:.1f}x; the reports from {year}-Q{q} on are dropped")
        after_break |= (df["iso3c"] == iso) & (df["year"] * 4 + df["q"] >= year * 4 + q)
    drop = (df["year"].isin(JUNE_INFLATED) & (df["q"] == 2)) | after_break
    df = df[~drop]
    iso_to_ally = {v[3]: k for k, v in ALLIES.items()}
    rows = []
    for _, r in df.sort_values(["iso3c", "year", "q"]).iterrows():
        rows.append((iso_to_ally[r["iso3c"]], f"{r['year']:d}-Q{int(r['q'])}", "us_troops",
                     math.log10(float(r["troops_ad"])),
                     f"{SRC_TROOPS}; report {r['source']}: {int(r['troops_ad'])} active duty"))
    return _frame(rows)


# ---------------------------------------------------------------------------------- assembly
def _frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["ally", "period", "signal", "value", "source"])


def format_observations(obs: pd.DataFrame) -> str:
    obs = obs.sort_values(["signal", "ally", "period"], kind="mergesort").reset_index(drop=True)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["ally", "period", "signal", "value", "source"])
    for r in obs.itertuples(index=False):
        nd = DECIMALS[r.signal]
        value = f"{int(round(r.value)):d}" if nd == 0 else f"{round(r.value, nd):.{nd}f}"
        w.writerow([r.ally, r.period, r.signal, value, r.source])
    return out.getvalue()


def check_observations(obs: pd.DataFrame, catalog: dict) -> None:
    signals = catalog["signals"]
    allies = catalog["allies"]
    patterns = {"annual": r"\d{4}", "quarterly": r"\d{4}-Q[1-4]", "monthly": r"\d{4}-\d{2}"}
    for r in obs.itertuples(index=False):
        spec = signals.get(r.signal)
        if spec is None or "events" in spec:
            raise SystemExit(f"observations: signal {r.signal!r} not a data signal in the catalog")
        if r.ally not in allies:
            raise SystemExit(f"observations: unknown ally {r.ally!r}")
        if not re.fullmatch(patterns[spec["frequency"]], r.period):
            raise SystemExit(f"observations: period {r.period!r} does not match {spec['frequency']}")
        if not math.isfinite(r.value):
            raise SystemExit(f"observations: non-finite value for {r.ally} {r.period} {r.signal}")
        if spec["family"] == "bernoulli" and r.value not in (0.0, 1.0):
            raise SystemExit(f"observations: bernoulli value {r.value} for {r.signal}")
        if int(r.period[:4]) > int(FORECAST_MONTH[:4]):
            raise SystemExit(f"observations: {r.period} is after the forecast month")
    if obs.duplicated(["ally", "period", "signal"]).any():
        raise SystemExit("observations: duplicate (ally, period, signal)")


def check_events(path: Path, catalog: dict) -> pd.DataFrame:
    raw = path.read_bytes().decode("utf-8")
    ev = pd.read_csv(io.StringIO(raw), dtype=str, keep_default_na=False)
    if list(ev.columns) != ["date", "ally", "event_type", "description", "source"]:
        raise SystemExit(f"events: unexpected columns {list(ev.columns)}")
    types = {e for s in catalog["signals"].values() for e in s.get("events", [])}
    start = catalog["event_log"]["start"]
    end = catalog["event_log"].get("end", FORECAST_MONTH)
    for i, r in enumerate(ev.itertuples(index=False), start=2):
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?", r.date):
            raise SystemExit(f"events line {i}: bad date {r.date!r}")
        if len(r.date) == 10:
            pd.Timestamp(r.date)  # raises on impossible dates such as 2021-02-30
        month = r.date[:7]
        if not (start <= month <= end) or month > FORECAST_MONTH:
            raise SystemExit(f"events line {i}: {r.date} outside the log's span {start}..{end}")
        if r.ally not in catalog["allies"]:
            raise SystemExit(f"events line {i}: unknown ally {r.ally!r}")
        if r.event_type not in types:
            raise SystemExit(f"events line {i}: event type {r.event_type!r} not mapped in the catalog")
        if not r.description.strip() or not r.source.strip():
            raise SystemExit(f"events line {i}: empty description or source")
    if ev.duplicated().any():
        raise SystemExit("events: duplicate rows")
    return ev


# ---------------------------------------------------------------------------------- coverage
def coverage_table(obs: pd.DataFrame, events: pd.DataFrame, catalog: dict) -> str:
    """Markdown table: for each signal and ally, the periods observed and their share of the
    panel's periods from 2000 to the forecast month (event-log signals: every month of the
    log's span counts as observed, zero or not)."""
    first_m = pd.Period(f"{FIRST_YEAR}-01", "M")
    last_m = pd.Period(FORECAST_MONTH, "M")
    n_periods = {
        "monthly": (last_m - first_m).n + 1,
        "quarterly": (last_m.asfreq("Q") - first_m.asfreq("Q")).n + 1,
        "annual": (last_m.asfreq("Y") - first_m.asfreq("Y")).n + 1,
    }
    log_start = catalog["event_log"]["start"]
    log_end = catalog["event_log"].get("end", FORECAST_MONTH)
    log_months = (pd.Period(log_end, "M") - pd.Period(log_start, "M")).n + 1
    lines = ["| signal | freq | " + " | ".join(catalog["allies"]) + " |",
             "|---|---|" + "---|" * len(catalog["allies"])]
    for name, spec in catalog["signals"].items():
        cells = []
        for ally in catalog["allies"]:
            if "events" in spec:
                n_ev = int(events[(events["ally"] == ally)
                                  & events["event_type"].isin(spec["events"])].shape[0])
                cells.append(f"{log_start}..{log_end}, "
                             f"{log_months / n_periods['monthly']:.0%}; {n_ev} events")
                continue
            d = obs[(obs["signal"] == name) & (obs["ally"] == ally)]
            if d.empty:
                cells.append("none")
                continue
            share = len(d) / n_periods[spec["frequency"]]
            cells.append(f"{d['period'].min()}..{d['period'].max()}, {len(d)} obs, {share:.0%}")
        lines.append(f"| {name} | {spec['frequency']} | " + " | ".join(cells) + " |")
    denom = ", ".join(f"{k} {v}" for k, v in n_periods.items())
    lines.append("")
    lines.append(f"Share = observed ally-periods / periods from {FIRST_YEAR} to {FORECAST_MONTH} "
                 f"({denom}). Event-log signals are observed (zero or positive) in every month "
                 f"from {log_start} to {log_end}. `forecast validate` counts the periods up to "
                 f"the data's last month, {log_end}, so its shares are a little higher.")
    return "\n".join(lines) + "\n"


def replace_coverage(sources_md: str, table: str) -> str:
    if COVERAGE_START not in sources_md or COVERAGE_END not in sources_md:
        raise SystemExit("data/SOURCES.md lacks the coverage markers")
    head, rest = sources_md.split(COVERAGE_START, 1)
    _old, tail = rest.split(COVERAGE_END, 1)
    return f"{head}{COVERAGE_START}\n{table}{COVERAGE_END}{tail}"


# ---------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data",
                    help="folder with the raw extracts (default: ../shared/data)")
    ap.add_argument("--check", action="store_true",
                    help="rebuild in memory and fail if data/ differs; write nothing")
    args = ap.parse_args(argv)
    shared = args.shared.resolve()
    if not shared.is_dir():
        raise SystemExit(f"raw extracts not found: {shared}")

    catalog = tomllib.loads((DATA / "signals.toml").read_text(encoding="utf-8"))
    obs = pd.concat([build_un_agreement(shared), build_milex(shared), build_arms(shared),
                     build_troops(shared)], ignore_index=True)
    check_observations(obs, catalog)
    events = check_events(DATA / "events.csv", catalog)

    obs_text = format_observations(obs)
    table = coverage_table(obs, events, catalog)
    sources_path = DATA / "SOURCES.md"
    sources_text = replace_coverage(sources_path.read_text(encoding="utf-8"), table)

    print(table, end="")
    outputs = {DATA / "observations.csv": obs_text, sources_path: sources_text}
    if args.check:
        stale = [p.name for p, text in outputs.items()
                 if not p.exists() or p.read_text(encoding="utf-8") != text]
        if stale:
            raise SystemExit(f"out of date: {', '.join(stale)} (run scripts/build_default_data.py)")
        log("data/ is up to date")
        return 0
    for path, text in outputs.items():
        path.write_bytes(text.encode("utf-8"))
    log(f"wrote {len(obs)} observations and the coverage table ({len(events)} events checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
